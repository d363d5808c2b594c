// The remote Backend: any OpenAI-compatible server (vLLM, llama-server, Ollama, another machine's
// `enclave serve`). Chat and structured output go to POST {base}/chat/completions (streamed with
// server-sent events), FIM to POST {base}/completions with the FIM prompt as is (special tokens as
// text — servers that parse special tokens in the prompt do FIM this way), model info to
// GET {base}/models. Only the configured server is contacted: nothing else, ever.
// Over 400 lines: the HTTP client (streaming, errors with the server's words, the tokenize probe)
// is here; the wire shapes, SSE parsing and finish reasons are shared with the server (openaiWire.ts).
import type { Logger } from '../logger';
import { nullLogger } from '../logger';
import { sseData, stopReasonFor } from './openaiWire';
import {
  emptyMetrics,
  EngineError,
  type AdapterSpec,
  type AdapterSwitchResult,
  type Backend,
  type ChatMessage,
  type ChatRequest,
  type EngineErrorCode,
  type EngineInfo,
  type EngineMetrics,
  type EngineState,
  type FimFamily,
  type FimRequest,
  type GenerationResult,
  type RequestOptions,
  type RequestStats,
  type StructuredRequest,
  type StructuredResult,
} from './protocol';
import { errorMessage, notifyAll } from '../util';

/** The environment variable an optional API key for the remote server is read from. */
export const REMOTE_API_KEY_ENV = 'ENCLAVE_REMOTE_API_KEY';

export interface RemoteBackendOptions {
  /** Base URL of the OpenAI-compatible API, e.g. http://127.0.0.1:8080/v1. Empty: every call fails clearly. */
  url: string;
  /** Model name to request; empty: the first model the server lists. */
  model?: string;
  /** Sent as `Authorization: Bearer <key>`; default $ENCLAVE_REMOTE_API_KEY. */
  apiKey?: string;
  logger?: Logger;
  /** Largest wait for the server's response headers (default 60 s; generation itself is not limited). */
  connectTimeoutMs?: number;
}

/** Characters per token for the estimate when the server has no tokenizer endpoint. */
const CHARS_PER_TOKEN = 3.5;

interface StreamOutcome {
  text: string;
  finishReason?: string;
  usage?: { prompt_tokens?: number; completion_tokens?: number };
  timings?: { prompt_n?: number; cache_n?: number; predicted_n?: number };
  chunks: number;
  firstTokenMs: number;
  /** Generation was cut by maxTimeMs (not an error: the text so far is the result). */
  timedOut: boolean;
}

export class RemoteBackend implements Backend {
  readonly kind = 'remote' as const;
  private readonly base: string;
  private readonly configError?: string;
  private readonly apiKey: string;
  private readonly logger: Logger;
  private readonly connectTimeoutMs: number;
  private model?: Promise<string>;
  private tokenizeUrl?: string | null;
  private state: EngineState = { kind: 'stopped' };
  private readonly listeners = new Set<(state: EngineState) => void>();
  private readonly controllers = new Set<AbortController>();
  private disposed = false;
  private readonly counters: EngineMetrics = emptyMetrics();

  constructor(private readonly options: RemoteBackendOptions) {
    this.logger = options.logger ?? nullLogger;
    this.apiKey = options.apiKey ?? process.env[REMOTE_API_KEY_ENV] ?? '';
    this.connectTimeoutMs = options.connectTimeoutMs ?? 60_000;
    const raw = options.url.trim();
    this.base = raw.replace(/\/+$/, '');
    if (!raw) {
      this.configError =
        'enclave.backend.kind is "remote" but enclave.backend.remoteUrl is empty. Set it to the server\'s OpenAI-compatible base URL ' +
        '(e.g. http://127.0.0.1:8080/v1), or set enclave.backend.kind to "local".';
    } else {
      let parsed: URL | undefined;
      try {
        parsed = new URL(this.base);
      } catch {
        parsed = undefined;
      }
      if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
        this.configError = `enclave.backend.remoteUrl "${raw}" is not an http(s) URL. Set it to the server's OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1.`;
      }
    }
    if (this.configError) this.state = { kind: 'error', message: this.configError };
  }

  /** The base URL requests go to (trailing slashes removed). */
  get url(): string {
    return this.base;
  }

  // ------------------------------------------------------------------ Backend

  async info(): Promise<EngineInfo> {
    const started = Date.now();
    const list = await this.listModels();
    const wanted = this.options.model?.trim();
    const entry = (wanted ? list.find((m) => m.id === wanted) : undefined) ?? (wanted ? { id: wanted } : list[0]);
    if (!entry)
      throw new EngineError(
        'MODEL_NOT_FOUND',
        `The remote server at ${this.base} lists no models. Load a model there, or set enclave.backend.remoteModel.`,
      );
    const name = String(entry.id);
    const meta = (entry.meta ?? {}) as { n_ctx_train?: number; size?: number };
    return {
      backend: 'remote',
      gpu: this.base,
      gpuDeviceNames: [],
      layersOffloaded: 0,
      totalLayers: 0,
      vram: { total: 0, used: 0, free: 0 },
      ram: { total: 0, used: 0, free: 0 },
      cpuCores: 0,
      threads: 0,
      contextSize: numberOr(entry.max_model_len, numberOr(meta.n_ctx_train, 0)),
      sequences: 0,
      modelPath: `${this.base}#${name}`,
      modelName: name,
      architecture: 'remote',
      modelSizeBytes: numberOr(meta.size, 0),
      fimFamily: guessFimFamily(name),
      speculative: 'off',
      adapters: [],
      loadTimeMs: Date.now() - started,
    };
  }

  async completeFim(request: FimRequest, options: RequestOptions = {}): Promise<GenerationResult> {
    const body: Record<string, unknown> = {
      model: await this.modelName(options.signal),
      prompt: request.prompt,
      max_tokens: request.maxTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    };
    if (request.stop?.length) body.stop = request.stop;
    const result = await this.generate('/completions', body, options, request.maxTimeMs);
    return { ...result, text: cutAtStop(result.text, request.stop) };
  }

  /** A streamed /chat/completions body for a chat or structured request. */
  private async chatBody(request: ChatRequest, signal: AbortSignal | undefined): Promise<Record<string, unknown>> {
    return {
      model: await this.modelName(signal),
      messages: wireMessages(request.messages),
      max_tokens: request.maxTokens,
      // Greedy unless asked otherwise, as the local engine does (servers' own defaults are 0.7–1).
      temperature: request.temperature ?? 0,
      stream: true,
      stream_options: { include_usage: true },
    };
  }

  async chat(request: ChatRequest, options: RequestOptions = {}): Promise<GenerationResult> {
    return this.generate('/chat/completions', await this.chatBody(request, options.signal), options);
  }

  async generateStructured(request: StructuredRequest, options: RequestOptions = {}): Promise<StructuredResult> {
    const body: Record<string, unknown> = {
      // One model serves every kind of request here: which engine was asked for does not matter.
      ...(await this.chatBody({ ...request, engine: undefined }, options.signal)),
      response_format: { type: 'json_schema', json_schema: { name: 'enclave_result', schema: request.schema, strict: true } },
    };
    if (request.seed !== undefined) body.seed = request.seed;
    const result = await this.generate('/chat/completions', body, options);
    try {
      return { ...result, value: JSON.parse(result.text) as unknown };
    } catch {
      const cut = result.stats.stopReason === 'maxTokens';
      const shown = result.text.length > 200 ? `${result.text.slice(0, 200)}…` : result.text;
      throw new EngineError(
        'INTERNAL',
        cut
          ? `The remote server at ${this.base} stopped at maxTokens (${request.maxTokens}) before the JSON was complete: ${JSON.stringify(shown)}. Raise the token limit.`
          : `The remote server at ${this.base} returned output that is not JSON: ${JSON.stringify(shown)}. ` +
              'It may not support response_format json_schema (vLLM, llama-server and recent Ollama do); use one that does, or the local engine.',
      );
    }
  }

  async countTokens(text: string): Promise<number> {
    if (this.configError) throw new EngineError('ENGINE_UNAVAILABLE', this.configError);
    if (this.tokenizeUrl === undefined) this.tokenizeUrl = await this.probeTokenize();
    if (this.tokenizeUrl) {
      try {
        const response = await this.fetchChecked(this.tokenizeUrl, {
          method: 'POST',
          body: JSON.stringify({ content: text, add_special: false, parse_special: true }),
        });
        const tokens = ((await response.json()) as { tokens?: unknown }).tokens;
        if (Array.isArray(tokens)) return tokens.length;
      } catch (err) {
        this.logger.debug(`remote tokenize failed, estimating instead: ${errorMessage(err)}`);
      }
    }
    return Math.ceil(text.length / CHARS_PER_TOKEN);
  }

  async setAdapters(adapters: AdapterSpec[]): Promise<AdapterSwitchResult> {
    // Clearing adapters is what a model change asks for; a remote server has none of Enclave's.
    if (adapters.length === 0) return { adapters: [], switchMs: 0, modelReloaded: false };
    throw new EngineError(
      'BAD_REQUEST',
      `LoRA adapters need Enclave's local engine; the remote server at ${this.base} cannot load them from here ` +
        '(load them on the server itself, e.g. llama-server --lora). Set enclave.backend.kind to "local" to use adapters.',
    );
  }

  async metrics(): Promise<EngineMetrics> {
    return { ...this.counters };
  }

  onState(listener: (state: EngineState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get currentState(): EngineState {
    return this.state;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const controller of this.controllers) controller.abort();
    this.controllers.clear();
    this.listeners.clear();
  }

  // ------------------------------------------------------------------ HTTP

  private async listModels(signal?: AbortSignal): Promise<Array<Record<string, unknown> & { id: unknown }>> {
    const response = await this.fetchChecked(`${this.base}/models`, { method: 'GET', signal });
    const body = (await response.json().catch(() => ({}))) as { data?: unknown; models?: unknown };
    const list = Array.isArray(body.data) ? body.data : Array.isArray(body.models) ? body.models : [];
    return list.filter((m): m is Record<string, unknown> & { id: unknown } => typeof m === 'object' && m !== null && 'id' in m);
  }

  /** The configured model name, else the first the server lists (asked once). */
  private modelName(signal?: AbortSignal): Promise<string> {
    if (this.configError) return Promise.reject(new EngineError('ENGINE_UNAVAILABLE', this.configError));
    const wanted = this.options.model?.trim();
    if (wanted) return Promise.resolve(wanted);
    if (!this.model) {
      const model = this.listModels(signal).then((list) => {
        if (!list[0])
          throw new EngineError(
            'MODEL_NOT_FOUND',
            `The remote server at ${this.base} lists no models. Load a model there, or set enclave.backend.remoteModel.`,
          );
        return String(list[0].id);
      });
      this.model = model;
      model.catch(() => {
        if (this.model === model) this.model = undefined;
      });
    }
    return this.model;
  }

  /**
   * llama-server answers POST /tokenize at its root (beside /v1) — the same server, no other host;
   * others do not, and then we estimate. Unknown (undefined) while the server cannot be reached.
   */
  private async probeTokenize(): Promise<string | null | undefined> {
    const root = this.base.replace(/\/v1$/, '');
    const url = `${root}/tokenize`;
    try {
      const response = await this.fetchRaw(url, { method: 'POST', body: JSON.stringify({ content: 'a' }), timeoutMs: 3000 });
      const body = (await response.json().catch(() => undefined)) as { tokens?: unknown } | undefined;
      return response.ok && Array.isArray(body?.tokens) ? url : null;
    } catch {
      return undefined;
    }
  }

  /** One streamed generation: POST, parse server-sent events, collect text and stats. */
  private async generate(
    path: string,
    body: Record<string, unknown>,
    options: RequestOptions,
    maxTimeMs?: number,
  ): Promise<GenerationResult> {
    const { signal, onText } = options;
    if (signal?.aborted) throw new EngineError('CANCELLED', 'Request cancelled.');
    const started = Date.now();
    this.counters.requests++;
    const controller = new AbortController();
    this.controllers.add(controller);
    let timedOut = false;
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer =
      maxTimeMs !== undefined && maxTimeMs > 0
        ? setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, maxTimeMs)
        : undefined;
    try {
      const outcome = await this.stream(path, body, controller.signal, started, () => timedOut, onText);
      const stats = this.stats(outcome, started);
      this.record(stats);
      return { text: outcome.text, stats };
    } catch (err) {
      const error = this.toEngineError(err, path, signal);
      if (error.code === 'CANCELLED') this.counters.cancelled++;
      else this.counters.failed++;
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      this.controllers.delete(controller);
    }
  }

  private async stream(
    path: string,
    body: Record<string, unknown>,
    signal: AbortSignal,
    started: number,
    timedOut: () => boolean,
    onText?: (chunk: string) => void,
  ): Promise<StreamOutcome> {
    const outcome: StreamOutcome = { text: '', chunks: 0, firstTokenMs: 0, timedOut: false };
    let response: Response;
    try {
      response = await this.fetchChecked(`${this.base}${path}`, { method: 'POST', body: JSON.stringify(body), signal });
    } catch (err) {
      if (timedOut()) return { ...outcome, timedOut: true, firstTokenMs: Date.now() - started };
      throw err;
    }
    const contentType = response.headers.get('content-type') ?? '';
    if (!contentType.includes('text/event-stream')) {
      // A server that ignores `stream: true` answers with one JSON body.
      const json = (await response.json()) as Record<string, unknown>;
      this.absorb(json, outcome, started, onText);
      return outcome;
    }
    if (!response.body) throw new EngineError('INTERNAL', `The remote server at ${this.base} sent an empty stream.`);
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (this.event(event, outcome, started, onText)) return outcome;
        }
      }
      if (buffer.trim()) this.event(buffer, outcome, started, onText);
      return outcome;
    } catch (err) {
      if (timedOut()) {
        outcome.timedOut = true;
        return outcome;
      }
      throw err;
    } finally {
      reader.cancel().catch(() => undefined);
    }
  }

  /** Handles one server-sent event; true when the stream is done. */
  private event(event: string, outcome: StreamOutcome, started: number, onText?: (chunk: string) => void): boolean {
    const data = sseData(event);
    if (!data) return false;
    if (data.trim() === '[DONE]') return true;
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(data) as Record<string, unknown>;
    } catch {
      throw new EngineError(
        'INTERNAL',
        `The remote server at ${this.base} sent an event that is not JSON: ${JSON.stringify(data.slice(0, 200))}.`,
      );
    }
    this.absorb(json, outcome, started, onText);
    return false;
  }

  /** Folds one response object (a stream chunk or a whole non-streamed answer) into the outcome. */
  private absorb(json: Record<string, unknown>, outcome: StreamOutcome, started: number, onText?: (chunk: string) => void): void {
    if (json.error) throw streamError(this.base, json.error);
    const choice = (Array.isArray(json.choices) ? json.choices[0] : undefined) as
      { delta?: { content?: unknown }; message?: { content?: unknown }; text?: unknown; finish_reason?: unknown } | undefined;
    const piece = choice?.delta?.content ?? choice?.message?.content ?? choice?.text;
    if (typeof piece === 'string' && piece !== '') {
      if (outcome.chunks === 0) outcome.firstTokenMs = Date.now() - started;
      outcome.chunks++;
      outcome.text += piece;
      onText?.(piece);
    }
    if (typeof choice?.finish_reason === 'string') outcome.finishReason = choice.finish_reason;
    if (json.usage && typeof json.usage === 'object') outcome.usage = json.usage as StreamOutcome['usage'];
    if (json.timings && typeof json.timings === 'object') outcome.timings = json.timings as StreamOutcome['timings'];
  }

  private stats(outcome: StreamOutcome, started: number): RequestStats {
    const promptTokens = numberOr(outcome.usage?.prompt_tokens, 0);
    // llama-server reports how much of the prompt its cache already held.
    const reused = numberOr(outcome.timings?.cache_n, 0);
    const evaluated =
      outcome.timings?.prompt_n !== undefined ? numberOr(outcome.timings.prompt_n, promptTokens) : Math.max(0, promptTokens - reused);
    const stopReason = stopReasonFor(outcome.finishReason, outcome.timedOut);
    return {
      promptTokens,
      evaluatedTokens: evaluated,
      reusedTokens: reused,
      generatedTokens: numberOr(outcome.usage?.completion_tokens, numberOr(outcome.timings?.predicted_n, outcome.chunks)),
      timeToFirstTokenMs: outcome.chunks > 0 ? outcome.firstTokenMs : Date.now() - started,
      totalMs: Date.now() - started,
      queuedMs: 0,
      stopReason,
    };
  }

  private record(stats: RequestStats): void {
    const c = this.counters;
    c.promptTokens += stats.promptTokens;
    c.evaluatedTokens += stats.evaluatedTokens;
    c.reusedTokens += stats.reusedTokens;
    c.generatedTokens += stats.generatedTokens;
    c.lastLatencyMs = stats.totalMs;
    const genMs = stats.totalMs - stats.timeToFirstTokenMs;
    c.lastTokensPerSecond = stats.generatedTokens > 1 && genMs > 0 ? ((stats.generatedTokens - 1) * 1000) / genMs : 0;
  }

  /** fetch with the API key, JSON body, a bound on the wait for headers; HTTP errors become EngineErrors. */
  private async fetchChecked(url: string, init: { method: string; body?: string; signal?: AbortSignal }): Promise<Response> {
    const response = await this.fetchRaw(url, init);
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      let detail: unknown = text;
      try {
        detail = (JSON.parse(text) as { error?: unknown }).error ?? text;
      } catch {
        // plain text
      }
      const error = remoteError(this.base, response.status, detail, url);
      if (response.status === 401 || response.status === 403 || response.status === 404)
        this.setState({ kind: 'error', message: error.message });
      throw error;
    }
    if (this.state.kind !== 'ready') this.setState({ kind: 'ready' });
    return response;
  }

  private async fetchRaw(
    url: string,
    init: { method: string; body?: string; signal?: AbortSignal; timeoutMs?: number },
  ): Promise<Response> {
    if (this.configError) throw new EngineError('ENGINE_UNAVAILABLE', this.configError);
    if (this.disposed) throw new EngineError('ENGINE_UNAVAILABLE', 'The remote backend has been disposed.');
    const headers: Record<string, string> = { accept: 'application/json, text/event-stream' };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    const connect = new AbortController();
    const timeoutMs = init.timeoutMs ?? this.connectTimeoutMs;
    const timer = setTimeout(() => connect.abort(), timeoutMs);
    const onAbort = () => connect.abort();
    init.signal?.addEventListener('abort', onAbort, { once: true });
    if (init.signal?.aborted) connect.abort();
    try {
      return await fetch(url, {
        method: init.method,
        headers,
        body: init.body,
        signal: init.signal ? AbortSignal.any([init.signal, connect.signal]) : connect.signal,
      });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      if (connect.signal.aborted) {
        throw new EngineError(
          'ENGINE_UNAVAILABLE',
          `The remote model server at ${this.base} did not answer within ${Math.round(timeoutMs / 1000)} s. Check that it is running and not overloaded.`,
        );
      }
      const error = unreachable(this.base, err);
      this.setState({ kind: 'error', message: error.message });
      throw error;
    } finally {
      clearTimeout(timer);
      init.signal?.removeEventListener('abort', onAbort);
    }
  }

  private toEngineError(err: unknown, path: string, signal?: AbortSignal): EngineError {
    if (signal?.aborted) return new EngineError('CANCELLED', 'Request cancelled.');
    if (err instanceof EngineError) return err;
    if (err instanceof Error && err.name === 'AbortError') return new EngineError('CANCELLED', 'Request cancelled.');
    const message = errorMessage(err);
    return new EngineError(
      'ENGINE_UNAVAILABLE',
      `The connection to the remote model server at ${this.base} broke during ${path}: ${message}. Try again; check the server's log if it repeats.`,
    );
  }

  private setState(state: EngineState): void {
    if (JSON.stringify(state) === JSON.stringify(this.state)) return;
    this.state = state;
    notifyAll(this.listeners, state, this.logger);
  }
}

/**
 * The FIM family a served model probably speaks, from its name alone (a server does not tell its
 * special tokens): a guess — Qwen's format for names with "qwen" or a generic "coder".
 */
export function guessFimFamily(modelName: string): FimFamily | null {
  const name = modelName.toLowerCase();
  if (name.includes('deepseek')) return 'deepseek';
  if (name.includes('codellama') || name.includes('code-llama')) return 'codellama';
  if (name.includes('starcoder')) return 'starcoder';
  if (name.includes('codestral')) return 'codestral';
  if (name.includes('qwen') || name.includes('coder')) return 'qwen';
  return null;
}

function wireMessages(messages: ChatMessage[]): Array<{ role: string; content: string }> {
  return messages.map((m) => ({ role: m.role, content: m.content }));
}

function cutAtStop(text: string, stop?: string[]): string {
  if (!stop?.length) return text;
  let end = text.length;
  for (const s of stop) {
    const i = s ? text.indexOf(s) : -1;
    if (i >= 0 && i < end) end = i;
  }
  return text.slice(0, end);
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function detailText(detail: unknown): string {
  if (typeof detail === 'string') return detail.trim().slice(0, 300);
  if (detail && typeof detail === 'object' && typeof (detail as { message?: unknown }).message === 'string')
    return (detail as { message: string }).message.slice(0, 300);
  return JSON.stringify(detail ?? '').slice(0, 300);
}

/** An HTTP error status from the server as an EngineError that says what to do. */
function remoteError(base: string, status: number, detail: unknown, url = base): EngineError {
  const said = detailText(detail);
  const suffix = said ? ` The server said: ${said}` : '';
  let code: EngineErrorCode = 'INTERNAL';
  let message: string;
  if (status === 401 || status === 403) {
    code = 'ENGINE_UNAVAILABLE';
    message = `The remote model server at ${base} refused the request (HTTP ${status}): set its API key in the environment variable ${REMOTE_API_KEY_ENV} before starting VS Code.`;
  } else if (status === 404) {
    code = 'ENGINE_UNAVAILABLE';
    message = `The remote model server at ${base} has no ${new URL(url).pathname} (HTTP 404): check that enclave.backend.remoteUrl is the OpenAI-compatible base URL (usually ending in /v1) and that enclave.backend.remoteModel names a model it serves.`;
  } else if (status === 400 || status === 413 || status === 422) {
    code = 'BAD_REQUEST';
    message = `The remote model server at ${base} rejected the request (HTTP ${status}).`;
  } else if (status === 503 || status === 502 || status === 504) {
    code = 'ENGINE_UNAVAILABLE';
    message = `The remote model server at ${base} is unavailable (HTTP ${status}); it may still be loading its model. Try again shortly.`;
  } else {
    message = `The remote model server at ${base} failed (HTTP ${status}); check its log.`;
  }
  return new EngineError(code, message + suffix);
}

const passedOn = new Set<string>([
  'BAD_REQUEST',
  'NO_FIM',
  'MODEL_NOT_FOUND',
  'MODEL_INVALID',
  'MODEL_TOO_LARGE',
  'ENGINE_CRASHED',
  'ENGINE_UNAVAILABLE',
]);

/** An error the server reported inside a response (mid-stream, or as the body of a 200). */
function streamError(base: string, detail: unknown): EngineError {
  const given = (detail as { code?: unknown } | null)?.code;
  const code = typeof given === 'string' && passedOn.has(given) ? (given as EngineErrorCode) : 'INTERNAL';
  return new EngineError(code, `The remote model server at ${base} failed while generating: ${detailText(detail)}`);
}

function unreachable(base: string, err: unknown): EngineError {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const why = cause?.code ?? cause?.message ?? errorMessage(err);
  return new EngineError(
    'ENGINE_UNAVAILABLE',
    `Cannot reach the remote model server at ${base} (${why}). Check that it is running and that enclave.backend.remoteUrl is right, or set enclave.backend.kind to "local".`,
  );
}
