// The local Backend as the extension host sees it: starts the engine process on first use, talks
// JSON-RPC to it over the IPC channel, maps AbortSignals to JSON-RPC cancellation, and supervises
// it — a crashed engine fails its in-flight requests with ENGINE_CRASHED and is restarted with
// backoff; too many crashes in a short time stop the restarts and leave an error state.
// Over 400 lines because process life, request routing and cancellation share one state machine
// (a request's fate depends on the process it was sent to); splitting it would spread that state.
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

import {
  CancellationTokenSource,
  createMessageConnection,
  IPCMessageReader,
  IPCMessageWriter,
  type CancellationToken,
  type MessageConnection,
  type RequestType,
} from 'vscode-jsonrpc/node';

import type { Logger } from '../logger';
import {
  EngineError,
  type AdapterSpec,
  type AdapterSwitchResult,
  type Backend,
  type ChatRequest,
  type EmbedRequest,
  type EmbedResult,
  type EngineInfo,
  type EngineMetrics,
  type EngineSettings,
  type EngineState,
  type FimRequest,
  type GenerationResult,
  type RequestOptions,
  type StructuredRequest,
  type StructuredResult,
} from './protocol';
import { EngineNotifications, EngineRpc, fromRpcError, ENGINE_ERROR, type EngineErrorData, type Streamed } from './rpc';
import { errorMessage, notifyAll } from '../util';

type StreamedRequest<P, R> = RequestType<Streamed<P>, R, EngineErrorData>;

export interface EngineClientOptions {
  /** The bundled engine entry; default dist/worker.js next to this bundle. */
  workerPath?: string;
  /** Crashes within `crashWindowMs` after which restarts stop (default 3 in 60 s). */
  maxRestarts?: number;
  crashWindowMs?: number;
  /** First restart delay; doubles with each recent crash (default 250 ms). */
  backoffMs?: number;
  /** Restart a crashed engine by itself (after the backoff) instead of on the next request. */
  autoRestart?: boolean;
  env?: NodeJS.ProcessEnv;
}

interface Worker {
  proc: ChildProcess;
  connection: MessageConnection;
  /** Set when Enclave itself stops the process (dispose, settings change). */
  stopping: boolean;
  gone: boolean;
}

interface InFlight {
  fail(err: EngineError): void;
}

export class EngineClient implements Backend {
  readonly kind = 'local' as const;
  private settings: EngineSettings;
  private readonly options: Required<Omit<EngineClientOptions, 'env'>> & { env?: NodeJS.ProcessEnv };
  private worker?: Worker;
  private starting?: Promise<MessageConnection>;
  private state: EngineState = { kind: 'stopped' };
  private readonly listeners = new Set<(state: EngineState) => void>();
  private readonly streams = new Map<number, (chunk: string) => void>();
  private readonly inFlight = new Set<InFlight>();
  private crashes: number[] = [];
  private restarts = 0;
  private crashedSinceStart = false;
  private nextStreamId = 1;
  private restartTimer?: NodeJS.Timeout;
  private gaveUp?: string;
  /**
   * Why the engine could not start with the current settings (an invalid model file, a context
   * that does not fit in memory): remembered until the settings change or a restart is asked
   * for, so that each keystroke does not start the process and load the model again.
   */
  private startFailure?: EngineError;
  private disposed = false;

  constructor(
    settings: EngineSettings,
    private readonly logger: Logger,
    options: EngineClientOptions = {},
  ) {
    this.settings = cloneSettings(settings);
    this.options = {
      workerPath: options.workerPath ?? path.join(__dirname, 'worker.js'),
      maxRestarts: options.maxRestarts ?? 3,
      crashWindowMs: options.crashWindowMs ?? 60_000,
      backoffMs: options.backoffMs ?? 250,
      autoRestart: options.autoRestart ?? true,
      env: options.env,
    };
  }

  // ------------------------------------------------------------------ Backend

  info(): Promise<EngineInfo> {
    return this.request((c, token) => c.sendRequest(EngineRpc.info, token));
  }

  completeFim(request: FimRequest, options?: RequestOptions): Promise<GenerationResult> {
    return this.streamed(EngineRpc.completeFim, request, options);
  }

  chat(request: ChatRequest, options?: RequestOptions): Promise<GenerationResult> {
    return this.streamed(EngineRpc.chat, request, options);
  }

  generateStructured(request: StructuredRequest, options?: RequestOptions): Promise<StructuredResult> {
    return this.streamed(EngineRpc.generateStructured, request, options);
  }

  countTokens(text: string): Promise<number> {
    return this.request((c, token) => c.sendRequest(EngineRpc.countTokens, { text }, token));
  }

  async setAdapters(adapters: AdapterSpec[]): Promise<AdapterSwitchResult> {
    const result = await this.request((c, token) => c.sendRequest(EngineRpc.setAdapters, { adapters }, token));
    this.settings.adapters = adapters.map((a) => ({ ...a }));
    return result;
  }

  embed(request: EmbedRequest, options?: RequestOptions): Promise<EmbedResult> {
    return this.request((c, token) => c.sendRequest(EngineRpc.embed, request, token), options);
  }

  async metrics(): Promise<EngineMetrics> {
    const metrics = await this.request((c, token) => c.sendRequest(EngineRpc.metrics, token));
    return { ...metrics, restarts: this.restarts };
  }

  onState(listener: (state: EngineState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get currentState(): EngineState {
    return this.state;
  }

  /** The adapters the engine applies (kept across restarts and settings changes). */
  get currentAdapters(): AdapterSpec[] {
    return this.settings.adapters.map((a) => ({ ...a }));
  }

  /** Applies new settings: adapters switch in place; anything else restarts the engine (lazily). */
  async updateSettings(settings: EngineSettings): Promise<void> {
    const next = cloneSettings(settings);
    const adaptersChanged = JSON.stringify(next.adapters) !== JSON.stringify(this.settings.adapters);
    const restartNeeded = JSON.stringify({ ...next, adapters: [] }) !== JSON.stringify({ ...this.settings, adapters: [] });
    if (restartNeeded) {
      this.settings = next;
      this.gaveUp = undefined;
      this.startFailure = undefined;
      this.crashes = [];
      await this.stopWorker('settings changed');
      return;
    }
    if (adaptersChanged) {
      if (this.worker && !this.worker.gone) await this.setAdapters(next.adapters);
      else {
        this.settings.adapters = next.adapters;
        this.startFailure = undefined;
      }
    }
  }

  /** Stops the engine and forgets earlier crashes; the next request starts it again. */
  async restart(): Promise<void> {
    this.gaveUp = undefined;
    this.startFailure = undefined;
    this.crashes = [];
    await this.stopWorker('restart requested');
    await this.ensureStarted();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.restartTimer);
    await this.stopWorker('disposed');
    this.listeners.clear();
  }

  /** The worker's process id, for supervision tests and diagnostics. */
  get pid(): number | undefined {
    return this.worker && !this.worker.gone ? this.worker.proc.pid : undefined;
  }

  // ------------------------------------------------------------------ requests

  /** A request whose text streams back as `text` notifications when the caller wants chunks. */
  private streamed<P, R>(type: StreamedRequest<P, R>, request: P, options: RequestOptions = {}): Promise<R> {
    if (!options.onText) return this.request((c, token) => c.sendRequest(type, { request }, token), options);
    const streamId = this.nextStreamId++;
    return this.request((c, token) => c.sendRequest(type, { request, streamId }, token), options, streamId);
  }

  /** Sends one request (typed by its EngineRpc entry in `send`) with cancellation, streaming and crash handling. */
  private async request<R>(
    send: (connection: MessageConnection, token: CancellationToken) => Promise<R>,
    options: RequestOptions = {},
    streamId?: number,
  ): Promise<R> {
    const { signal, onText } = options;
    if (signal?.aborted) throw new EngineError('CANCELLED', 'Request cancelled.');
    const connection = await abortable(this.ensureStarted(), signal);
    return new Promise<R>((resolve, reject) => {
      const tokenSource = new CancellationTokenSource();
      let settled = false;
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        this.inFlight.delete(entry);
        if (streamId !== undefined) this.streams.delete(streamId);
        signal?.removeEventListener('abort', onAbort);
        tokenSource.dispose();
        settle();
      };
      const cancelledError = () => new EngineError('CANCELLED', 'Request cancelled.');
      const entry: InFlight = { fail: (err) => finish(() => reject(signal?.aborted ? cancelledError() : err)) };
      // The abort is answered when the engine answers the request (it stops within one decode
      // step), not before: until then the engine still holds the request's sequence, and a
      // successor sent on our rejection must find it free (its KV cache reused, not re-evaluated).
      const onAbort = () => tokenSource.cancel();
      if (streamId !== undefined && onText) {
        this.streams.set(streamId, (chunk) => {
          if (!settled && !signal?.aborted) onText(chunk);
        });
      }
      this.inFlight.add(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
      const worker = this.worker;
      let sent: Promise<R>;
      try {
        sent = send(connection, tokenSource.token);
      } catch (err) {
        sent = Promise.reject(err);
      }
      sent.then(
        (value) => finish(() => (signal?.aborted ? reject(cancelledError()) : resolve(value))),
        (err: unknown) => {
          if (signal?.aborted) return finish(() => reject(cancelledError()));
          const isEngineError = typeof err === 'object' && err !== null && (err as { code?: number }).code === ENGINE_ERROR;
          if (!isEngineError && worker?.gone) {
            finish(() => reject(crashedError()));
          } else if (!isEngineError && worker && !worker.stopping) {
            // The connection broke: the exit handler will fail this with ENGINE_CRASHED shortly.
            setTimeout(() => finish(() => reject(worker.gone ? crashedError() : fromRpcError(err))), 1000).unref();
          } else {
            finish(() => reject(fromRpcError(err)));
          }
        },
      );
    });
  }

  // ------------------------------------------------------------------ process

  private setState(state: EngineState): void {
    this.state = state;
    notifyAll(this.listeners, state, this.logger);
  }

  private ensureStarted(): Promise<MessageConnection> {
    if (this.disposed) return Promise.reject(new EngineError('ENGINE_UNAVAILABLE', 'The engine client has been disposed.'));
    if (this.gaveUp) return Promise.reject(new EngineError('ENGINE_UNAVAILABLE', this.gaveUp));
    if (this.startFailure) return Promise.reject(new EngineError(this.startFailure.code, this.startFailure.message));
    if (!this.starting) {
      const starting = this.startWorker();
      this.starting = starting;
      starting.catch(() => {
        if (this.starting === starting) this.starting = undefined;
      });
    }
    return this.starting;
  }

  private async startWorker(): Promise<MessageConnection> {
    clearTimeout(this.restartTimer);
    const delay = this.backoffDelay();
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (this.disposed) throw new EngineError('ENGINE_UNAVAILABLE', 'The engine client has been disposed.');
    if (this.crashedSinceStart) this.restarts++;
    this.crashedSinceStart = false;
    this.setState({ kind: 'starting' });
    this.logger.info(`starting the engine process (${this.options.workerPath})`);
    const proc = fork(this.options.workerPath, [], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: [],
      env: { ...process.env, ...this.options.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    const connection = createMessageConnection(new IPCMessageReader(proc), new IPCMessageWriter(proc));
    const worker: Worker = { proc, connection, stopping: false, gone: false };
    this.worker = worker;
    pipeLines(proc.stdout, (line) => this.logger.debug(`engine stdout: ${line}`));
    pipeLines(proc.stderr, (line) => this.logger.warn(`engine stderr: ${line}`));
    proc.on('error', (err) => this.logger.error(`engine process error: ${err.message}`));
    proc.on('exit', (code, signal) => this.onExit(worker, code, signal));
    connection.onError(() => undefined);
    connection.onClose(() => undefined);
    connection.onNotification(EngineNotifications.text, ({ streamId, chunk }) => this.streams.get(streamId)?.(chunk));
    connection.onNotification(EngineNotifications.state, (state) => {
      if (this.worker === worker) this.setState(state);
    });
    connection.onNotification(EngineNotifications.log, ({ level, message }) => this.logger[level](message));
    connection.listen();
    try {
      const info = await connection.sendRequest(EngineRpc.start, this.settings);
      this.logger.info(
        `engine ready: ${info.modelName} (${info.gpu}, ${info.layersOffloaded}/${info.totalLayers} layers on the GPU, ${Math.round(info.loadTimeMs)} ms)`,
      );
      this.setState({ kind: 'ready' });
      return connection;
    } catch (err) {
      if (worker.gone) throw crashedError();
      const error = fromRpcError(err);
      if (!this.disposed && this.worker === worker) this.startFailure = error;
      this.setState({ kind: 'error', message: error.message });
      await this.stopWorker('start failed', false);
      throw error;
    }
  }

  private backoffDelay(): number {
    const now = Date.now();
    const recent = this.crashes.filter((t) => now - t < this.options.crashWindowMs);
    if (recent.length === 0) return 0;
    const wanted = this.options.backoffMs * 2 ** (recent.length - 1);
    return Math.max(0, recent[recent.length - 1] + wanted - now);
  }

  private onExit(worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    worker.gone = true;
    worker.connection.dispose();
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.starting = undefined;
    if (worker.stopping) return;

    const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
    this.logger.error(`the engine process ${how}`);
    for (const request of [...this.inFlight]) request.fail(crashedError(how));
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => now - t < this.options.crashWindowMs), now];
    this.crashedSinceStart = true;
    if (this.crashes.length >= this.options.maxRestarts) {
      this.gaveUp =
        `The engine process stopped unexpectedly ${this.crashes.length} times within ${Math.round(this.options.crashWindowMs / 1000)} s, ` +
        'so Enclave stopped restarting it. Check the log (Enclave: Show Log) — often the model is too large for this machine — then run "Enclave: Restart Engine".';
      this.setState({ kind: 'error', message: this.gaveUp });
      return;
    }
    const restartInMs = this.backoffDelay();
    this.setState({ kind: 'crashed', message: `The engine process ${how}; restarting.`, restartInMs });
    if (this.options.autoRestart && !this.disposed) {
      this.restartTimer = setTimeout(() => {
        if (this.disposed || this.worker || this.gaveUp) return;
        this.ensureStarted().catch((err) => this.logger.warn(`engine restart failed: ${errorMessage(err)}`));
      }, restartInMs);
      this.restartTimer.unref();
    }
  }

  /** Stops the current worker on purpose (graceful shutdown, then SIGKILL). */
  private async stopWorker(reason: string, announce = true): Promise<void> {
    const worker = this.worker;
    this.starting = undefined;
    if (!worker) {
      if (announce && !this.gaveUp) this.setState({ kind: 'stopped' });
      return;
    }
    worker.stopping = true;
    this.worker = undefined;
    for (const request of [...this.inFlight]) request.fail(new EngineError('ENGINE_UNAVAILABLE', `The engine was stopped (${reason}).`));
    if (!worker.gone) {
      const exited = new Promise<void>((resolve) => worker.proc.once('exit', () => resolve()));
      worker.connection.sendRequest(EngineRpc.shutdown).catch(() => undefined);
      const timer = setTimeout(() => worker.proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    if (announce) this.setState({ kind: 'stopped' });
  }
}

function crashedError(how = 'stopped unexpectedly'): EngineError {
  return new EngineError('ENGINE_CRASHED', `The engine process ${how} while handling this request. Enclave restarts it; try again.`);
}

function cloneSettings(settings: EngineSettings): EngineSettings {
  return { ...settings, adapters: settings.adapters.map((a) => ({ ...a })) };
}

function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new EngineError('CANCELLED', 'Request cancelled.'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function pipeLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (data: string) => {
    buffer += data;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trimEnd();
      buffer = buffer.slice(nl + 1);
      if (line) onLine(line);
    }
  });
}
