import assert from 'node:assert/strict';
import { test } from 'node:test';

import { classifyFile } from '../../src/adapters/dataset';
import { generatedByPath } from '../../src/review/diff';

// Review and the adapter dataset each had their own lockfile list, and they had drifted (bun.lock,
// Podfile.lock, mix.lock, gradle.lockfile only in one; *.bundle.js, *.g.cs only in the other).
test('code review and the adapter dataset leave out the same lockfiles and generated names', () => {
  const names = [
    'bun.lock',
    'Podfile.lock',
    'mix.lock',
    'gradle.lockfile',
    'Cargo.lock',
    'Pipfile.lock',
    'yarn.lock',
    'app.bundle.js',
    'View.g.cs',
    'api_pb2_grpc.py',
    'x.generated.ts',
    'a.min.js',
  ];
  const code = Buffer.from('export const x = 1;\n');
  for (const name of names) {
    assert.ok(generatedByPath(`src/${name}`), `review skips ${name}`);
    const verdict = classifyFile(`src/${name}`, code);
    assert.equal(verdict.include, false, `the dataset leaves out ${name}`);
  }
  for (const name of ['lock.ts', 'yarn.lock.md', 'bundle.ts']) {
    assert.equal(generatedByPath(`src/${name}`), undefined, `review keeps ${name}`);
    assert.equal(classifyFile(`src/${name}`, code).include, true, `the dataset keeps ${name}`);
  }
});
