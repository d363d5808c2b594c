// Cold prompt evaluation, candidate by candidate, on identical tokens: the core's first prompt for a
// new document (the cold keystroke), evaluated by node-llama-cpp the way the engine does it
// (promptEvalWorker.ts: syncPrefix's batches, then the last batch and the first token) under each candidate
// setting — batch size, threads, flash attention, sequences, KV type, mmap, the binary (prebuilt or
// built for this machine) — and by llama-server's /completion with the same token ids
// (cache_prompt false, n_predict 1). Rounds interleave every candidate and the server, order
// rotated, one at a time, so load on the shared machine falls on all of them alike.
//   node --import tsx test/bench/peer/promptEval.ts [--rounds N] [--reps N] [--no-local]
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { defaultCompletionSettings } from '../../../src/completion/core';
import { buildPrompt, CharsPerTokenEstimator } from '../../../src/completion/prompt';
import { fimTemplate } from '../../../src/completion/templates';
import { ensureFixtures } from '../../fixtures/generate';
import { ensureLlamaServer, postJson, repoRoot, startLlamaServer, type RunningServer, type ServerCompletion } from './llamaServer';
import type { EvalAnswer, EvalCandidate, EvalRequest, WorkerHello } from './promptEvalWorker';
import { percentile } from './stats';
import { makeTrace, sourceFiles } from './traces';

export interface PromptEvalOptions {
  modelPath: string;
  /** llama-server; without one the in-process candidates are compared with the first of them. */
  binary?: string;
  rounds: number;
  reps: number;
  /** Include the local (built for this machine) binary when node-llama-cpp has one. */
  local: boolean;
  /** Only the candidates whose names contain one of these (the first server always runs). */
  only?: string[];
}

/** What the engine ships today (runtime.ts createContexts with the bench's engine settings;
 *  flash attention: node-llama-cpp's default, 'auto', i.e. llama.cpp decides as llama-server's -fa auto). */
export const enclaveDefaults: EvalCandidate = { batchSize: 512, threads: 1, flashAttention: 'auto', sequences: 4, contextSize: 4096 };

interface Side {
  name: string;
  run(tokens: number[], reps: number): Promise<{ promptMs: number[]; firstTokenMs: number[]; wallMs: number[] }>;
}

class Worker {
  private readonly child: ChildProcess;
  readonly ready: Promise<WorkerHello>;
  private pending?: (m: Record<string, unknown>) => void;

  constructor(modelPath: string, binary: 'prebuilt' | 'local', mmap: boolean) {
    this.child = fork(join(__dirname, 'promptEvalWorker.ts'), [modelPath, binary, mmap ? '1' : '0'], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.ready = new Promise((resolve, reject) => {
      this.child.once('exit', (code) => reject(new Error(`prompt-eval worker exited (${code})`)));
      this.child.on('message', (m: Record<string, unknown>) => {
        if (m.hello) resolve(m.hello as WorkerHello);
        else this.pending?.(m);
      });
    });
  }

  ask<T>(request: EvalRequest): Promise<T> {
    return new Promise((resolve) => {
      this.pending = (m) => resolve(m as T);
      this.child.send(request);
    });
  }

  kill(): void {
    this.child.kill();
  }
}

function hasLocalBuild(): boolean {
  const dir = join(repoRoot, 'node_modules', 'node-llama-cpp', 'llama', 'localBuilds');
  // node-llama-cpp writes buildDone.status last (getLocalBuildBinaryPath requires it).
  return existsSync(dir) && readdirSync(dir).some((d) => existsSync(join(dir, d, 'buildDone.status')));
}

/** The core's prompt for the first keystroke of the first trace (no extra context), sized by `estimator`. */
function coldPrompt(estimator: CharsPerTokenEstimator): string {
  const file = sourceFiles(repoRoot)[0];
  const key = makeTrace(file, 1).keystrokes[0];
  const doc = { text: key.text, offset: key.offset, languageId: file.languageId, path: file.name, repoName: 'myproject', files: [] };
  return buildPrompt(fimTemplate('qwen'), doc, { contextTokens: defaultCompletionSettings.contextTokens, extraTokens: 0 }, estimator)
    .prompt;
}

export async function promptEvalExperiment(o: PromptEvalOptions) {
  const workers = new Map<string, Worker>();
  const worker = (binary: 'prebuilt' | 'local', mmap: boolean) => {
    const key = `${binary}/${mmap}`;
    let w = workers.get(key);
    if (!w) workers.set(key, (w = new Worker(o.modelPath, binary, mmap)));
    return w;
  };
  const servers: RunningServer[] = [];
  const sides: Side[] = [];
  const hellos: Record<string, WorkerHello> = {};
  const inProcess = (name: string, binary: 'prebuilt' | 'local', mmap: boolean, c: EvalCandidate): Side => ({
    name,
    async run(tokens, reps) {
      const w = worker(binary, mmap);
      hellos[`${binary}${mmap ? '' : ' (no mmap)'}`] ??= await w.ready;
      const started = performance.now();
      const a = await w.ask<{ answer: EvalAnswer }>({ candidate: c, tokens, reps });
      if (a.answer.error) throw new Error(`${name}: ${a.answer.error}`);
      const wall = (performance.now() - started) / reps;
      return { ...a.answer, wallMs: a.answer.promptMs.map(() => wall) };
    },
  });
  const serverSide = (name: string, server: RunningServer): Side => ({
    name,
    async run(tokens, reps) {
      const out = { promptMs: [] as number[], firstTokenMs: [] as number[], wallMs: [] as number[] };
      for (let r = 0; r < reps; r++) {
        const started = performance.now();
        const answer = await postJson<ServerCompletion>(`${server.url}/completion`, {
          prompt: tokens,
          n_predict: 1,
          temperature: 0,
          top_k: 1,
          cache_prompt: false,
        });
        out.wallMs.push(performance.now() - started);
        out.promptMs.push(answer.timings.prompt_ms);
        out.firstTokenMs.push(answer.timings.predicted_ms);
      }
      return out;
    },
  });

  try {
    const base = enclaveDefaults;
    const server = { model: o.modelPath, threads: 1, contextSize: 4096, batchSize: 2048, ubatchSize: 512 };
    if (o.binary) {
      servers.push(await startLlamaServer(o.binary, server));
      servers.push(await startLlamaServer(o.binary, { ...server, extraArgs: ['-fa', 'off'] }));
      sides.push(serverSide('llama-server -t 1 -b 2048 -ub 512 (-fa auto)', servers[0]));
      sides.push(serverSide('llama-server … -fa off', servers[1]));
    }
    sides.push(inProcess('prebuilt: Enclave today (b 512, t 1, fa auto, 4 seq)', 'prebuilt', true, base));
    sides.push(inProcess('prebuilt: flash attention off', 'prebuilt', true, { ...base, flashAttention: false }));
    sides.push(inProcess('prebuilt: batch 2048', 'prebuilt', true, { ...base, batchSize: 2048 }));
    sides.push(inProcess('prebuilt: batch 256', 'prebuilt', true, { ...base, batchSize: 256 }));
    sides.push(inProcess('prebuilt: 1 sequence', 'prebuilt', true, { ...base, sequences: 1 }));
    sides.push(inProcess('prebuilt: KV q8_0', 'prebuilt', true, { ...base, flashAttention: true, kvType: 'Q8_0' }));
    sides.push(inProcess('prebuilt: KV f32', 'prebuilt', true, { ...base, kvType: 'F32' }));
    sides.push(inProcess('prebuilt: 2 threads', 'prebuilt', true, { ...base, threads: 2 }));
    sides.push(inProcess('prebuilt: no mmap', 'prebuilt', false, base));
    if (o.local && hasLocalBuild()) {
      sides.push(inProcess('local build: Enclave today', 'local', true, base));
      sides.push(inProcess('local build: batch 2048', 'local', true, { ...base, batchSize: 2048 }));
    }

    if (o.only?.length) {
      const keep = (name: string) => name === sides[0].name || o.only!.some((part) => name.includes(part));
      sides.splice(0, sides.length, ...sides.filter((s) => keep(s.name)));
    }
    const tokenizer = worker('prebuilt', true);
    await tokenizer.ready;
    // The core calibrates its chars-per-token estimate on a new language's first prompt and builds
    // the prompt again to fill its token budget: the cold keystroke evaluates the second one.
    const estimator = new CharsPerTokenEstimator();
    const draft = coldPrompt(estimator);
    const counted = await tokenizer.ask<{ tokens: number[] }>({ tokenize: draft });
    estimator.calibrate(draft.length, counted.tokens.length);
    const { tokens } = await tokenizer.ask<{ tokens: number[] }>({ tokenize: coldPrompt(estimator) });
    const samples = new Map<string, { promptMs: number[]; firstTokenMs: number[]; wallMs: number[] }>();
    for (const s of sides) samples.set(s.name, { promptMs: [], firstTokenMs: [], wallMs: [] });
    // A warm-up pass (page cache, first context allocation), then rounds in rotating order.
    for (const s of sides) await s.run(tokens, 1);
    for (let round = 0; round < o.rounds; round++) {
      for (let j = 0; j < sides.length; j++) {
        const s = sides[(round + j) % sides.length];
        const got = await s.run(tokens, o.reps);
        const into = samples.get(s.name)!;
        into.promptMs.push(...got.promptMs);
        into.firstTokenMs.push(...got.firstTokenMs);
        into.wallMs.push(...got.wallMs);
      }
      console.log(`  prompt eval: round ${round + 1}/${o.rounds}`);
    }
    const reference = samples.get(sides[0].name)!;
    const refMedian = percentile(
      reference.promptMs.map((p, i) => p + reference.firstTokenMs[i]),
      50,
    );
    const rows = sides.map((s) => {
      const v = samples.get(s.name)!;
      const total = v.promptMs.map((p, i) => p + v.firstTokenMs[i]);
      const median = percentile(total, 50);
      return {
        candidate: s.name,
        n: total.length,
        promptMedianMs: percentile(v.promptMs, 50),
        firstTokenMedianMs: percentile(v.firstTokenMs, 50),
        medianMs: median,
        minMs: Math.min(...total),
        ratioToServer: median / refMedian,
      };
    });
    for (const r of rows)
      console.log(
        `  ${r.candidate.padEnd(52)} ${r.medianMs.toFixed(1).padStart(7)} ms (prompt ${r.promptMedianMs.toFixed(1)}, first token ${r.firstTokenMedianMs.toFixed(1)}, min ${r.minMs.toFixed(1)})  ×${r.ratioToServer.toFixed(2)}`,
      );
    return {
      method:
        `the core's cold prompt (${tokens.length} tokens, first keystroke of ${sourceFiles(repoRoot)[0].name}), the same token ids on every side; ` +
        "in process: node-llama-cpp in a child process per binary, a fresh context per candidate, the sequence cleared before each rep, whole batch-size chunks, then the last chunk with the first token predicted in the same decode (the engine's syncPrefix and first step); " +
        'llama-server: POST /completion with the token ids, cache_prompt false, n_predict 1, its own timings (prompt_ms + predicted_ms); ' +
        `${o.rounds} rounds × ${o.reps} reps after a warm-up, every side once per round in rotating order, one at a time. ratioToServer: median / the first server's median.`,
      promptTokens: tokens.length,
      binaries: hellos,
      serverArgs: servers.map((s) => s.args.filter((a) => !a.includes('/') && !/^\d{4,5}$/.test(a)).join(' ')),
      serverFlashAttention: servers.map((s) => s.logLines.find((l) => /flash_attn/.test(l)) ?? ''),
      rows,
    };
  } finally {
    for (const w of workers.values()) w.kill();
    for (const s of servers) await s.stop();
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const num = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
  void (async () => {
    const paths = await ensureFixtures();
    const binary = args.includes('--no-server') ? undefined : await ensureLlamaServer({ log: (l) => console.log(l) });
    const result = await promptEvalExperiment({
      modelPath: paths.model,
      binary,
      rounds: num('--rounds', 5),
      reps: num('--reps', 2),
      local: !args.includes('--no-local'),
      only: args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : undefined,
    });
    console.log(JSON.stringify(result, null, 2));
  })().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
