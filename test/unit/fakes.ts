// Test doubles for the unit tests: one configurable Backend, a manual clock and a chat controller
// over a real history store in a temp folder. (Not *.test.ts: the runner does not pick it up.)
import assert from 'node:assert/strict';
import { promises as fs, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { ChatController, type ChatControllerOptions } from '../../src/chat/controller';
import { type Conversation, HistoryStore } from '../../src/chat/history';
import { type HostMessage, parseHostMessage } from '../../src/chat/messages';
import { nullLogger } from '../../src/logger';
import type {
  AdapterSpec,
  AdapterSwitchResult,
  Backend,
  ChatRequest,
  EngineInfo,
  EngineMetrics,
  EngineState,
  FimRequest,
  GenerationResult,
  RequestOptions,
  RequestStats,
  StructuredRequest,
  StructuredResult,
} from '../../src/engine/protocol';
import type { Clock } from '../../src/completion/debounce';

export const fakeStats = (over: Partial<RequestStats> = {}): RequestStats => ({
  promptTokens: 10,
  evaluatedTokens: 10,
  reusedTokens: 0,
  generatedTokens: 3,
  timeToFirstTokenMs: 1,
  totalMs: 5,
  queuedMs: 0,
  stopReason: 'eos',
  ...over,
});

type Answer<R, O> = (request: R, options: RequestOptions, call: number) => O | Promise<O>;

export interface FakeBackendOptions {
  /** What info() answers (a function: read at each call, so a test can change it). */
  info?: Partial<EngineInfo> | (() => Partial<EngineInfo>);
  /** FIM answers: a text (with default stats) or a whole result. */
  fim?: Answer<FimRequest, string | GenerationResult>;
  chat?: Answer<ChatRequest, string | GenerationResult>;
  /** Structured answers: the value (its JSON is the text) or a whole result. */
  structured?: Answer<StructuredRequest, unknown>;
  countTokens?: (text: string) => number;
  setAdapters?: (adapters: AdapterSpec[]) => AdapterSwitchResult;
  metrics?: () => EngineMetrics;
  /** Stats of generated answers (default fakeStats()). */
  stats?: Partial<RequestStats>;
  /** Clock for `fimDelayMs` (default: real timers). */
  clock?: Clock;
}

/**
 * A Backend whose answers each test scripts. It records every call (`calls`, and the requests per
 * method), honours abort on FIM calls that wait (`fimDelayMs`), counts how many run at once, and
 * emits states on demand. A method the test did not script throws.
 */
export class FakeBackend implements Backend {
  readonly kind = 'local' as const;
  readonly calls: string[] = [];
  readonly fimRequests: FimRequest[] = [];
  readonly chatRequests: ChatRequest[] = [];
  readonly structuredRequests: StructuredRequest[] = [];
  readonly signals: AbortSignal[] = [];
  readonly listeners = new Set<(state: EngineState) => void>();
  /** How long each FIM call takes before it answers (on `options.clock`). */
  fimDelayMs = 0;
  /** FIM calls ended by their abort signal. */
  aborted = 0;
  running = 0;
  maxRunning = 0;
  disposed = false;

  constructor(private readonly options: FakeBackendOptions = {}) {}

  /** The clock FIM waits run on (undefined: real timers). */
  get clock(): Clock | undefined {
    return this.options.clock;
  }

  private unused(method: string): never {
    throw new Error(`FakeBackend.${method} is not scripted in this test`);
  }

  private result(text: string | GenerationResult): GenerationResult {
    return typeof text === 'string' ? { text, stats: fakeStats(this.options.stats) } : text;
  }

  async info(): Promise<EngineInfo> {
    this.calls.push('info');
    const info = typeof this.options.info === 'function' ? this.options.info() : this.options.info;
    return {
      modelPath: '/models/fake.gguf',
      modelName: 'Fake',
      fimFamily: 'qwen',
      adapters: [],
      contextSize: 4096,
      sequences: 1,
      backend: 'local',
      ...info,
    } as EngineInfo;
  }

  async completeFim(request: FimRequest, options: RequestOptions = {}): Promise<GenerationResult> {
    const answer = this.options.fim ?? this.unused('completeFim');
    this.calls.push('completeFim');
    this.fimRequests.push(request);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      if (this.fimDelayMs > 0 || options.signal?.aborted) {
        const done = this.options.clock
          ? await this.options.clock.sleep(this.fimDelayMs, options.signal)
          : await realSleep(this.fimDelayMs, options.signal);
        if (!done) {
          this.aborted++;
          throw new Error('aborted');
        }
      }
      return this.result(await answer(request, options, this.fimRequests.length));
    } finally {
      this.running--;
    }
  }

  async chat(request: ChatRequest, options: RequestOptions = {}): Promise<GenerationResult> {
    const answer = this.options.chat ?? this.unused('chat');
    this.calls.push('chat');
    this.chatRequests.push(request);
    if (options.signal) this.signals.push(options.signal);
    return this.result(await answer(request, options, this.chatRequests.length));
  }

  async generateStructured(request: StructuredRequest, options: RequestOptions = {}): Promise<StructuredResult> {
    const answer = this.options.structured ?? this.unused('generateStructured');
    this.calls.push('generateStructured');
    this.structuredRequests.push(request);
    if (options.signal) this.signals.push(options.signal);
    const value = await answer(request, options, this.structuredRequests.length);
    return { value, text: JSON.stringify(value), stats: fakeStats(this.options.stats) };
  }

  async countTokens(text: string): Promise<number> {
    this.calls.push('countTokens');
    return (this.options.countTokens ?? ((t: string) => Math.ceil(t.length / 4)))(text);
  }

  async setAdapters(adapters: AdapterSpec[]): Promise<AdapterSwitchResult> {
    const answer = this.options.setAdapters ?? this.unused('setAdapters');
    this.calls.push('setAdapters');
    return answer(adapters);
  }

  async metrics(): Promise<EngineMetrics> {
    const answer = this.options.metrics ?? this.unused('metrics');
    this.calls.push('metrics');
    return answer();
  }

  onState(listener: (state: EngineState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(state: EngineState): void {
    for (const listener of this.listeners) listener(state);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }
}

function realSleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(true), ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve(false)), { once: true });
  });
}

/**
 * A manual clock: time moves only in advance(), which fires the sleeps that fall due in order and
 * lets the promise chains they start run before moving on. Tests then need no real waits.
 */
export class FakeClock implements Clock {
  private time = 0;
  private timers: { at: number; fire: () => void }[] = [];

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = { at: this.time + ms, fire: () => resolve(true) };
      this.timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          this.timers = this.timers.filter((t) => t !== timer);
          resolve(false);
        },
        { once: true },
      );
    });
  }

  /** Pending sleeps (a test can check what is waiting). */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing each sleep that falls due and settling what follows it. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await settle();
    for (;;) {
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.fire();
      await settle();
    }
    this.time = target;
    await settle();
  }
}

/** Lets pending promise chains and setImmediate callbacks run (no time passes on any clock). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

export interface ChatHarnessOptions {
  /** The model's answers (default: 'ok'). */
  chat?: FakeBackendOptions['chat'];
  contextSize?: number;
  /** The project rules and the codebase retrieval, as registerChat would pass them. */
  rules?: ChatControllerOptions['rules'];
  retrieve?: ChatControllerOptions['retrieve'];
}

/**
 * A ChatController on a FakeBackend and a real HistoryStore in a fresh temp folder. Everything it
 * posts must pass the webview's validator (checked on a JSON copy, as the webview receives it).
 */
export async function chatHarness(options: ChatHarnessOptions = {}) {
  const dir = await fs.mkdtemp(path.join(tmpdir(), 'enclave-chat-'));
  const store = new HistoryStore(dir, { logger: nullLogger });
  const backend = new FakeBackend({ chat: options.chat ?? (() => 'ok'), info: { contextSize: options.contextSize ?? 4096 } });
  const posted: HostMessage[] = [];
  const controller = new ChatController({
    store,
    backend: () => backend,
    settings: () => ({ maxTokens: 256, temperature: 0.1 }),
    post: (m) => {
      const parsed = parseHostMessage(JSON.parse(JSON.stringify(m)));
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.problem);
      posted.push(m);
    },
    logger: nullLogger,
    saveIntervalMs: 10,
    rules: options.rules,
    retrieve: options.retrieve,
  });
  const onDisk = async (): Promise<Conversation> => JSON.parse(await fs.readFile(path.join(dir, `${controller.current.id}.json`), 'utf8'));
  return { dir, store, backend, posted, controller, onDisk };
}

/** Writes `files` (relative path → content) into a new temporary folder, removed when the process exits. */
export function tempWorkspace(files: Record<string, string | Uint8Array>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'enclave-ws-'));
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.join(root, file, '..'), { recursive: true });
    writeFileSync(path.join(root, file), content);
  }
  return root;
}
