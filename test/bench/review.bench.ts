// Review benchmark: reviews real git diffs of 10, 100 and 1000 changed lines (edits spread over
// real source files from node_modules, committed in a temp repository) through the reviewer and
// the real engine process on the fixture model, and reports the time per 100 changed lines,
// tokens per second and how the time grows with the diff.
//   node --import tsx test/bench/review.bench.ts [--quick]
// Two answer modes, both stated in the output: `read` pins the answer to an empty list (the
// grammar allows nothing else), so the time is the cost of reading the diff — the growth curve;
// `findings` asks for exactly one finding with short strings, to measure generation (tokens/s).
// On the random fixture model some `findings` answers fail to parse: node-llama-cpp 3.21 checks a
// string's length in UTF-16 units after its grammar allowed that many code points, and random
// text is full of emoji; the failures are counted in the output.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import { join } from 'node:path';

import { EngineClient } from '../../src/engine/client';
import type { EngineSettings } from '../../src/engine/protocol';
import { nullLogger } from '../../src/logger';
import { gitDiffArgs, parseUnifiedDiff, splitLines } from '../../src/review/diff';
import { runReview, type ReviewOptions } from '../../src/review/reviewer';
import { buildBundles, fixtures, workerPath } from '../engine/helpers';
import { TempRepo } from '../unit/review-repo';

const root = join(__dirname, '..', '..');
const quick = process.argv.includes('--quick');

const sources = [
  'node_modules/lru-cache/dist/commonjs/index.js',
  'node_modules/vscode-jsonrpc/lib/common/connection.js',
  'node_modules/yargs/build/lib/yargs-factory.js',
  'node_modules/semver/classes/range.js',
].filter((p) => existsSync(join(root, p)));

const runs: { mode: keyof typeof modes; size: number }[] = [
  { mode: 'read', size: 10 },
  { mode: 'read', size: 100 },
  ...(quick ? [] : [{ mode: 'read' as const, size: 1000 }]),
  { mode: 'findings', size: 10 },
  { mode: 'findings', size: 100 },
];
const modes: Record<'read' | 'findings', Pick<ReviewOptions, 'schemaLimits'>> = {
  read: { schemaLimits: { maxFindings: 0 } },
  findings: { schemaLimits: { minFindings: 1, maxFindings: 1, maxMessageChars: 48, maxReplacementChars: 48 } },
};

interface Row {
  mode: string;
  changedLines: number;
  files: number;
  requests: number;
  findings: number;
  failed: number;
  failures: string[];
  promptTokens: number;
  generatedTokens: number;
  seconds: number;
  secondsPer100Lines: number;
  generatedTokensPerSecond: number;
  promptTokensPerSecond: number;
}

/** Rewrites `changed` lines of the repository's files: runs of 5 lines, one run every 20 lines. */
async function makeDiff(repo: TempRepo, changed: number): Promise<void> {
  let left = changed;
  for (const i of sources.keys()) {
    const name = `src/file${i}.js`;
    const text = repo.read(name);
    const lines = splitLines(text);
    for (let start = 10; start < lines.length && left > 0; start += 20) {
      for (let n = start; n < start + 5 && n < lines.length && left > 0; n++) {
        lines[n] = `${lines[n]} // revised ${n}`;
        left--;
      }
    }
    repo.write(name, lines.join('\n') + (text.endsWith('\n') ? '\n' : ''));
    if (left === 0) return;
  }
  if (left > 0) throw new Error(`the source files hold fewer than ${changed} lines to change`);
}

function table(rows: Row[]): string {
  const head = [
    'mode',
    'changed',
    'files',
    'requests',
    'findings',
    'failed',
    'prompt tok',
    'gen tok',
    'time s',
    's / 100 lines',
    'gen tok/s',
    'prompt tok/s',
  ];
  const body = rows.map((r) => [
    r.mode,
    r.changedLines,
    r.files,
    r.requests,
    r.findings,
    r.failed,
    r.promptTokens,
    r.generatedTokens,
    r.seconds.toFixed(1),
    r.secondsPer100Lines.toFixed(2),
    r.generatedTokensPerSecond.toFixed(1),
    r.promptTokensPerSecond.toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells: (string | number)[]) => cells.map((c, i) => String(c).padStart(widths[i])).join(' | ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  buildBundles();
  const paths = await fixtures();
  // The product's engine defaults (package.json), on the CPU.
  const settings: EngineSettings = {
    modelPath: paths.model,
    speculative: 'off',
    contextSize: 8192,
    sequences: 4,
    threads: 0,
    batchSize: 512,
    gpu: 'cpu',
    adapters: [],
  };
  const engine = new EngineClient(settings, nullLogger, { workerPath });
  const rows: Row[] = [];
  try {
    const info = await engine.info();
    // Warm-up (model pages, first grammar, first chat template): one small review, not recorded.
    {
      const repo = new TempRepo();
      repo.write('a.js', 'const a = 1;\n');
      repo.commitAll();
      repo.write('a.js', 'const a = 2;\n');
      await runReview(
        engine,
        { title: 'warm-up', files: parseUnifiedDiff(repo.git(...gitDiffArgs('uncommitted'))), readFile: async (p) => repo.read(p) },
        { maxTokens: 64, contextLines: 5 },
      );
      repo.dispose();
    }
    for (const { mode, size } of runs) {
      const repo = new TempRepo();
      try {
        for (const [i, source] of sources.entries()) repo.write(`src/file${i}.js`, await readFile(join(root, source), 'utf8'));
        repo.commitAll();
        await makeDiff(repo, size);
        const files = parseUnifiedDiff(repo.git(...gitDiffArgs('uncommitted')));
        const started = performance.now();
        const result = await runReview(
          engine,
          { title: `${size} lines`, files, readFile: async (p) => repo.read(p) },
          { maxTokens: 768, contextLines: 5, ...modes[mode] },
        );
        const seconds = (performance.now() - started) / 1000;
        const changedLines = files.reduce((n, f) => n + f.additions, 0);
        const row: Row = {
          mode,
          // Lines of the diff, reviewed or not (a failed file still cost its time).
          changedLines,
          files: result.reviewed.length,
          requests: result.requests,
          findings: result.findings.length,
          failed: result.failed.length,
          failures: result.failed.map((f) => f.error.slice(0, 160)),
          promptTokens: result.promptTokens,
          generatedTokens: result.generatedTokens,
          seconds,
          secondsPer100Lines: (seconds * 100) / Math.max(1, changedLines),
          generatedTokensPerSecond: result.tokensPerSecond,
          promptTokensPerSecond: result.promptTokensPerSecond,
        };
        rows.push(row);
        console.log(
          `${mode} ${size}: ${row.requests} requests, ${row.seconds.toFixed(1)} s, ${row.findings} findings, ${row.failed} failed ${row.failures.join(' | ')}`,
        );
      } finally {
        repo.dispose();
      }
    }
    const growth = (mode: string) => {
      const r = rows.filter((x) => x.mode === mode);
      return r.slice(1).map((x, i) => ({
        from: r[i].changedLines,
        to: x.changedLines,
        timeRatio: x.seconds / r[i].seconds,
        linesRatio: x.changedLines / r[i].changedLines,
      }));
    };
    const per100 = (mode: string) => rows.find((r) => r.mode === mode && r.changedLines === 100)?.secondsPer100Lines;
    const summary = {
      date: new Date().toISOString(),
      machine: {
        cpu: os.cpus()[0]?.model ?? 'unknown',
        cores: os.availableParallelism(),
        loadAverage: os.loadavg(),
        gpu: info.gpu,
        gpuDevices: info.gpuDeviceNames,
      },
      model: { name: info.modelName, path: paths.model.slice(root.length + 1), note: 'fixture model: random weights, real Qwen tokenizer' },
      engine: `EngineClient → engine process (node-llama-cpp) over JSON-RPC; contextSize ${info.contextSize} per sequence, ${info.sequences} sequences, ${info.threads} threads`,
      review: { maxTokens: 768, contextLines: 5, sources },
      modes: {
        read: 'the grammar allows only an empty list of findings: the cost of reading the diff (prompt evaluation, chunking, RPC)',
        findings:
          "exactly one finding with ≤48-character strings: reading plus generating; failed = answers node-llama-cpp's parser refused after three tries (its length check counts UTF-16 units, its grammar code points)",
      },
      definitions: {
        secondsPer100Lines: 'wall time of the whole review × 100 / changed (added) lines of the diff',
        generatedTokensPerSecond: 'generated tokens / decoding time (first token to last, as the engine reports it)',
        promptTokensPerSecond: 'prompt tokens / prompt evaluation time (request start to first token)',
      },
      secondsPer100Lines: { read: per100('read'), findings: per100('findings') },
      generatedTokensPerSecond: rows.find((r) => r.mode === 'findings' && r.generatedTokens > 0)?.generatedTokensPerSecond,
      growth: { read: growth('read') },
      rows,
    };
    console.log('\n' + table(rows) + '\n');
    console.log(`growth: ${JSON.stringify(summary.growth)}`);
    const out = join(root, 'test', 'bench', 'results', 'review.json');
    await mkdir(join(root, 'test', 'bench', 'results'), { recursive: true });
    await writeFile(out, JSON.stringify(summary, null, 2) + '\n');
    console.log(`wrote ${out.slice(root.length + 1)}`);
  } finally {
    await engine.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
