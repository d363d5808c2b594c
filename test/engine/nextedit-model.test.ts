// A next-edit model set apart from the FIM model, on the real engine (two in-process runtimes,
// node-llama-cpp on the generated fixtures, behind the RoutingBackend the extension uses): a
// next-edit request is served by the next-edit model when one is set and by the FIM model
// otherwise, and the prompt format is detected from the next-edit model's GGUF. The next-edit
// model is a copy of the fixture without FIM tokens whose general.name says Zeta: it serves raw
// next-edit prompts although it could not serve a FIM completion. Random weights: only which model
// served, in which format, is asserted — not what it predicts.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EngineError, type Backend, type FimRequest } from '../../src/engine/protocol';
import { RoutingBackend } from '../../src/engine/routing';
import { detectFormat } from '../../src/nextEdit/formats';
import { EngineRuntime } from '../../src/engine/runtime';
import { createNextEditPredictor, type NextEditRequestReport } from '../../src/nextEdit/predictor';
import { fixtures, settingsFor } from './helpers';

const NO_FIM_NAME = 'Enclave test model without FIM tokens';
/** The same length, so the GGUF header keeps its layout: only general.name's bytes change. */
const ZETA_NAME = 'Zeta next-edit (Enclave test)'.padEnd(NO_FIM_NAME.length, ' ');

let dir: string;
let completion: EngineRuntime;
let nextEdit: EngineRuntime;
let zetaPath: string;

before(async () => {
  const paths = await fixtures();
  dir = await mkdtemp(join(os.tmpdir(), 'enclave-nextedit-model-'));
  const bytes = await readFile(paths.noFim);
  const at = bytes.indexOf(Buffer.from(NO_FIM_NAME));
  assert.ok(at > 0 && at < 1 << 20, 'general.name is in the header');
  bytes.write(ZETA_NAME, at, 'utf8');
  zetaPath = join(dir, 'next-edit.gguf');
  await writeFile(zetaPath, bytes);
  completion = await EngineRuntime.load(settingsFor(paths, { modelPath: paths.model, contextSize: 4096 }));
  nextEdit = await EngineRuntime.load(settingsFor(paths, { modelPath: zetaPath, contextSize: 4096 }));
});

after(async () => {
  await completion?.dispose();
  await nextEdit?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const text = [
  'export function area(width: number, height: number): number {',
  '  const size = width * height;',
  '  log(a);',
  '  return a;',
  '}',
  '',
  'function log(value: number): void {',
  '  console.log(value);',
  '}',
].join('\n');

async function predictOnce(backend: Backend): Promise<NextEditRequestReport[]> {
  const reports: NextEditRequestReport[] = [];
  const predictor = createNextEditPredictor(() => backend, {
    format: 'auto',
    maxTokens: 16,
    maxTimeMs: 120_000,
    onRequest: (r) => reports.push(r),
  });
  const uri = 'file:///work/src/area.ts';
  predictor.recordChange({ uri, languageId: 'typescript', version: 1, changes: [], textAfter: text.replace('size', 'a') });
  predictor.recordChange({ uri, languageId: 'typescript', version: 2, changes: [], textAfter: text });
  await predictor.predict(
    { uri, languageId: 'typescript', version: 2, text, cursor: { line: 1, character: 12 } },
    new AbortController().signal,
  );
  predictor.dispose();
  return reports;
}

describe('a next-edit model set apart', () => {
  it("the next-edit model's GGUF names the format, and its engine serves raw prompts without FIM tokens", async () => {
    const info = await nextEdit.info();
    assert.equal(info.modelName.trim(), ZETA_NAME.trim());
    assert.equal(info.fimFamily, null, 'no FIM tokens');
    assert.ok(info.modelTags?.includes('<|im_start|>'), "the vocabulary's special tokens are reported");
    const fim: FimRequest = { documentKey: 'fim', prompt: '<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>', maxTokens: 2 };
    await assert.rejects(nextEdit.completeFim(fim), (err: unknown) => err instanceof EngineError && err.code === 'NO_FIM');
    const raw = await nextEdit.completeFim({ documentKey: 'raw', prompt: '### Instruction:\nx', maxTokens: 2, engine: 'nextEdit' });
    assert.equal(raw.stats.generatedTokens, 2);
  });

  it('serves a next-edit request by the next-edit model when it is set, in the format its GGUF names', async () => {
    const routing = new RoutingBackend(completion, { nextEdit: { backend: nextEdit, path: zetaPath } });
    const before = [(await completion.metrics()).requests, (await nextEdit.metrics()).requests];
    const [report] = await predictOnce(routing);
    assert.ok(report, 'the prediction ran to the end');
    assert.equal(report.format, 'zeta', 'detected from general.name of the next-edit model');
    assert.ok((report.request as FimRequest).prompt.startsWith('### Instruction:'));
    assert.equal((await nextEdit.metrics()).requests, before[1] + 1, 'the next-edit model served it');
    assert.equal((await completion.metrics()).requests, before[0], 'the FIM model did not');
    routing.detach();
  });

  it('serves it by the FIM model when no next-edit model is set', async () => {
    const routing = new RoutingBackend(completion, {});
    const before = [(await completion.metrics()).requests, (await nextEdit.metrics()).requests];
    const reports: NextEditRequestReport[] = [];
    const predictor = createNextEditPredictor(() => routing, {
      format: 'zeta',
      maxTokens: 16,
      maxTimeMs: 120_000,
      onRequest: (r) => reports.push(r),
    });
    const uri = 'file:///work/src/area.ts';
    predictor.recordChange({ uri, languageId: 'typescript', version: 1, changes: [], textAfter: text });
    await predictor.predict(
      { uri, languageId: 'typescript', version: 1, text, cursor: { line: 1, character: 12 } },
      new AbortController().signal,
    );
    assert.equal(reports.length, 1);
    assert.equal((await completion.metrics()).requests, before[0] + 1, 'the FIM model served it');
    assert.equal((await nextEdit.metrics()).requests, before[1], 'the next-edit model did not');
    // Detection follows the model that serves: the FIM fixture's GGUF names no next-edit format.
    const served = await routing.info('nextEdit');
    assert.equal(served.modelPath, (await completion.info()).modelPath);
    assert.equal(detectFormat([served.modelName, ...(served.modelTags ?? [])]), 'instruct');
    routing.detach();
  });
});
