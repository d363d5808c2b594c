// Next-edit prediction on the real engine (in-process runtime, node-llama-cpp on the wide-margin
// fixture model, whose greedy output is the same on every CPU kernel): a next-edit model's raw
// prompt runs through completeFim with prompt-lookup drafting and gives token for token what plain
// greedy decoding gives; successive requests as the user edits reuse the document's KV cache. The
// instruct fallback's answer comes under the JSON schema's grammar. Random weights: nothing is
// asserted about what the model predicts, only that the predictor turns whatever it writes into a
// valid suggestion or none (its output is no rewrite of the region), without throwing.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EngineRuntime } from '../../src/engine/runtime';
import type { FimRequest, StructuredRequest } from '../../src/engine/protocol';
import type { NextEditFormatName } from '../../src/nextEdit/formats';
import { createNextEditPredictor, type NextEditRequestReport } from '../../src/nextEdit/predictor';
import type { NextEditSuggestion } from '../../src/nextEdit/types';
import { fixtures, settingsFor } from './helpers';

let wide: EngineRuntime;
let source: string;

before(async () => {
  const paths = await fixtures();
  wide = await EngineRuntime.load(settingsFor(paths, { modelPath: paths.wide, speculative: 'lookup', contextSize: 4096, sequences: 4 }));
  const full = await readFile(join(__dirname, '..', '..', 'src', 'nextEdit', 'history.ts'), 'utf8');
  source = full.split('\n').slice(0, 120).join('\n');
});

after(async () => {
  await wide?.dispose();
});

/** Types `word` at `offset` character by character, recording each change; returns the text. */
function typeInto(
  predictor: ReturnType<typeof createNextEditPredictor>,
  uri: string,
  text: string,
  offset: number,
  word: string,
  version: number,
) {
  for (const ch of word) {
    text = text.slice(0, offset) + ch + text.slice(offset);
    offset++;
    predictor.recordChange({ uri, languageId: 'typescript', version: ++version, changes: [], textAfter: text });
  }
  return { text, offset, version };
}

/**
 * Types each of `words` after `maxTokens` in `source` and asks for a prediction after each (the
 * suggestion checked against the text), running `between` after every prediction.
 */
async function typeAndPredict(
  predictor: ReturnType<typeof createNextEditPredictor>,
  uri: string,
  start: { text: string; version: number },
  words: string[],
  between: () => Promise<unknown> = async () => undefined,
): Promise<void> {
  let { text, version } = start;
  let offset = text.indexOf('maxTokens: 1200') + 'maxTokens'.length;
  for (const word of words) {
    ({ text, offset, version } = typeInto(predictor, uri, text, offset, word, version));
    const suggestion = await predictor.predict(
      { uri, languageId: 'typescript', version, text, cursor: position(text, offset) },
      new AbortController().signal,
    );
    checkSuggestion(suggestion, text, version);
    await between();
  }
}

function position(text: string, offset: number) {
  const lines = text.slice(0, offset).split('\n');
  return { line: lines.length - 1, character: lines[lines.length - 1].length };
}

function checkSuggestion(s: NextEditSuggestion | undefined, text: string, version: number): void {
  if (!s) return;
  assert.equal(s.version, version);
  assert.ok(s.edits.length > 0);
  const lines = text.split('\n');
  for (const e of s.edits) {
    assert.ok(e.range.start.line < lines.length && e.range.end.line < lines.length);
    assert.ok(e.range.end.character <= lines[e.range.end.line].length);
  }
}

describe('next-edit prediction on the engine', () => {
  for (const format of ['zeta', 'sweep', 'instinct'] as NextEditFormatName[]) {
    it(`${format}: lookup-drafted output = plain greedy output, and the next request reuses the KV cache`, async () => {
      const reports: NextEditRequestReport[] = [];
      const predictor = createNextEditPredictor(() => wide, {
        format,
        maxTokens: 48,
        maxTimeMs: 120_000,
        onRequest: (r) => reports.push(r),
      });
      const uri = `file:///work/src/history-${format}.ts`;
      let text = source;
      let version = 1;
      predictor.recordChange({ uri, languageId: 'typescript', version, changes: [], textAfter: text });
      // Earlier edits elsewhere: the stable part of the prompt that successive requests share.
      for (const name of ['maxHunks', 'maxDocuments', 'stormLines']) {
        ({ text, version } = typeInto(predictor, uri, text, text.indexOf(name) + name.length, 'Limit', version));
      }
      await typeAndPredict(predictor, uri, { text, version }, ['Budget', 'X']);
      assert.equal(reports.length, 2);
      for (const [i, report] of reports.entries()) {
        const sent = report.request as FimRequest;
        assert.equal(sent.engine, 'nextEdit');
        const plain = await wide.completeFim({ ...sent, documentKey: `plain-${format}-${i}`, speculative: 'off' });
        assert.equal(report.output, plain.text, `request ${i}: lookup = plain`);
        assert.equal(report.stats.generatedTokens, plain.stats.generatedTokens);
        assert.equal(report.stats.stopReason, plain.stats.stopReason);
        assert.ok(report.stats.draft, 'prompt lookup was on');
      }
      const [first, second] = reports.map((r) => r.stats);
      assert.ok(first.promptTokens > 300, `a real prompt (${first.promptTokens} tokens)`);
      // Everything up to the newest hunk (instructions, older hunks) is the same text in both
      // prompts, and the second request evaluates none of it again.
      const [a, b] = reports.map((r) => (r.request as FimRequest).prompt);
      let common = 0;
      while (a[common] === b[common]) common++;
      const shared = await wide.countTokens(a.slice(0, common));
      assert.ok(a.slice(0, common).includes('maxDocumentsLimit'), 'older hunks are in the shared prefix');
      assert.ok(second.reusedTokens >= shared - 2, `reused ${second.reusedTokens} of ${shared} shared tokens`);
      assert.ok(second.evaluatedTokens <= second.promptTokens - shared + 2, 'only the changed tail is evaluated');
    });
  }

  it("instruct: the region comes as JSON under the schema's grammar, no rewrite is no suggestion, the next request reuses the KV cache", async () => {
    const reports: NextEditRequestReport[] = [];
    const predictor = createNextEditPredictor(() => wide, {
      format: 'instruct',
      maxTokens: 200,
      maxTimeMs: 120_000,
      onRequest: (r) => reports.push(r),
    });
    const uri = 'file:///work/src/history-instruct.ts';
    predictor.recordChange({ uri, languageId: 'typescript', version: 1, changes: [], textAfter: source });
    // Other structured work (a review) between two predictions keeps to its own KV sequence.
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] };
    await typeAndPredict(predictor, uri, { text: source, version: 1 }, ['Budget', 'X'], () =>
      wide.generateStructured({ messages: [{ role: 'user', content: 'Is this fine?' }], schema, maxTokens: 8 }).catch(() => undefined),
    );
    // The wide-margin model writes the same short string on every machine and ends the JSON itself.
    assert.equal(reports.length, 2, 'both answers were complete JSON');
    for (const report of reports) {
      const sent = report.request as StructuredRequest;
      assert.equal(sent.engine, 'nextEdit');
      assert.ok(sent.schema, 'a JSON schema, not a free-text code block');
      const value = JSON.parse(report.output) as { region?: unknown };
      assert.equal(typeof value.region, 'string', `the grammar's JSON: ${report.output.slice(0, 120)}`);
      // Random weights: the string is no rewrite of the region, and so no suggestion.
      if (!(value.region as string).includes('maxTokens')) assert.equal(report.suggestion, undefined);
    }
    const second = reports[1].stats;
    assert.ok(second.reusedTokens > 100, `the system prompt and older edits come from the KV cache (${second.reusedTokens} reused)`);
    assert.ok(second.evaluatedTokens < second.promptTokens);
  });
});
