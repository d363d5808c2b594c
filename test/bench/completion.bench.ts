// Inline-completion benchmark: replays typing over real source files nobody here wrote (packages in
// node_modules, the system's Python library), keystroke by keystroke in real time, through the
// CompletionCore and the real engine process on the fixture model, and reports what makes completions feel
// instant: cache-served keystrokes, prompt tokens evaluated per call, latency, own overhead.
//   node --import tsx test/bench/completion.bench.ts [--chars N] [--quick] [--verbose] [--only NAME]
// Two kinds of trace per file:
//   real  — the user types the file's own text and accepts (Tab) a suggestion that matches what
//           comes next; with random weights that almost never happens, so this measures the miss path;
//   along — the user types along whatever is suggested (type-through), then goes on with the file:
//           the path of a user who likes the suggestions. Stated in the output as `mode`.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import { join, resolve } from 'node:path';

import { CompletionCore, defaultCompletionSettings, type CompletionOutcome } from '../../src/completion/core';
import { EngineClient } from '../../src/engine/client';
import type { Backend, EngineSettings, RequestStats } from '../../src/engine/protocol';
import { nullLogger } from '../../src/logger';
import { buildBundles, fixtures, workerPath } from '../engine/helpers';

const root = join(__dirname, '..', '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const verbose = args.includes('--verbose');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const charsArg = args.indexOf('--chars');
// --wait: a newer keystroke waits for the engine call in flight instead of cancelling it
// (CompletionCoreOptions.cancelSuperseded false).
const cancelSuperseded = !args.includes('--wait');
const outArg = args.includes('--out') ? args[args.indexOf('--out') + 1] : undefined;
const charsPerTrace = charsArg >= 0 ? Number(args[charsArg + 1]) : quick ? 40 : 120;

interface SourceFile {
  name: string;
  path: string;
  languageId: string;
  /** Where in the file the user starts typing (the first line starting with this text). */
  startAt: RegExp;
}

const files: SourceFile[] = [
  {
    name: 'lru-cache/index.js',
    path: join(root, 'node_modules/lru-cache/dist/commonjs/index.js'),
    languageId: 'javascript',
    startAt: /^ {4}set\(k, v, setOptions = \{\}\) \{$/m,
  },
  {
    name: 'entities/decode.ts',
    path: join(root, 'node_modules/markdown-it/node_modules/entities/src/decode.ts'),
    languageId: 'typescript',
    startAt: /^export function determineBranch\(/m,
  },
  { name: 'mocha/mocha.css', path: join(root, 'node_modules/mocha/mocha.css'), languageId: 'css', startAt: /^#mocha \.test pre \{$/m },
  {
    name: 'python/textwrap.py',
    path: '/usr/lib/python3.11/textwrap.py',
    languageId: 'python',
    startAt: /^ {4}def _split\(self, text\):$/m,
  },
];

/** Typing rhythm: ~8 characters a second, a short pause after a word, a longer one after a line. */
function intervalAfter(ch: string): number {
  if (ch === '\n') return 600;
  if (ch === ' ' || ch === ';' || ch === ',') return 250;
  return 120;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The engine, recording the stats of every call that finished. */
function recording(engine: Backend, calls: RequestStats[]): Backend {
  return {
    ...engine,
    kind: engine.kind,
    info: () => engine.info(),
    onState: (l) => engine.onState(l),
    completeFim: async (r, o) => {
      const result = await engine.completeFim(r, o);
      calls.push(result.stats);
      if (verbose) {
        const { promptTokens, evaluatedTokens, totalMs } = result.stats;
        console.log(
          `  call: ${evaluatedTokens}/${promptTokens} tokens evaluated, ${totalMs.toFixed(0)} ms, prompt …${JSON.stringify(r.prompt.slice(-40))}`,
        );
      }
      return result;
    },
  };
}

interface TraceResult {
  file: string;
  languageId: string;
  mode: 'real' | 'along';
  keystrokes: number;
  acceptedChars: number;
  suggestionsShown: number;
  modelCalls: number;
  prefetchCalls: number;
  cacheServed: number;
  cacheServedFraction: number;
  skipped: number;
  cancelled: number;
  /** Model calls that finished (the rest were cancelled by a newer keystroke). */
  finishedCalls: number;
  promptTokens: number;
  evaluatedTokens: number;
  warmPromptTokens: number;
  warmEvaluatedTokens: number;
  promptTokensPerCall: number;
  evaluatedTokensPerCall: number;
  prefillRatio: number;
  /** The same without each trace's first call (the document's cold start). */
  prefillRatioWarm: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  overheadP50Ms: number;
  overheadP95Ms: number;
  modelCallP50Ms: number;
}

async function trace(engine: Backend, file: SourceFile, mode: 'real' | 'along'): Promise<TraceResult> {
  const original = await readFile(file.path, 'utf8');
  const match = file.startAt.exec(original);
  if (!match) throw new Error(`${file.name}: start line not found`);
  const start = match.index + match[0].length + 1;
  // The typed region ends at a line end, so the text after it starts on a line of its own.
  const end = original.indexOf('\n', start + charsPerTrace * 3);
  const target = original.slice(start, end === -1 ? original.length : end);
  const after = original.slice(start + target.length);
  const before = original.slice(0, start);

  const calls: RequestStats[] = [];
  const backend = recording(engine, calls);
  const settings = { ...defaultCompletionSettings, maxTokens: 24, speculative: 'off' as const };
  const core = new CompletionCore({ backend: () => backend, settings: () => settings, cancelSuperseded });
  const uri = `file:///bench/${file.name}`;

  let typed = '';
  let targetIndex = 0;
  let visible: { at: number; text: string } | undefined;
  let previous: AbortController | undefined;
  const outcomes: Array<{ outcome: CompletionOutcome; latencyMs: number }> = [];
  const pending: Promise<void>[] = [];
  let keystrokes = 0;
  let acceptedChars = 0;
  let shown = 0;

  while (keystrokes < charsPerTrace && targetIndex < target.length) {
    // Decide the next keystroke from what is on screen now.
    let insert: string;
    if (visible && visible.at === typed.length && mode === 'real' && target.startsWith(visible.text, targetIndex)) {
      insert = visible.text; // Tab
      acceptedChars += insert.length;
      targetIndex += insert.length;
    } else if (visible && visible.at === typed.length && mode === 'along') {
      insert = visible.text[0];
    } else {
      insert = target[targetIndex++];
    }
    typed += insert;
    keystrokes++;
    visible = undefined;

    previous?.abort();
    const controller = new AbortController();
    previous = controller;
    const text = before + typed + after;
    const offset = before.length + typed.length;
    const at = typed.length;
    const started = performance.now();
    pending.push(
      core
        .provide(
          { text, offset, languageId: file.languageId, uri, path: file.name, repoName: 'bench', trigger: 'automatic' },
          controller.signal,
        )
        .then((outcome) => {
          outcomes.push({ outcome, latencyMs: performance.now() - started });
          if (outcome.items[0] && at === typed.length) {
            visible = { at, text: outcome.items[0].text };
            shown++;
          }
        }),
    );
    await sleep(intervalAfter(insert[insert.length - 1]));
  }
  previous?.abort();
  await Promise.all(pending);
  core.dispose();

  const answered = outcomes.filter((o) => o.outcome.source !== 'skipped');
  const served = answered.filter((o) => o.outcome.source === 'cache' || o.outcome.source === 'typeThrough');
  const shownLatency = outcomes.filter((o) => o.outcome.source !== 'skipped' && o.outcome.source !== 'cancelled').map((o) => o.latencyMs);
  const promptTokens = calls.reduce((s, c) => s + c.promptTokens, 0);
  const evaluated = calls.reduce((s, c) => s + c.evaluatedTokens, 0);
  const warm = calls.slice(1);
  const warmPrompt = warm.reduce((s, c) => s + c.promptTokens, 0);
  const warmEvaluated = warm.reduce((s, c) => s + c.evaluatedTokens, 0);
  return {
    file: file.name,
    languageId: file.languageId,
    mode,
    keystrokes,
    acceptedChars,
    suggestionsShown: shown,
    modelCalls: core.counters.modelCalls,
    prefetchCalls: core.counters.prefetchCalls,
    cacheServed: served.length,
    cacheServedFraction: answered.length ? served.length / answered.length : 0,
    skipped: outcomes.length - answered.length,
    cancelled: core.counters.cancelled,
    finishedCalls: calls.length,
    promptTokens,
    evaluatedTokens: evaluated,
    warmPromptTokens: warmPrompt,
    warmEvaluatedTokens: warmEvaluated,
    promptTokensPerCall: calls.length ? promptTokens / calls.length : 0,
    evaluatedTokensPerCall: calls.length ? evaluated / calls.length : 0,
    prefillRatio: promptTokens ? evaluated / promptTokens : 0,
    prefillRatioWarm: warmPrompt ? warmEvaluated / warmPrompt : 0,
    latencyP50Ms: percentile(shownLatency, 50),
    latencyP95Ms: percentile(shownLatency, 95),
    overheadP50Ms: percentile(
      outcomes.map((o) => o.outcome.overheadMs),
      50,
    ),
    overheadP95Ms: percentile(
      outcomes.map((o) => o.outcome.overheadMs),
      95,
    ),
    modelCallP50Ms: percentile(
      calls.map((c) => c.totalMs),
      50,
    ),
  };
}

function table(rows: TraceResult[]): string {
  const columns: Array<[string, (r: TraceResult) => string]> = [
    ['file', (r) => r.file],
    ['mode', (r) => r.mode],
    ['keys', (r) => String(r.keystrokes)],
    ['calls', (r) => `${r.modelCalls}+${r.prefetchCalls}`],
    ['cache%', (r) => (r.cacheServedFraction * 100).toFixed(0)],
    ['shown', (r) => String(r.suggestionsShown)],
    ['acc', (r) => String(r.acceptedChars)],
    ['prompt', (r) => r.promptTokensPerCall.toFixed(0)],
    ['eval', (r) => r.evaluatedTokensPerCall.toFixed(1)],
    ['prefill', (r) => r.prefillRatio.toFixed(3)],
    ['warm', (r) => r.prefillRatioWarm.toFixed(3)],
    ['call p50', (r) => r.modelCallP50Ms.toFixed(0)],
    ['p50ms', (r) => r.latencyP50Ms.toFixed(0)],
    ['p95ms', (r) => r.latencyP95Ms.toFixed(0)],
    ['own p50', (r) => r.overheadP50Ms.toFixed(2)],
    ['own p95', (r) => r.overheadP95Ms.toFixed(2)],
  ];
  const cells = [columns.map(([h]) => h), ...rows.map((r) => columns.map(([, f]) => f(r)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  buildBundles();
  const paths = await fixtures();
  const settings: EngineSettings = {
    modelPath: paths.model,
    speculative: 'off',
    contextSize: 8192,
    sequences: 4,
    threads: 0,
    batchSize: 512,
    gpu: 'auto',
    adapters: [],
  };
  const engine = new EngineClient(settings, nullLogger, { workerPath });
  const info = await engine.info();
  const rows: TraceResult[] = [];
  try {
    for (const file of files) {
      if (only && !file.name.includes(only)) continue;
      if (!existsSync(file.path)) {
        console.log(`(skipping ${file.name}: ${file.path} is not on this machine)`);
        continue;
      }
      for (const mode of ['real', 'along'] as const) {
        const row = await trace(engine, file, mode);
        rows.push(row);
        console.log(
          `${row.file} ${row.mode}: ${row.keystrokes} keys, ${row.modelCalls} model calls, cache ${(row.cacheServedFraction * 100).toFixed(0)}%`,
        );
      }
    }
  } finally {
    await engine.dispose();
  }
  const sum = (pick: (r: TraceResult) => number, rs = rows) => rs.reduce((s, r) => s + pick(r), 0);
  const summarize = (rs: TraceResult[]) => ({
    keystrokes: sum((r) => r.keystrokes, rs),
    modelCalls: sum((r) => r.modelCalls, rs),
    prefetchCalls: sum((r) => r.prefetchCalls, rs),
    finishedCalls: sum((r) => r.finishedCalls, rs),
    cacheServedFraction:
      sum((r) => r.cacheServed, rs) /
      Math.max(
        1,
        sum((r) => r.keystrokes - r.skipped, rs),
      ),
    promptTokensPerCall:
      sum((r) => r.promptTokens, rs) /
      Math.max(
        1,
        sum((r) => r.finishedCalls, rs),
      ),
    prefillRatio:
      sum((r) => r.evaluatedTokens, rs) /
      Math.max(
        1,
        sum((r) => r.promptTokens, rs),
      ),
    prefillRatioWarm:
      sum((r) => r.warmEvaluatedTokens, rs) /
      Math.max(
        1,
        sum((r) => r.warmPromptTokens, rs),
      ),
    modelCallP50Ms: percentile(rs.map((r) => r.modelCallP50Ms).filter(Number.isFinite), 50),
    latencyP50Ms: percentile(rs.map((r) => r.latencyP50Ms).filter(Number.isFinite), 50),
    latencyP95Ms: Math.max(...rs.map((r) => r.latencyP95Ms).filter(Number.isFinite)),
    overheadP50Ms: percentile(
      rs.map((r) => r.overheadP50Ms),
      50,
    ),
    overheadP95Ms: Math.max(...rs.map((r) => r.overheadP95Ms)),
  });
  const summary = {
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism(), gpu: info.gpu, gpuDevices: info.gpuDeviceNames },
    model: { name: info.modelName, path: paths.model.slice(root.length + 1), note: 'fixture model: random weights, real Qwen tokenizer' },
    engine: 'EngineClient → engine process (node-llama-cpp) over JSON-RPC, speculative off',
    typing: 'real time: 120 ms per character, 250 ms after space/;/, , 600 ms after a newline; each keystroke cancels the previous request',
    charsPerTrace,
    cancelSuperseded,
    definitions: {
      cacheServedFraction: 'keystrokes answered from the completion cache (exact or type-through) / keystrokes not skipped',
      prefillRatio: 'prompt tokens evaluated / prompt tokens, over all model calls that finished (1 = every call cold)',
      prefillRatioWarm: "the same without each trace's first finished call (the document's cold start)",
      latency:
        'keystroke to answer (debounce included) for keystrokes answered before the next keystroke (not cancelled or skipped); NaN when none was',
      modelCallMs: 'engine call time (prompt evaluation + generation + IPC) of finished calls',
      overhead: "the extension's own time per request: total minus engine call, debounce and model-info wait",
      modes: 'real: types the file, accepts a suggestion only if it matches the file; along: types along whatever is suggested',
    },
    goals: { cacheServedFractionAlong: 0.4, prefillRatio: 0.1, overheadP50Ms: 5 },
    real: summarize(rows.filter((r) => r.mode === 'real')),
    along: summarize(rows.filter((r) => r.mode === 'along')),
    traces: rows,
  };
  console.log('\n' + table(rows) + '\n');
  console.log(`real : ${JSON.stringify(summary.real)}`);
  console.log(`along: ${JSON.stringify(summary.along)}`);
  const out = outArg ? resolve(root, outArg) : join(root, 'test', 'bench', 'results', 'completion.json');
  await mkdir(join(root, 'test', 'bench', 'results'), { recursive: true });
  await writeFile(out, JSON.stringify(summary, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
