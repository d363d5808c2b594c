// The predictor with a scripted backend (the model's answers are written by the test, so what is
// checked is the mechanics: prompt → engine request → parsed rewrite → edits, and every way of
// giving no suggestion). The engine path with a real model is in test/engine/nextedit.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { FimRequest, GenerationResult } from '../../src/engine/protocol';
import { createNextEditPredictor } from '../../src/nextEdit/predictor';
import type { DocumentChange, NextEditRequest } from '../../src/nextEdit/types';
import { FakeBackend, fakeStats } from './fakes';

const START = '<|editable_region_start|>\n';
const END = '\n<|editable_region_end|>';

/** The editable region (cursor marker included) of a Zeta prompt, as the model sees it. */
function regionOf(prompt: string): string {
  const from = prompt.indexOf(START) + START.length;
  return prompt.slice(from, prompt.indexOf(END, from));
}

/** A model that rewrites the region with `rewrite` and ends at the region end marker. */
const model =
  (rewrite: (region: string) => string, stats = {}) =>
  (request: FimRequest): GenerationResult => ({
    text: rewrite(regionOf(request.prompt)) + '\n',
    stats: fakeStats({ stopReason: 'stop', ...stats }),
  });

const uri = 'file:///work/src/calc.ts';
const before = ['export function area(w: number, h: number) {', '  const a = w * h;', '  log(a);', '  return a;', '}'].join('\n');
const after = before.replace('const a =', 'const size =');

function change(text: string, version: number): DocumentChange {
  return { uri, languageId: 'typescript', version, changes: [], textAfter: text };
}

const request = (text: string, line = 1, character = 14, over: Partial<NextEditRequest> = {}): NextEditRequest => ({
  uri,
  languageId: 'typescript',
  version: 3,
  text,
  cursor: { line, character },
  ...over,
});

function renamed(region: string): string {
  return region.replace(/\ba\b(?!\s*=)/g, 'size').replace('log(size);', 'log(size);<|user_cursor_is_here|>');
}

describe('createNextEditPredictor', () => {
  test('after a rename, the model’s rewrite becomes minimal edits on the other uses, with the predicted cursor', async () => {
    const backend = new FakeBackend({ fim: model((r) => renamed(r.replace('<|user_cursor_is_here|>', ''))) });
    const predictor = createNextEditPredictor(() => backend, { format: 'zeta' });
    predictor.recordChange(change(before, 1));
    predictor.recordChange(change(after, 2));
    const suggestion = await predictor.predict(request(after), new AbortController().signal);
    assert.ok(suggestion);
    assert.equal(suggestion.version, 3);
    assert.deepEqual(
      suggestion.edits.map((e) => [e.range.start.line, e.range.start.character, e.range.end.character, e.newText]),
      [
        [2, 6, 7, 'size'],
        [3, 9, 10, 'size'],
      ],
    );
    assert.deepEqual(suggestion.cursor, { line: 2, character: 12 });
    const [sent] = backend.fimRequests;
    assert.equal(sent.documentKey, `nextedit:${uri}`);
    assert.equal(sent.speculative, 'lookup');
    assert.ok(sent.prompt.includes('-  const a = w * h;\n+  const size = w * h;'), 'the edit history is in the prompt');
  });

  test('the format is detected from the model name when the setting is auto', async () => {
    const backend = new FakeBackend({ info: { modelName: 'Sweep Next Edit 1.5B' }, fim: () => ({ text: '', stats: fakeStats() }) });
    const predictor = createNextEditPredictor(() => backend);
    await predictor.predict(request(after), new AbortController().signal);
    assert.ok(backend.fimRequests[0].prompt.includes('<|file_sep|>current/work/src/calc.ts'));
    assert.deepEqual(backend.fimRequests[0].stop, ['<|file_sep|>']);
  });

  test('no suggestion: unchanged region, not a rewrite, cut off by the token limit, engine error, undo of the last edit', async () => {
    const outcomes: [string, (req: FimRequest) => GenerationResult][] = [
      ['unchanged', model((r) => r)],
      ['chat answer', model(() => 'Sure! I would rename the variable everywhere in this function for you.')],
      ['truncated', model(renamed, { stopReason: 'maxTokens' })],
      [
        'engine error',
        () => {
          throw new Error('engine crashed');
        },
      ],
      ['undo', model((r) => r.replace('const size =', 'const a ='))],
    ];
    for (const [name, fim] of outcomes) {
      const predictor = createNextEditPredictor(() => new FakeBackend({ fim }), { format: 'zeta' });
      predictor.recordChange(change(before, 1));
      predictor.recordChange(change(after, 2));
      assert.equal(await predictor.predict(request(after), new AbortController().signal), undefined, name);
    }
  });

  test('documents it cannot handle are answered without asking the engine', async () => {
    const backend = new FakeBackend({ fim: model(renamed) });
    const predictor = createNextEditPredictor(() => backend, { format: 'zeta' });
    const signal = new AbortController().signal;
    assert.equal(await predictor.predict(request('x'.repeat(1_100_000), 0, 0), signal), undefined, 'huge');
    const minified = 'const a = 1;\n' + 'var b=1;'.repeat(13_000) + '\n';
    assert.equal(await predictor.predict(request(minified, 0, 3), signal), undefined, 'minified line in the region');
    const cell = request(after, 1, 14, { uri: 'vscode-notebook-cell:/work/n.ipynb#W0sZmlsZQ%3D%3D' });
    assert.equal(await predictor.predict(cell, signal), undefined, 'notebook cell');
    assert.equal(await predictor.predict(request(after, 99, 0), signal), undefined, 'cursor outside the document');
    assert.equal(backend.fimRequests.length, 0);
  });

  test('a newer request for the same document cancels the one in flight', async () => {
    const backend = new FakeBackend({ fim: model(renamed) });
    backend.fimDelayMs = 200;
    const predictor = createNextEditPredictor(() => backend, { format: 'zeta' });
    const first = predictor.predict(request(after), new AbortController().signal);
    await new Promise((r) => setTimeout(r, 20));
    backend.fimDelayMs = 0;
    const second = predictor.predict(request(after), new AbortController().signal);
    assert.equal(await first, undefined);
    assert.ok(await second);
    assert.equal(backend.aborted, 1);
  });

  test('CRLF documents: edits are in document positions and new text uses CRLF', async () => {
    const crlf = after.replace(/\n/g, '\r\n');
    const backend = new FakeBackend({ fim: model((r) => r.replace('  return a;', '  return a;\n  // done')) });
    const predictor = createNextEditPredictor(() => backend, { format: 'zeta' });
    const suggestion = await predictor.predict(request(crlf), new AbortController().signal);
    assert.ok(suggestion);
    assert.equal(backend.fimRequests[0].prompt.includes('\r'), false, 'the prompt is newline-normalised');
    assert.deepEqual(suggestion.edits, [
      { range: { start: { line: 4, character: 0 }, end: { line: 4, character: 0 } }, newText: '  // done\r\n' },
    ]);
  });
});
