// The predictor's choice of model, prompt kind and context, with a scripted backend: next-edit
// requests are marked for the next-edit model, the format comes from what that model's file says,
// the instruct fallback asks for the region under a JSON schema, related excerpts stay in budget.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { FimRequest, StructuredRequest } from '../../src/engine/protocol';
import { createNextEditPredictor, type RelatedExcerpt } from '../../src/nextEdit/predictor';
import type { NextEditRequest } from '../../src/nextEdit/types';
import { FakeBackend, fakeStats } from './fakes';

const uri = 'file:///work/src/calc.ts';
const text = ['export function area(w: number, h: number) {', '  const size = w * h;', '  log(a);', '  return a;', '}'].join('\n');
const request: NextEditRequest = { uri, languageId: 'typescript', version: 3, text, cursor: { line: 1, character: 14 } };
const signal = () => new AbortController().signal;

/** The region the instruct prompt shows (between the markers, cursor marker removed). */
function regionIn(request: StructuredRequest): string {
  const user = request.messages[request.messages.length - 1].content;
  const from = user.indexOf('<|editable_region_start|>\n') + '<|editable_region_start|>\n'.length;
  return user.slice(from, user.indexOf('\n<|editable_region_end|>', from)).replace('<|user_cursor_is_here|>', '');
}

describe('next-edit predictor: model, prompt kind and context', () => {
  test('instruct: the region is asked for under a JSON schema from the next-edit engine; the JSON rewrite becomes edits', async () => {
    const backend = new FakeBackend({ structured: (r) => ({ region: regionIn(r).replace(/\ba\b/g, 'size') }) });
    const predictor = createNextEditPredictor(() => backend, { format: 'instruct' });
    const suggestion = await predictor.predict(request, signal());
    assert.deepEqual(backend.calls, ['generateStructured'], 'no free-text completion');
    const [sent] = backend.structuredRequests;
    assert.equal(sent.engine, 'nextEdit');
    assert.equal(sent.cacheKey, `nextedit:${uri}`, "the document's own KV sequence");
    assert.deepEqual((sent.schema as { required: string[] }).required, ['region']);
    assert.ok(suggestion);
    assert.deepEqual(
      suggestion.edits.map((e) => [e.range.start.line, e.range.start.character, e.newText]),
      [
        [2, 6, 'size'],
        [3, 9, 'size'],
      ],
    );
  });

  test('instruct: an answer that is not a rewrite of the region, or not the expected JSON, is no suggestion', async () => {
    const answers: unknown[] = [{ region: 'import os\nprint("unrelated")' }, { other: 1 }, 'plain text', null];
    for (const answer of answers) {
      const backend = new FakeBackend({ structured: () => answer });
      const predictor = createNextEditPredictor(() => backend, { format: 'instruct' });
      assert.equal(await predictor.predict(request, signal()), undefined, JSON.stringify(answer));
    }
    const failing = new FakeBackend({
      structured: () => {
        throw new Error('Structured output did not parse (cut off at maxTokens)');
      },
    });
    assert.equal(await createNextEditPredictor(() => failing, { format: 'instruct' }).predict(request, signal()), undefined);
  });

  test("auto: the format is detected from the next-edit model's GGUF tags (special tokens), and raw prompts are marked for it", async () => {
    const seen: FimRequest[] = [];
    const backend = new FakeBackend({
      info: { modelName: 'my-finetune', modelPath: '/m/model.gguf', modelTags: ['<|im_start|>', '<|editable_region_start|>'] },
      fim: (r) => {
        seen.push(r);
        return { text: '', stats: fakeStats({ stopReason: 'stop' }) };
      },
    });
    const predictor = createNextEditPredictor(() => backend, { format: 'auto' });
    await predictor.predict(request, signal());
    assert.equal(seen.length, 1);
    assert.ok(seen[0].prompt.startsWith('### Instruction:'), 'the Zeta format');
    assert.equal(seen[0].engine, 'nextEdit');
  });

  test('auto: detection runs again when the model files change', async () => {
    let tags = ['<|editable_region_start|>'];
    let key = 'a';
    const backend = new FakeBackend({
      info: () => ({ modelName: 'm', modelTags: tags }),
      fim: () => ({ text: '', stats: fakeStats({ stopReason: 'stop' }) }),
      structured: () => ({ region: '' }),
    });
    const predictor = createNextEditPredictor(() => backend, { format: 'auto', modelKey: () => key });
    await predictor.predict(request, signal());
    tags = [];
    await predictor.predict(request, signal());
    assert.deepEqual(backend.calls, ['info', 'completeFim', 'completeFim'], 'detected once for the same files');
    key = 'b';
    await predictor.predict(request, signal());
    assert.deepEqual(backend.calls.slice(3), ['info', 'generateStructured'], 'another model: detected again (instruct)');
  });

  test('related excerpts: other files only, whole excerpts within the token budget, in the order given', async () => {
    const excerpt = (path: string, lines: number): RelatedExcerpt => ({
      path,
      text: Array.from({ length: lines }, (_, i) => `export const ${path.replace(/\W/g, '_')}_${i} = ${i};`).join('\n'),
    });
    const found = [excerpt('src/calc.ts', 2), excerpt('src/a.ts', 2), excerpt('src/huge.ts', 400), excerpt('src/b.ts', 2)];
    const backend = new FakeBackend({ structured: (r) => ({ region: regionIn(r) }) });
    const predictor = createNextEditPredictor(() => backend, {
      format: 'instruct',
      relatedTokens: 200,
      pathOf: (u) => u.replace('file:///work/', ''),
      related: () => Promise.resolve(found),
    });
    await predictor.predict(request, signal());
    const user = backend.structuredRequests[0].messages[1].content;
    assert.ok(user.includes('src_a_ts_1') && user.includes('src_b_ts_1'), 'the small excerpts');
    assert.ok(!user.includes('src_huge_ts'), 'an excerpt over the budget is left out whole');
    assert.ok(!user.includes('src_calc_ts'), "the document's own text is not related code");
    assert.ok(user.indexOf('src_a_ts') < user.indexOf('src_b_ts'));
  });

  test('a related source that fails costs the excerpts, not the prediction', async () => {
    const backend = new FakeBackend({ structured: (r) => ({ region: regionIn(r).replace(/\ba\b/g, 'size') }) });
    const predictor = createNextEditPredictor(() => backend, { format: 'instruct', related: () => Promise.reject(new Error('no server')) });
    assert.ok(await predictor.predict(request, signal()));
  });
});
