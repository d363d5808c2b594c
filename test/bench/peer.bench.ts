// "Beat the peer": Enclave's inline-completion path beside llama.cpp's own llama-server, on the same
// GGUF, the same machine, the same threads, one run, keystroke by keystroke, interleaved.
//   npm run bench:peer  [-- --keys N] [--files N] [--quick] [--no-spec] [--no-profile] [--no-prompt-eval]
// Sides, per keystroke (order rotated every keystroke so neither side always runs first):
//   enclave  — CompletionCore.provide → EngineClient → engine process (dist/worker.js) → node-llama-cpp,
//              cache and post-processing included (the whole path the editor waits on);
//   infill   — llama-server POST /infill, cache_prompt, --cache-reuse 256 (llama.vscode's path), given
//              exactly the prefix / suffix / line-prefix / extra-chunk texts the core put in its prompt;
//   same     — llama-server POST /completion with the core's prompt string itself (identical tokens,
//              identical layout) on a second server process: the engine-against-engine comparison.
// Then a profile of where Enclave's time goes (peer/profile.ts) and a speculative-decoding reference
// (peer/speculative.ts). Writes test/bench/results/peer.json.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import { join } from 'node:path';

import { ExtraContextRing } from '../../src/completion/extraContext';
import { CompletionCore, defaultCompletionSettings, type CompletionOutcome, type CompletionSettings } from '../../src/completion/core';
import { buildPrompt, CharsPerTokenEstimator } from '../../src/completion/prompt';
import { fimTemplate } from '../../src/completion/templates';
import { EngineClient } from '../../src/engine/client';
import type { Backend, EngineSettings, FimRequest, GenerationResult, RequestOptions } from '../../src/engine/protocol';
import { nullLogger } from '../../src/logger';
import { ensureFixtures } from '../fixtures/generate';
import { ensureLlamaServer, llamaCppTag, startLlamaServer, timedRequest, type RunningServer, type ServerAnswer } from './peer/llamaServer';
import { profileEnclave, windowExperiment } from './peer/profile';
import { promptEvalExperiment } from './peer/promptEval';
import { speculativeReference } from './peer/speculative';
import { mean, percentile } from './peer/stats';
import { extraChunks, makeTrace, sourceFiles, type Trace } from './peer/traces';

const root = join(__dirname, '..', '..');
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const num = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const quick = flag('--quick');
const KEYS = num('--keys', quick ? 12 : 40);
const FILES = num('--files', quick ? 2 : 4);
const EXTRA_FILES = num('--extra-files', quick ? 1 : 2);
/** Same on both sides. */
const THREADS = 1;
const CONTEXT = 4096;
const UBATCH = 512;
const SERVER_BATCH = 2048;
const N_PREDICT = num('--n-predict', 16);
const CONTEXT_TOKENS = defaultCompletionSettings.contextTokens;

/** The EngineClient as a Backend that records every completeFim call (prompt, stats, raw text, wall time). */
interface FimCall {
  request: FimRequest;
  result: GenerationResult;
  wallMs: number;
}
function recording(client: EngineClient, calls: FimCall[]): Backend {
  return {
    kind: 'local',
    info: () => client.info(),
    completeFim: async (request: FimRequest, options?: RequestOptions) => {
      const started = performance.now();
      const result = await client.completeFim(request, options);
      calls.push({ request, result, wallMs: performance.now() - started });
      return result;
    },
    chat: (r, o) => client.chat(r, o),
    generateStructured: (r, o) => client.generateStructured(r, o),
    countTokens: (t) => client.countTokens(t),
    setAdapters: (a) => client.setAdapters(a),
    metrics: () => client.metrics(),
    onState: (l) => client.onState(l),
    dispose: () => client.dispose(),
  };
}

type ServerSide = ServerAnswer;

interface KeySample {
  index: number;
  typed: string;
  enclaveMs: number;
  source: CompletionOutcome['source'];
  /** Set when Enclave called the model for this keystroke. */
  model?: {
    promptTokens: number;
    evaluatedTokens: number;
    generatedTokens: number;
    engineMs: number;
    ttftMs: number;
    queuedMs: number;
    clientWallMs: number;
    coreOverheadMs: number;
    stopReason: string;
    promptMatchesBench: boolean;
    raw: string;
  };
  infillMs: number;
  infill: ServerSide;
  sameMs?: number;
  same?: ServerSide;
  /**
   * The trace's first keystroke again, on the same text opened as another document that was warmed
   * first (enclave.completion.warmOnOpen: the prompt evaluated while the user reads, nothing
   * generated): what the user feels after opening a file and starting to type. Cold sample only.
   */
  opened?: { warmed: boolean; warmMs: number; enclaveMs: number; evaluatedTokens?: number; promptTokens?: number };
}

const ensureNewline = (t: string) => (t.endsWith('\n') ? t : t + '\n');

/** One editor session: one CompletionCore for all traces, as the extension has (its cache and its
 *  chars-per-token estimator live across documents); settings and extra chunks change per trace. */
interface Session {
  core: CompletionCore;
  calls: FimCall[];
  settings: CompletionSettings;
  ring: ExtraContextRing;
}

function newSession(client: EngineClient): Session {
  const calls: FimCall[] = [];
  const backend = recording(client, calls);
  const settings: CompletionSettings = {
    ...defaultCompletionSettings,
    maxTokens: N_PREDICT,
    maxTimeMs: 60_000,
    debounceMs: 0,
    extraContext: false,
    speculative: 'off',
  };
  const ring = new ExtraContextRing();
  const core = new CompletionCore({ backend: () => backend, settings: () => settings, ring, prefetchAccepted: false });
  return { core, calls, settings, ring };
}

async function runTrace(
  trace: Trace,
  extra: boolean,
  session: Session,
  infillServer: RunningServer,
  sameServer: RunningServer | undefined,
  files: ReturnType<typeof sourceFiles>,
): Promise<KeySample[]> {
  const { core, calls, settings, ring } = session;
  settings.extraContext = extra;
  for (const chunk of ring.chunks()) ring.removeUri(chunk.uri);
  if (extra) for (const chunk of extraChunks(files, trace.file)) ring.add(chunk);
  const template = fimTemplate('qwen');
  const samples: KeySample[] = [];
  try {
    for (let i = 0; i < trace.keystrokes.length; i++) {
      const key = trace.keystrokes[i];
      // The prompt the core is about to build (same function, same estimator state): the texts the
      // server gets. Checked against the prompt the core really sent whenever it called the model.
      const build = () =>
        buildPrompt(
          template,
          {
            text: key.text,
            offset: key.offset,
            languageId: trace.file.languageId,
            path: trace.file.name,
            repoName: 'myproject',
            files: extra ? ring.chunks(trace.uri) : [],
          },
          { contextTokens: settings.contextTokens, extraTokens: extra ? Math.floor(settings.contextTokens / 2) : 0 },
          new CharsPerTokenEstimator(core.estimatorFor(trace.file.languageId).ratio),
          core.windowHint(trace.uri),
        );
      let built = build();
      const stop = [...template.stop];

      const runEnclave = async () => {
        const before = calls.length;
        const started = performance.now();
        const outcome = await core.provide({
          text: key.text,
          offset: key.offset,
          languageId: trace.file.languageId,
          uri: trace.uri,
          path: trace.file.name,
          repoName: 'myproject',
          trigger: 'automatic',
        });
        const ms = performance.now() - started;
        const call = calls.length > before ? calls[calls.length - 1] : undefined;
        return { ms, outcome, call };
      };
      const runInfill = () =>
        timedRequest(infillServer, '/infill', {
          input_prefix: built.prefix,
          input_suffix: built.suffix,
          prompt: built.linePrefix,
          input_extra: built.files.map((f) => ({ filename: f.path, text: ensureNewline(f.text) })),
          n_predict: N_PREDICT,
          temperature: 0,
          top_k: 1,
          cache_prompt: true,
          stop,
        });
      const runSame = async () =>
        sameServer
          ? timedRequest(sameServer, '/completion', {
              prompt: built.prompt,
              n_predict: N_PREDICT,
              temperature: 0,
              top_k: 1,
              cache_prompt: true,
              stop,
            })
          : undefined;

      // Interleaved, rotating who goes first; never two at once (the cores are shared).
      let e: Awaited<ReturnType<typeof runEnclave>> | undefined;
      let f: Awaited<ReturnType<typeof runInfill>> | undefined;
      let s: Awaited<ReturnType<typeof runSame>>;
      const order = [async () => (e = await runEnclave()), async () => (f = await runInfill()), async () => (s = await runSame())];
      for (let j = 0; j < order.length; j++) {
        await order[(i + j) % order.length]();
        // A new document's first keystroke (Enclave goes first there): the core sized its windows
        // with the token count it measured for the language just now, so the servers get the
        // prompt built with that measurement — the very tokens Enclave evaluated.
        if (i === 0 && j === 0) built = build();
      }
      if (!e || !f) throw new Error('a side did not run');

      const sample: KeySample = {
        index: i,
        typed: key.typed,
        enclaveMs: e.ms,
        source: e.outcome.source,
        infillMs: f.ms,
        infill: f,
      };
      if (e.outcome.source === 'model' && e.call) {
        const st = e.call.result.stats;
        sample.model = {
          promptTokens: st.promptTokens,
          evaluatedTokens: st.evaluatedTokens,
          generatedTokens: st.generatedTokens,
          engineMs: st.totalMs,
          ttftMs: st.timeToFirstTokenMs,
          queuedMs: st.queuedMs,
          clientWallMs: e.call.wallMs,
          coreOverheadMs: e.outcome.overheadMs,
          stopReason: st.stopReason,
          promptMatchesBench: e.call.request.prompt === built.prompt,
          raw: e.call.result.text,
        };
      }
      if (s) {
        sample.sameMs = s.ms;
        sample.same = s;
      }
      samples.push(sample);
    }
  } finally {
    // The same file comes again with extra context: its keystrokes must not be answered from this trace's cache.
    core.cache.clear();
  }
  if (samples[0]) samples[0].opened = await openedKeystroke(trace, session);
  return samples;
}

/** The trace's first keystroke on its text opened afresh (a document key of its own, so a sequence
 *  with nothing of it cached) after a warm-up of the text before that keystroke. */
async function openedKeystroke(trace: Trace, session: Session): Promise<NonNullable<KeySample['opened']>> {
  const { core, calls } = session;
  const first = trace.keystrokes[0];
  const doc = { languageId: trace.file.languageId, uri: `${trace.uri}?opened`, path: trace.file.name, repoName: 'myproject' };
  const warmStarted = performance.now();
  const before = first.text.slice(0, first.offset - first.typed.length) + first.text.slice(first.offset);
  const warmed = (await core.warm({ ...doc, text: before, offset: first.offset - first.typed.length })) !== undefined;
  const warmMs = performance.now() - warmStarted;
  const callsBefore = calls.length;
  const started = performance.now();
  await core.provide({ ...doc, text: first.text, offset: first.offset, trigger: 'automatic' });
  const enclaveMs = performance.now() - started;
  const call = calls.length > callsBefore ? calls[calls.length - 1] : undefined;
  core.cache.clear();
  return {
    warmed,
    warmMs,
    enclaveMs,
    evaluatedTokens: call?.result.stats.evaluatedTokens,
    promptTokens: call?.result.stats.promptTokens,
  };
}

interface SideSummary {
  n: number;
  medianMs: number;
  p95Ms: number;
  meanMs: number;
}
function side(values: number[]): SideSummary {
  return { n: values.length, medianMs: percentile(values, 50), p95Ms: percentile(values, 95), meanMs: mean(values) };
}

function openedSummary(cold: KeySample[]) {
  const opened = cold.filter((s) => s.opened?.warmed && s.sameMs !== undefined);
  const enclaveMs = mean(opened.map((s) => s.opened!.enclaveMs));
  const sameMs = mean(opened.map((s) => s.sameMs!));
  return {
    n: opened.length,
    warmUpMs: mean(opened.map((s) => s.opened!.warmMs)),
    enclaveMs,
    enclaveEvaluated: mean(opened.map((s) => s.opened!.evaluatedTokens ?? NaN)),
    enclavePromptTokens: mean(opened.map((s) => s.opened!.promptTokens ?? NaN)),
    sameColdMs: sameMs,
    ratioSameTokens: enclaveMs / sameMs,
  };
}

function summarize(samples: KeySample[]) {
  // The first keystroke of a trace is cold on every side (a new document): reported apart.
  const warm = samples.filter((s) => s.index > 0);
  const cold = samples.filter((s) => s.index === 0);
  const modelKeys = warm.filter((s) => s.model);
  const withSame = warm.filter((s) => s.sameMs !== undefined);
  const ratio = (a: SideSummary, b: SideSummary) => ({ median: a.medianMs / b.medianMs, p95: a.p95Ms / b.p95Ms });
  const all = {
    enclave: side(warm.map((s) => s.enclaveMs)),
    infill: side(warm.map((s) => s.infillMs)),
    same: side(withSame.map((s) => s.sameMs!)),
  };
  const calls = {
    enclave: side(modelKeys.map((s) => s.enclaveMs)),
    infill: side(modelKeys.map((s) => s.infillMs)),
    same: side(modelKeys.filter((s) => s.sameMs !== undefined).map((s) => s.sameMs!)),
  };
  const comparable = modelKeys.filter((s) => s.same);
  return {
    keystrokes: samples.length,
    warmKeystrokes: warm.length,
    enclaveModelCalls: modelKeys.length,
    enclaveCacheServed: warm.filter((s) => s.source === 'cache' || s.source === 'typeThrough').length,
    enclaveOtherSources: warm
      .filter((s) => s.source !== 'model' && s.source !== 'cache' && s.source !== 'typeThrough')
      .map((s) => s.source),
    cold: {
      enclaveMs: mean(cold.map((s) => s.enclaveMs)),
      infillMs: mean(cold.map((s) => s.infillMs)),
      sameMs: mean(cold.filter((s) => s.sameMs !== undefined).map((s) => s.sameMs!)),
      enclaveEvaluated: mean(cold.filter((s) => s.model).map((s) => s.model!.evaluatedTokens)),
      infillPromptN: mean(cold.map((s) => s.infill.promptN)),
      // Where Enclave's cold keystroke goes: the engine's own time (time to first token within it),
      // the client's wall time for the call, and everything else in the core (e.g. the first
      // prompt in a language measures its token count with one countTokens call).
      enclaveEngineMs: mean(cold.filter((s) => s.model).map((s) => s.model!.engineMs)),
      enclaveTtftMs: mean(cold.filter((s) => s.model).map((s) => s.model!.ttftMs)),
      enclaveClientWallMs: mean(cold.filter((s) => s.model).map((s) => s.model!.clientWallMs)),
      sameServerPromptMs: mean(cold.filter((s) => s.same).map((s) => s.same!.promptMs)),
      sameServerPromptN: mean(cold.filter((s) => s.same).map((s) => s.same!.promptN)),
      sameServerCacheN: mean(cold.filter((s) => s.same).map((s) => s.same!.cacheN)),
      promptMatchesBench: `${cold.filter((s) => s.model?.promptMatchesBench).length}/${cold.filter((s) => s.model).length}`,
    },
    // The first keystroke after the document was opened and warmed (see KeySample.opened), against
    // the same server's cold keystroke on identical tokens (it has no warm-up).
    coldAfterWarmUp: openedSummary(cold),
    allKeystrokes: { ...all, ratio: ratio(all.enclave, all.infill), ratioSameTokens: ratio(all.enclave, all.same) },
    modelCallsOnly: { ...calls, ratio: ratio(calls.enclave, calls.infill), ratioSameTokens: ratio(calls.enclave, calls.same) },
    promptTokens: {
      enclavePerCall: mean(modelKeys.map((s) => s.model!.promptTokens)),
      infillPerRequest: mean(warm.map((s) => s.infill.tokensEvaluated)),
      samePerRequest: mean(withSame.map((s) => s.same!.tokensEvaluated)),
    },
    evaluatedTokens: {
      enclaveMean: mean(modelKeys.map((s) => s.model!.evaluatedTokens)),
      enclaveMedian: percentile(
        modelKeys.map((s) => s.model!.evaluatedTokens),
        50,
      ),
      infillMean: mean(warm.map((s) => s.infill.promptN)),
      infillMedian: percentile(
        warm.map((s) => s.infill.promptN),
        50,
      ),
      sameMean: mean(withSame.map((s) => s.same!.promptN)),
      sameMedian: percentile(
        withSame.map((s) => s.same!.promptN),
        50,
      ),
      // Requests that re-evaluated more than 100 prompt tokens (a moved window, a new line, ...).
      enclaveOver100: modelKeys.filter((s) => s.model!.evaluatedTokens > 100).length,
      infillOver100: warm.filter((s) => s.infill.promptN > 100).length,
      sameOver100: withSame.filter((s) => s.same!.promptN > 100).length,
      enclaveOver100Typed: countBy(modelKeys.filter((s) => s.model!.evaluatedTokens > 100).map((s) => JSON.stringify(s.typed))),
    },
    generatedTokens: {
      enclaveMean: mean(modelKeys.map((s) => s.model!.generatedTokens)),
      infillMean: mean(warm.map((s) => s.infill.predictedN)),
      sameMean: mean(withSame.map((s) => s.same!.predictedN)),
    },
    perToken: {
      // Generation time per token after the first: Enclave's engine-side stats vs the server's own.
      enclaveDecodeMs: mean(
        modelKeys
          .filter((s) => s.model!.generatedTokens > 1)
          .map((s) => (s.model!.engineMs - s.model!.ttftMs) / (s.model!.generatedTokens - 1)),
      ),
      infillDecodeMs: mean(warm.filter((s) => s.infill.predictedN > 0).map((s) => s.infill.predictedMs / s.infill.predictedN)),
      sameDecodeMs: mean(withSame.filter((s) => s.same!.predictedN > 0).map((s) => s.same!.predictedMs / s.same!.predictedN)),
    },
    enclaveBreakdownMs: {
      engineTotal: mean(modelKeys.map((s) => s.model!.engineMs)),
      timeToFirstToken: mean(modelKeys.map((s) => s.model!.ttftMs)),
      queued: mean(modelKeys.map((s) => s.model!.queuedMs)),
      ipcAndSerialization: mean(modelKeys.map((s) => s.model!.clientWallMs - s.model!.engineMs - s.model!.queuedMs)),
      coreOverhead: mean(modelKeys.map((s) => s.model!.coreOverheadMs)),
    },
    serverBreakdownMs: {
      infillPrompt: mean(warm.map((s) => s.infill.promptMs)),
      infillPredicted: mean(warm.map((s) => s.infill.predictedMs)),
      infillHttpAndOther: mean(warm.map((s) => s.infillMs - s.infill.promptMs - s.infill.predictedMs)),
      samePrompt: mean(withSame.map((s) => s.same!.promptMs)),
      samePredicted: mean(withSame.map((s) => s.same!.predictedMs)),
    },
    checks: {
      promptMatchesBench: `${modelKeys.filter((s) => s.model!.promptMatchesBench).length}/${modelKeys.length}`,
      sameTokenCount: `${comparable.filter((s) => s.same!.tokensEvaluated === s.model!.promptTokens).length}/${comparable.length}`,
      sameRawOutput: `${comparable.filter((s) => s.same!.content === s.model!.raw).length}/${comparable.filter((s) => s.same!.content !== null).length} (answers the server could send)`,
      serverHttp500InvalidUtf8: { infill: warm.filter((s) => s.infill.failed).length, same: withSame.filter((s) => s.same!.failed).length },
      stopReasons: countBy(modelKeys.map((s) => s.model!.stopReason)),
      infillStopTypes: countBy(warm.map((s) => s.infill.stop)),
    },
  };
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

type Summary = ReturnType<typeof summarize>;

function table(rows: Array<{ name: string; s: Summary }>): string {
  const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-');
  const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
  const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
  const columns: Array<[string, (r: { name: string; s: Summary }) => string]> = [
    ['trace', (r) => r.name],
    ['keys', (r) => String(r.s.warmKeystrokes)],
    ['calls', (r) => String(r.s.enclaveModelCalls)],
    ['E p50', (r) => f1(r.s.allKeystrokes.enclave.medianMs)],
    ['E p95', (r) => f1(r.s.allKeystrokes.enclave.p95Ms)],
    ['I p50', (r) => f1(r.s.allKeystrokes.infill.medianMs)],
    ['I p95', (r) => f1(r.s.allKeystrokes.infill.p95Ms)],
    ['S p50', (r) => f1(r.s.allKeystrokes.same.medianMs)],
    ['E/I p50', (r) => f2(r.s.allKeystrokes.ratio.median)],
    ['E/I p95', (r) => f2(r.s.allKeystrokes.ratio.p95)],
    ['E/S p50', (r) => f2(r.s.allKeystrokes.ratioSameTokens.median)],
    ['calls E/I', (r) => f2(r.s.modelCallsOnly.ratio.median)],
    ['E eval', (r) => f1(r.s.evaluatedTokens.enclaveMean)],
    ['I eval', (r) => f1(r.s.evaluatedTokens.infillMean)],
    ['S eval', (r) => f1(r.s.evaluatedTokens.sameMean)],
    ['E prompt', (r) => f0(r.s.promptTokens.enclavePerCall)],
    ['I prompt', (r) => f0(r.s.promptTokens.infillPerRequest)],
    ['E ms/tok', (r) => f2(r.s.perToken.enclaveDecodeMs)],
    ['I ms/tok', (r) => f2(r.s.perToken.infillDecodeMs)],
  ];
  const cells = [columns.map(([h]) => h), ...rows.map((r) => columns.map(([, fn]) => fn(r)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadAtStart = os.loadavg();
  const paths = await ensureFixtures();
  execFileSync(process.execPath, ['esbuild.js'], { cwd: root, stdio: 'pipe' });
  const binary = await ensureLlamaServer({ log: (l) => console.log(l) });

  const engineSettings: EngineSettings = {
    modelPath: paths.model,
    speculative: 'off',
    contextSize: CONTEXT,
    sequences: 4,
    threads: THREADS,
    batchSize: UBATCH,
    gpu: 'cpu',
    adapters: [],
  };
  // /infill keeps at most 3/4 of the logical batch (-b) as prefix and 1/4 minus the line prefix as
  // suffix, and only n_ctx - n_batch - 2·n_predict tokens of extra chunks: -b 2048 takes the core's
  // whole windows (1152 + 384 tokens) and leaves ~2000 tokens for the chunks (the core uses ≤ 768).
  const serverOptions = {
    model: paths.model,
    threads: THREADS,
    contextSize: CONTEXT,
    batchSize: SERVER_BATCH,
    ubatchSize: UBATCH,
    cacheReuse: 256,
  };
  const client = new EngineClient(engineSettings, nullLogger, { workerPath: join(root, 'dist', 'worker.js') });
  const servers: RunningServer[] = [];
  const rows: Array<{ name: string; extra: boolean; s: Summary; samples: KeySample[] }> = [];
  let session: Session | undefined;
  let profile: unknown;
  let speculative: unknown;
  let promptEval: unknown;
  let info;
  try {
    const infillServer = await startLlamaServer(binary, serverOptions);
    servers.push(infillServer);
    const sameServer = flag('--no-same') ? undefined : await startLlamaServer(binary, serverOptions);
    if (sameServer) servers.push(sameServer);
    info = await client.info();
    const files = sourceFiles(root);
    session = newSession(client);
    const traced = files.slice(0, FILES);
    const plans: Array<{ file: (typeof files)[number]; extra: boolean }> = [
      ...traced.map((file) => ({ file, extra: false })),
      ...traced.slice(0, EXTRA_FILES).map((file) => ({ file, extra: true })),
    ];
    for (const plan of plans) {
      const trace = makeTrace(plan.file, KEYS);
      const t0 = performance.now();
      const samples = await runTrace(trace, plan.extra, session, infillServer, sameServer, files);
      const s = summarize(samples);
      const name = `${plan.file.name}${plan.extra ? ' +extra' : ''}`;
      rows.push({ name, extra: plan.extra, s, samples });
      console.log(
        `${name}: ${samples.length} keys in ${((performance.now() - t0) / 1000).toFixed(0)} s — enclave p50 ${s.allKeystrokes.enclave.medianMs.toFixed(1)} ms, ` +
          `infill p50 ${s.allKeystrokes.infill.medianMs.toFixed(1)} ms, ratio ${s.allKeystrokes.ratio.median.toFixed(2)}`,
      );
    }
    const tail = infillServer.logLines.filter((l) => /flash_attn|n_batch|n_ubatch|n_ctx|system_info/.test(l)).slice(0, 8);
    (serverOptions as Record<string, unknown>).serverLog = tail;
  } finally {
    session?.core.dispose();
    await client.dispose();
    for (const s of servers) await s.stop();
  }

  if (!flag('--no-profile')) {
    const profileOptions = {
      root,
      modelPath: paths.model,
      binary,
      keys: quick ? 10 : 20,
      nPredict: N_PREDICT,
      context: CONTEXT,
      ubatch: UBATCH,
    };
    profile = {
      ...(await profileEnclave(profileOptions)),
      promptWindows: await windowExperiment({ ...profileOptions, keys: quick ? 10 : 30 }),
    };
  }
  if (!flag('--no-prompt-eval')) {
    // The cold keystroke's prompt, candidate settings and binaries (prebuilt / built here) beside the server.
    promptEval = await promptEvalExperiment({ modelPath: paths.model, binary, rounds: quick ? 2 : 5, reps: 2, local: true });
  }
  if (!flag('--no-spec')) {
    speculative = await speculativeReference({
      binary,
      modelPath: paths.model,
      draftPath: paths.draft,
      context: CONTEXT,
      nPredict: quick ? 16 : 32,
    });
  }

  const pooled = (extra: boolean) => summarize(rows.filter((r) => r.extra === extra).flatMap((r) => r.samples));
  const overall = { plain: pooled(false), extraContext: pooled(true) };
  console.log(
    '\n' +
      table([
        ...rows.map((r) => ({ name: r.name, s: r.s })),
        { name: 'ALL (no extra)', s: overall.plain },
        { name: 'ALL +extra', s: overall.extraContext },
      ]) +
      '\n',
  );
  console.log(
    "E = Enclave (core → EngineClient → engine process), I = llama-server /infill, S = llama-server /completion with Enclave's exact prompt; latencies in ms over warm keystrokes",
  );

  const result = {
    date: new Date().toISOString(),
    machine: {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.availableParallelism(),
      gpu: info?.gpu,
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: os.loadavg(),
    },
    model: {
      path: paths.model.slice(root.length + 1),
      note: 'fixture: qwen2 4 layers × 256, random weights, real Qwen tokenizer (151,936 tokens)',
    },
    peer: { binary: binary.slice(root.length + 1), llamaCpp: llamaCppTag(root), options: serverOptions },
    enclave: {
      engine: engineSettings,
      completion: {
        maxTokens: N_PREDICT,
        contextTokens: CONTEXT_TOKENS,
        debounceMs: 0,
        prefetchAccepted: false,
        speculative: 'off',
        maxTimeMs: 60000,
      },
    },
    method: {
      sides:
        'enclave: CompletionCore.provide (cache, prompt building, post-processing) → EngineClient (JSON-RPC over IPC) → engine process dist/worker.js → node-llama-cpp; ' +
        "infill: llama-server POST /infill with cache_prompt:true and --cache-reuse 256 (llama.vscode's recommended setup), HTTP and JSON included; " +
        "same: a second llama-server process, POST /completion with the core's prompt string (special tokens parsed), i.e. token-for-token the prompt Enclave evaluates.",
      texts:
        "Before each keystroke the bench builds the core's prompt with the core's own buildPrompt and estimator state; the server gets input_prefix = the prefix window (whole lines above the cursor line), " +
        'prompt = the cursor line up to the cursor, input_suffix = the suffix window, input_extra = the same other-file chunks (filename, text). The prompt the core really sent is compared to it (checks.promptMatchesBench). ' +
        `Differences that remain: /infill places the line prefix before <|fim_suffix|> (Enclave after <|fim_middle|>), tokenizes pieces separately, and always adds '<|repo_name|>myproject\\n<|file_sep|>filename\\n' (Enclave adds a header only with extra chunks, with the file's path); /infill cuts prefix/suffix to 3/4 and 1/4 of n_batch (minus the line prefix) and extra chunks to n_ctx - n_batch - 2·n_predict, so the server runs with -b ${SERVER_BATCH} (physical -ub stays ${UBATCH}), which cuts nothing of the core's windows (1152 + 384 tokens) or chunks (≤ 768 tokens). ` +
        "The 'same' side has no such differences: identical tokens (checks.sameTokenCount) and, greedy, identical raw output expected (checks.sameRawOutput).",
      fairness:
        `same GGUF; ${THREADS} thread on each side (server -t/-tb ${THREADS}); context ${CONTEXT} per sequence (server -np 1 -c ${CONTEXT}); physical batch ${UBATCH} on both (server -ub ${UBATCH}); ` +
        `n_predict = maxTokens = ${N_PREDICT}, greedy (temperature 0, top_k 1 on the server; Enclave's own greedy loop); Enclave's time limit raised to 60 s so both stop on the same conditions; ` +
        'one CompletionCore for the whole run, as in the editor (its chars-per-token estimators, one per language, carry over between files; its completion cache is cleared between traces); ' +
        "speculative decoding off on both; Enclave's debounce 0 and accept-prefetch off so no background request runs while another side is timed; requests strictly one at a time, " +
        'the order enclave/infill/same rotated every keystroke; the first keystroke of each trace (cold, new document) reported apart (cold) and left out of the medians.',
      cache:
        "'allKeystrokes': every warm keystroke, Enclave's completion cache included (a cache or type-through hit answers with no model call; the server always computes). " +
        "'modelCallsOnly': only keystrokes where Enclave called the model, with the server's latencies on those same keystrokes.",
      typing: `${KEYS} keystrokes per trace, one character each of the file's own text after a fixed line, sent back to back (each waits for all sides to answer); the rest of the file follows on the next line.`,
      ratio:
        'Enclave median / llama-server median (and p95 / p95); < 1 means Enclave is faster. ratioSameTokens: against the /completion side.',
    },
    overall,
    traces: rows.map((r) => ({ name: r.name, extraContext: r.extra, ...r.s })),
    profile,
    promptEval,
    speculative,
    wallSeconds: (performance.now() - started) / 1000,
  };
  const out = join(root, 'test', 'bench', 'results', 'peer.json');
  await mkdir(join(root, 'test', 'bench', 'results'), { recursive: true });
  await writeFile(out, JSON.stringify(result, null, 2) + '\n');
  console.log(
    `overall (no extra): ratio median ${overall.plain.allKeystrokes.ratio.median.toFixed(2)}, p95 ${overall.plain.allKeystrokes.ratio.p95.toFixed(2)}; vs same tokens ${overall.plain.allKeystrokes.ratioSameTokens.median.toFixed(2)}`,
  );
  console.log(
    `overall (+extra):   ratio median ${overall.extraContext.allKeystrokes.ratio.median.toFixed(2)}, p95 ${overall.extraContext.allKeystrokes.ratio.p95.toFixed(2)}`,
  );
  for (const [name, o] of Object.entries(overall)) {
    const c = o.cold;
    const w = o.coldAfterWarmUp;
    console.log(
      `cold (${name}): enclave ${c.enclaveMs.toFixed(0)} ms vs same tokens ${c.sameMs.toFixed(0)} ms (×${(c.enclaveMs / c.sameMs).toFixed(2)}); ` +
        `after a ${w.warmUpMs.toFixed(0)} ms warm-up: ${w.enclaveMs.toFixed(0)} ms, ${w.enclaveEvaluated.toFixed(0)} tokens evaluated (×${w.ratioSameTokens.toFixed(2)}, n ${w.n})`,
    );
  }
  console.log(`wrote ${out.slice(root.length + 1)} in ${result.wallSeconds.toFixed(0)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
