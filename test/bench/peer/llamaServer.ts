// llama.cpp's own llama-server, built here from the llama.cpp source that node-llama-cpp ships as a
// git bundle, and started on 127.0.0.1 as the peer the benchmarks measure Enclave against.
// Build recipe (shared/LLAMA-SERVER.md): clone the bundle into .cache/llama/src, cmake
// Release without curl/tests/examples, targets llama-server and llama-quantize; ~7 min on 2 cores.
// A build another process is running (its build.log has no `rc=` line yet) is waited for, not repeated.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, createWriteStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

export const repoRoot = join(__dirname, '..', '..', '..');

export interface LlamaPaths {
  dir: string;
  src: string;
  build: string;
  log: string;
  server: string;
  quantize: string;
  bundle: string;
}

export function llamaPaths(root = repoRoot): LlamaPaths {
  const dir = join(root, '.cache', 'llama');
  const build = join(dir, 'build');
  return {
    dir,
    src: join(dir, 'src'),
    build,
    log: join(dir, 'build.log'),
    server: join(build, 'bin', 'llama-server'),
    quantize: join(build, 'bin', 'llama-quantize'),
    bundle: join(root, 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle'),
  };
}

/** The llama.cpp release tag node-llama-cpp was built from (and this server is built from). */
export function llamaCppTag(root = repoRoot): string {
  try {
    return (
      JSON.parse(readFileSync(join(root, 'node_modules', 'node-llama-cpp', 'llama', 'llama.cpp.info.json'), 'utf8')) as { tag: string }
    ).tag;
  } catch {
    return 'unknown';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** 'done' (rc=0 logged), 'failed' (rc≠0), 'running' (log growing, no rc yet), 'none'. */
function buildState(log: string): 'done' | 'failed' | 'running' | 'none' {
  if (!existsSync(log)) return 'none';
  const text = readFileSync(log, 'utf8');
  const rc = /^rc=(\d+)\s*$/m.exec(text);
  if (rc) return rc[1] === '0' ? 'done' : 'failed';
  // A log nobody wrote to for 10 minutes belongs to a build that died.
  return Date.now() - statSync(log).mtimeMs < 10 * 60_000 ? 'running' : 'none';
}

function run(cmd: string, args: string[], logPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(logPath, { flags: 'a' });
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.on('error', reject);
    child.on('close', (code) => {
      out.end();
      resolve(code ?? 1);
    });
  });
}

export interface EnsureOptions {
  log?: (line: string) => void;
  /** Longest wait for a build another process is running (default 30 min). */
  waitMs?: number;
}

/** Path of a working llama-server binary: reused when built, else built (or waited for). */
export async function ensureLlamaServer(options: EnsureOptions = {}): Promise<string> {
  const p = llamaPaths();
  const log = options.log ?? (() => {});
  const deadline = Date.now() + (options.waitMs ?? 30 * 60_000);
  for (;;) {
    const state = buildState(p.log);
    if (existsSync(p.server) && (state === 'done' || state === 'none')) return p.server;
    if (state !== 'running') break;
    if (Date.now() > deadline) throw new Error(`llama-server build in ${p.build} still running after the wait; see ${p.log}`);
    log(`waiting for the llama-server build already running (${p.log})`);
    await sleep(15_000);
  }
  if (!existsSync(p.bundle)) throw new Error(`no llama.cpp source bundle at ${p.bundle}`);
  await mkdir(p.dir, { recursive: true });
  log(`building llama-server from ${p.bundle} (llama.cpp ${llamaCppTag()}) into ${p.build}; ~7 min on 2 cores, log ${p.log}`);
  const cmakeLog = join(p.dir, 'cmake.log');
  if (!existsSync(join(p.src, 'CMakeLists.txt'))) {
    const rc = await run('git', ['clone', '-q', p.bundle, p.src], cmakeLog);
    if (rc !== 0) throw new Error(`git clone of ${p.bundle} failed (rc ${rc}); see ${cmakeLog}`);
  }
  const configure = await run(
    'cmake',
    [
      '-S',
      p.src,
      '-B',
      p.build,
      '-DCMAKE_BUILD_TYPE=Release',
      '-DLLAMA_CURL=OFF',
      '-DLLAMA_BUILD_TESTS=OFF',
      '-DLLAMA_BUILD_EXAMPLES=OFF',
      '-DLLAMA_BUILD_SERVER=ON',
    ],
    cmakeLog,
  );
  if (configure !== 0) throw new Error(`cmake configure failed (rc ${configure}); see ${cmakeLog}`);
  writeFileSync(p.log, '');
  const rc = await run('cmake', ['--build', p.build, '--target', 'llama-server', 'llama-quantize', '-j2'], p.log);
  appendFileSync(p.log, `rc=${rc}\n`);
  if (rc !== 0 || !existsSync(p.server)) throw new Error(`llama-server build failed (rc ${rc}); see ${p.log}`);
  return p.server;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface ServerOptions {
  model: string;
  threads: number;
  contextSize: number;
  /** Logical batch (-b): /infill keeps at most 3/4 of it as prefix and 1/4 as suffix. */
  batchSize: number;
  /** Physical batch (-ub). */
  ubatchSize: number;
  /** --cache-reuse N (llama.vscode's presets use 256); 0 = off. */
  cacheReuse?: number;
  /** Speculative decoding with a draft model; pMin: the draft's greedy-probability floor (llama.cpp default 0.75). */
  draft?: { model: string; max: number; min: number; pMin?: number };
  extraArgs?: string[];
}

export interface RunningServer {
  url: string;
  port: number;
  args: string[];
  /** The server's own log lines (stderr + stdout). */
  logLines: string[];
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
// Never leave a server behind, whatever way this process ends.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts llama-server on 127.0.0.1 with a free port and waits until /health answers ok. */
export async function startLlamaServer(binary: string, o: ServerOptions): Promise<RunningServer> {
  const port = await freePort();
  const args = [
    '-m',
    o.model,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '-t',
    String(o.threads),
    '-tb',
    String(o.threads),
    '-c',
    String(o.contextSize),
    '-np',
    '1',
    '-b',
    String(o.batchSize),
    '-ub',
    String(o.ubatchSize),
    '-ngl',
    '0',
    '--no-webui',
    // Raw completions: without this the server runs its chat-output parser over /infill and
    // /completion text too, and a random-weights model's output (stray <think> etc.) makes it fail
    // with HTTP 500 "does not match the expected Content-only format".
    '--reasoning-format',
    'none',
  ];
  if (o.cacheReuse) args.push('--cache-reuse', String(o.cacheReuse));
  // This llama.cpp renamed --draft-max/--draft-min to --spec-draft-n-max/--spec-draft-n-min.
  if (o.draft) {
    // and no longer infers classic draft-model speculation from -md alone: --spec-type draft-simple.
    args.push(
      '-md',
      o.draft.model,
      '--spec-type',
      'draft-simple',
      '--spec-draft-n-max',
      String(o.draft.max),
      '--spec-draft-n-min',
      String(o.draft.min),
    );
    if (o.draft.pMin !== undefined) args.push('--spec-draft-p-min', String(o.draft.pMin));
  }
  args.push(...(o.extraArgs ?? []));
  // The shared libraries sit next to the binary; their RPATH is the absolute build folder, which
  // breaks when the cache moves, so name the folder explicitly.
  const env = { ...process.env, LD_LIBRARY_PATH: [dirname(binary), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  running.add(child);
  const logLines: string[] = [];
  const collector = () => {
    let partial = '';
    return (chunk: Buffer) => {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) logLines.push(line);
    };
  };
  child.stdout!.on('data', collector());
  child.stderr!.on('data', collector());
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.on('exit', (code) => {
      exited = code;
      running.delete(child);
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited !== undefined) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exit;
    clearTimeout(killer);
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited !== undefined) throw new Error(`llama-server exited (${exited}) before it was ready:\n${logLines.slice(-20).join('\n')}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`llama-server did not become healthy in 120 s:\n${logLines.slice(-20).join('\n')}`);
    }
    await sleep(100);
  }
  return { url, port, args, logLines, stop };
}

export async function postJson<T>(url: string, body: unknown): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

/** What /infill and /completion answer (the fields the benchmark reads). */
export interface ServerCompletion {
  content: string;
  tokens_evaluated?: number;
  tokens_cached?: number;
  stop_type?: string;
  timings: {
    prompt_n: number;
    prompt_ms: number;
    predicted_n: number;
    predicted_ms: number;
    cache_n?: number;
    draft_n?: number;
    draft_n_accepted?: number;
  };
}

/** One /infill or /completion answer, timed from request to response, HTTP and JSON included. */
export interface ServerAnswer {
  ms: number;
  /** null when the server computed the answer but failed to send it (see `failed`). */
  content: string | null;
  promptN: number;
  cacheN: number;
  /** Prompt tokens of the request (evaluated + reused). */
  tokensEvaluated: number;
  predictedN: number;
  promptMs: number;
  predictedMs: number;
  stop: string;
  draftN?: number;
  draftAccepted?: number;
  failed?: string;
}

/**
 * POSTs and times one completion request. llama-server of this version runs its chat-output parser
 * over raw /infill and /completion text too and answers HTTP 500 ("does not match the expected
 * Content-only format") when the generated bytes are not valid UTF-8 — which a random-weights model
 * produces now and then. The work was done by then, so the latency stands; the token counts are
 * read from the server's own per-task log lines (print_timings, release) instead of the JSON.
 */
export async function timedRequest(server: RunningServer, path: string, body: unknown): Promise<ServerAnswer> {
  const mark = server.logLines.length;
  const started = performance.now();
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.ok) {
    const r = JSON.parse(text) as ServerCompletion;
    return {
      ms,
      content: r.content,
      promptN: r.timings.prompt_n,
      cacheN: r.timings.cache_n ?? 0,
      tokensEvaluated: r.tokens_evaluated ?? r.timings.prompt_n + (r.timings.cache_n ?? 0),
      predictedN: r.timings.predicted_n,
      promptMs: r.timings.prompt_ms,
      predictedMs: r.timings.predicted_ms,
      stop: r.stop_type ?? '',
      draftN: r.timings.draft_n,
      draftAccepted: r.timings.draft_n_accepted,
    };
  }
  if (res.status !== 500 || !/does not match the expected/.test(text))
    throw new Error(`${server.url}${path}: HTTP ${res.status}: ${text.slice(0, 500)}`);
  // The log lines of this task: wait until its release line has been read from the pipe.
  const deadline = Date.now() + 3000;
  let lines: string[] = [];
  for (;;) {
    lines = server.logLines.slice(mark);
    if (lines.some((l) => /stop processing: n_tokens/.test(l)) || Date.now() > deadline) break;
    await sleep(5);
  }
  const find = (re: RegExp) => {
    for (let i = lines.length - 1; i >= 0; i--) {
      const m = re.exec(lines[i]);
      if (m) return m;
    }
    return null;
  };
  const prompt = find(/prompt eval time =\s*([\d.]+) ms \/\s*(\d+) tokens/);
  const gen = find(/\|\s+eval time =\s*([\d.]+) ms \/\s*(\d+) tokens/);
  const release = find(/stop processing: n_tokens = (\d+)/);
  const predictedN = gen ? Number(gen[2]) : NaN;
  const total = release ? Number(release[1]) - predictedN + 1 : NaN;
  const promptN = prompt ? Number(prompt[2]) : NaN;
  return {
    ms,
    content: null,
    promptN,
    cacheN: total - promptN,
    tokensEvaluated: total,
    predictedN,
    promptMs: prompt ? Number(prompt[1]) : NaN,
    predictedMs: gen ? Number(gen[1]) : NaN,
    stop: 'http500-invalid-utf8',
    failed: 'HTTP 500: output not valid UTF-8 (server-side chat parser); counts from the server log',
  };
}
