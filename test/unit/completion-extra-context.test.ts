import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ExtraContextRing, jaccard } from '../../src/completion/extraContext';

const serverTs = [
  'import http from "node:http";',
  'const server = http.createServer((req, res) => {',
  '  res.end("ok");',
  '});',
  'server.listen(8080);',
].join('\n');
const utilPy = [
  'def mean(xs):',
  '    return sum(xs) / len(xs)',
  '',
  'def median(xs):',
  '    s = sorted(xs)',
  '    return s[len(s) // 2]',
].join('\n');

test('jaccard on line sets', () => {
  assert.equal(jaccard(new Set(['a', 'b']), new Set(['a', 'b'])), 1);
  assert.equal(jaccard(new Set(['a', 'b']), new Set(['c'])), 0);
  assert.equal(jaccard(new Set(['a', 'b', 'c']), new Set(['a', 'b', 'd'])), 0.5);
});

test('near-duplicate chunks are dropped; a near-duplicate of the same file replaces it in place', () => {
  const ring = new ExtraContextRing({ capacity: 4 });
  assert.ok(ring.add({ uri: 'file:///server.ts', path: 'server.ts', text: serverTs }));
  assert.ok(ring.add({ uri: 'file:///util.py', path: 'util.py', text: utilPy }));
  const version = ring.version;
  assert.ok(!ring.add({ uri: 'file:///copy.ts', path: 'copy.ts', text: serverTs }), 'a copy from another file is dropped');
  assert.ok(!ring.add({ uri: 'file:///server.ts', path: 'server.ts', text: serverTs }), 'the same chunk again changes nothing');
  assert.equal(ring.version, version);
  const edited = serverTs.replace('server.listen(8080);', 'server.listen(8080);\nconsole.log("up");');
  assert.ok(ring.add({ uri: 'file:///server.ts', path: 'server.ts', text: edited }));
  assert.deepEqual(
    ring.chunks().map((c) => c.path),
    ['server.ts', 'util.py'],
    'replaced in place, order kept',
  );
  assert.equal(ring.chunks()[0].text, edited);
});

test('the ring keeps the newest chunks and leaves out the current document', () => {
  const ring = new ExtraContextRing({ capacity: 2 });
  ring.add({ uri: 'u1', path: 'one.ts', text: 'a\nb\nc\nd' });
  ring.add({ uri: 'u2', path: 'two.ts', text: 'e\nf\ng\nh' });
  ring.add({ uri: 'u3', path: 'three.ts', text: 'i\nj\nk\nl' });
  assert.deepEqual(
    ring.chunks().map((c) => c.path),
    ['two.ts', 'three.ts'],
  );
  assert.deepEqual(
    ring.chunks('u3').map((c) => c.path),
    ['two.ts'],
  );
  ring.removeUri('u2');
  assert.equal(ring.size, 1);
});

test('tiny chunks are not worth a place', () => {
  const ring = new ExtraContextRing();
  assert.ok(!ring.add({ uri: 'u', path: 'x.ts', text: '\n}\n' }));
});

test('addAround takes the lines around the given line', () => {
  const ring = new ExtraContextRing({ chunkLines: 4 });
  const text = Array.from({ length: 20 }, (_, i) => `line ${i}`).join('\n');
  ring.addAround('u', 'x.ts', text, 10);
  assert.equal(ring.chunks()[0].text, 'line 8\nline 9\nline 10\nline 11');
  ring.addAround('v', 'y.ts', text.replace(/line/g, 'row'), 19);
  assert.equal(ring.chunks()[1].text, 'row 16\nrow 17\nrow 18\nrow 19');
});
