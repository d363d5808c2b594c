// API server load benchmark (not a test): node --import tsx test/bench/api-load.bench.ts [--quick]
// The in-editor setup: the engine in its own process (EngineClient), the OpenAI-compatible server
// in this process (the extension host's place). 32 API clients send 200 mixed requests (streamed
// chat, plain chat, completions, requests aborted mid-way, oversized bodies) while an editor-like
// client asks for inline completions straight from the engine, as the editor does. Reports what
// every request came to (nothing lost or hung), the 429s, this process's RSS, and the inline
// completion p95 under load against its idle p95 (goal ≤ 1.5×). Writes test/bench/results/api-load.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { EngineClient } from '../../src/engine/client';
import { startServer } from '../../src/engine/server';
import { nullLogger } from '../../src/logger';
import { buildBundles, fimPrompt, repoRoot, samplePrefixes, settingsFor, workerPath } from '../engine/helpers';
import { ensureFixtures } from '../fixtures/generate';

const quick = process.argv.includes('--quick');
const CLIENTS = 32;
const REQUESTS = quick ? 60 : 200;
const IDLE_COMPLETIONS = quick ? 15 : 40;
const HUNG_MS = 120_000;
const token = 'bench-token-0123456789abcdef';

const p95 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)] : NaN;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

async function main(): Promise<void> {
  buildBundles();
  const paths = await ensureFixtures();
  const engine = new EngineClient(settingsFor(paths, { sequences: 4, threads: 2 }), nullLogger, { workerPath });
  await engine.info();
  const server = await startServer(engine, { port: 0, token, modelName: 'bench', maxActive: 1, maxQueued: 16, requestTimeoutMs: 60_000 });

  let keystroke = 0;
  /** One inline completion as the editor asks for it (its own document, 16 tokens, 500 ms cap). */
  async function editorCompletion(): Promise<number> {
    const prefix = samplePrefixes[keystroke % samplePrefixes.length] + 'x'.repeat(keystroke++ % 7);
    const started = performance.now();
    await engine.completeFim({ documentKey: 'file:///editor/doc.ts', prompt: fimPrompt(prefix, '\n}'), maxTokens: 16, maxTimeMs: 500 });
    return performance.now() - started;
  }

  // Warm up, then the idle baseline.
  for (let i = 0; i < 3; i++) await editorCompletion();
  const idle: number[] = [];
  for (let i = 0; i < IDLE_COMPLETIONS; i++) {
    idle.push(await editorCompletion());
    await new Promise((r) => setTimeout(r, 30));
  }

  const outcomes: Record<string, number> = {};
  const count = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1);
  const kinds = ['stream', 'plain', 'completion', 'aborted', 'oversized'] as const;
  let next = 0;
  let rssPeak = process.memoryUsage().rss;
  const rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 100);

  async function apiRequest(kind: (typeof kinds)[number]): Promise<void> {
    const controller = new AbortController();
    const hung = setTimeout(() => controller.abort(new Error('hung')), HUNG_MS);
    if (kind === 'aborted') setTimeout(() => controller.abort(), 50 + Math.random() * 300);
    const chat = kind !== 'completion';
    const body =
      kind === 'oversized'
        ? { messages: [{ role: 'user', content: 'x'.repeat(2 * 1024 * 1024) }] }
        : chat
          ? {
              messages: [{ role: 'user', content: `Write a function number ${next}` }],
              max_tokens: 24,
              stream: kind === 'stream' || kind === 'aborted',
            }
          : { prompt: fimPrompt('function add(a, b) {\n  return ', '\n}'), max_tokens: 24 };
    try {
      const response = await fetch(`${server.url}${chat ? '/chat/completions' : '/completions'}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      await response.text();
      count(`${kind} → ${response.status}`);
    } catch (err) {
      count(
        controller.signal.reason instanceof Error && controller.signal.reason.message === 'hung'
          ? `${kind} → HUNG`
          : `${kind} → aborted by client`,
      );
      void err;
    } finally {
      clearTimeout(hung);
    }
  }

  async function apiClient(): Promise<void> {
    while (next < REQUESTS) {
      const i = next++;
      await apiRequest(kinds[i % kinds.length]);
      // A client that got 429 (or anything) comes back a little later, as a real one would.
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
    }
  }

  const loadStarted = performance.now();
  let loadDone = false;
  const clients = Promise.all(Array.from({ length: CLIENTS }, () => apiClient())).then(() => (loadDone = true));
  const loaded: number[] = [];
  while (!loadDone) {
    loaded.push(await editorCompletion());
    await new Promise((r) => setTimeout(r, 30));
  }
  await clients;
  const loadMs = performance.now() - loadStarted;
  clearInterval(rssTimer);

  const settled = Object.values(outcomes).reduce((a, b) => a + b, 0);
  const hung = Object.entries(outcomes)
    .filter(([k]) => k.endsWith('HUNG'))
    .reduce((a, [, n]) => a + n, 0);
  const rejected429 = Object.entries(outcomes)
    .filter(([k]) => k.endsWith('429'))
    .reduce((a, [, n]) => a + n, 0);
  const result = {
    date: new Date().toISOString(),
    quick,
    clients: CLIENTS,
    requests: REQUESTS,
    settled,
    lost: REQUESTS - settled,
    hung,
    rejected429,
    outcomes,
    loadSeconds: +(loadMs / 1000).toFixed(1),
    serverLoadAfter: server.load(),
    rssPeakMiB: +(rssPeak / 2 ** 20).toFixed(0),
    inline: {
      idle: { n: idle.length, medianMs: +median(idle).toFixed(0), p95Ms: +p95(idle).toFixed(0) },
      underLoad: { n: loaded.length, medianMs: +median(loaded).toFixed(0), p95Ms: +p95(loaded).toFixed(0) },
      p95Ratio: +(p95(loaded) / p95(idle)).toFixed(2),
      goal: '≤ 1.5',
    },
  };
  console.log('\nrequest kind → outcome            count');
  for (const [k, n] of Object.entries(outcomes).sort()) console.log(`${k.padEnd(34)} ${n}`);
  console.log(
    `\nsettled ${settled}/${REQUESTS}, lost ${result.lost}, hung ${hung}, 429s ${rejected429}, in ${result.loadSeconds} s; RSS peak ${result.rssPeakMiB} MiB`,
  );
  console.log('inline completion        n   median   p95 (ms)');
  console.log(
    `idle               ${String(idle.length).padStart(6)} ${String(result.inline.idle.medianMs).padStart(8)} ${String(result.inline.idle.p95Ms).padStart(6)}`,
  );
  console.log(
    `during API load    ${String(loaded.length).padStart(6)} ${String(result.inline.underLoad.medianMs).padStart(8)} ${String(result.inline.underLoad.p95Ms).padStart(6)}`,
  );
  console.log(`p95 ratio ${result.inline.p95Ratio} (goal ≤ 1.5)`);
  const dir = join(repoRoot, 'test', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'api-load.json'), JSON.stringify(result, null, 2) + '\n');
  await server.close();
  await engine.dispose();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
