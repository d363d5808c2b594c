// An OpenAI-compatible HTTP endpoint over any Backend, so other tools can use the model Enclave
// has loaded: GET /v1/models, POST /v1/chat/completions (streaming with server-sent events,
// `response_format: json_schema` through the grammar), POST /v1/completions (the prompt as is,
// special tokens as text). Listens on 127.0.0.1 only and requires a bearer token.
//
// Hardened because it shares the engine with the editor and runs on the user's machine: requests
// from web pages (an Origin header, or a Host that is not loopback — DNS rebinding) are refused so
// a browser cannot drive it; bodies are validated against the OpenAI schema (openaiWire.ts) and
// read with a streaming size limit; admission control (admission.ts) caps what API clients hold in
// the engine, queues a bounded number and answers 429 beyond; every request has a time limit; the
// number of connections is capped; error bodies never carry file paths.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Logger } from '../logger';
import { nullLogger } from '../logger';
import { Admission, AdmissionAbortedError, QueueFullError } from './admission';
import {
  chatCompletion,
  engineMessages,
  finishReasonFor,
  parseChatRequest,
  parseCompletionRequest,
  SSE_DONE,
  sseEvent,
  stopList,
  streamChunk,
  textCompletion,
  usageOf,
  WireValidationError,
  type ChatCompletionRequest,
  type CompletionRequest,
  type ResponseIdentity,
  type WireError,
} from './openaiWire';
import { EngineError, type Backend, type EngineErrorCode, type GenerationResult } from './protocol';

export interface ServerOptions {
  /** 0 picks a free port. */
  port: number;
  /** Clients send `Authorization: Bearer <token>`. */
  token: string;
  modelName: string;
  logger?: Logger;
  /** Largest request body accepted (default 1 MiB: far more text than any context holds). */
  maxBodyBytes?: number;
  /** API requests running in the engine at once (default 1, so the editor keeps the other sequences). */
  maxActive?: number;
  /** API requests waiting beyond those; more are answered 429 (default 16). */
  maxQueued?: number;
  /** Longest a request may take, queueing included (default 120 s); then 504 or a cut stream. */
  requestTimeoutMs?: number;
  /** Open connections at once (default 64); more are refused by the socket layer. */
  maxConnections?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  /** API requests in the engine and waiting for it (for tests and the log). */
  load(): { active: number; queued: number };
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const statusFor: Partial<Record<EngineErrorCode, number>> = {
  BAD_REQUEST: 400,
  NO_FIM: 400,
  CANCELLED: 499,
  MODEL_NOT_FOUND: 503,
  MODEL_INVALID: 503,
  MODEL_TOO_LARGE: 503,
  ENGINE_CRASHED: 503,
  ENGINE_UNAVAILABLE: 503,
};

const DEFAULT_MAX_TOKENS = 256;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export async function startServer(backend: Backend, options: ServerOptions): Promise<RunningServer> {
  if (options.token.length < 16) throw new Error('The server token must be at least 16 characters.');
  const logger = options.logger ?? nullLogger;
  const expected = Buffer.from(`Bearer ${options.token}`);
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const requestTimeoutMs = options.requestTimeoutMs ?? 120_000;
  const admission = new Admission({ maxActive: Math.max(1, options.maxActive ?? 1), maxQueued: Math.max(0, options.maxQueued ?? 16) });

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const { status } = errorBody(err);
      if (status >= 500 && !(err instanceof EngineError))
        logger.error(`${req.method} ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (!res.headersSent) sendError(res, err);
      else res.end();
    });
  });
  server.maxConnections = options.maxConnections ?? 64;
  // A client that trickles its headers or body does not hold a connection for long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    refuseBrowsers(req);
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new HttpError(401, 'Missing or wrong bearer token.', 'authentication_error');
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/v1/models') {
      return sendJson(res, 200, { object: 'list', data: [{ id: options.modelName, object: 'model', created: 0, owned_by: 'enclave' }] });
    }
    if (req.method !== 'POST' || (url.pathname !== '/v1/chat/completions' && url.pathname !== '/v1/completions')) {
      throw new HttpError(404, `No route for ${String(req.method).slice(0, 16)} ${url.pathname.slice(0, 200)}.`);
    }
    const chat = url.pathname === '/v1/chat/completions';
    const body = await readJson(req, res, maxBodyBytes);
    const request = wire(() => (chat ? parseChatRequest(body) : parseCompletionRequest(body)));

    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, requestTimeoutMs);
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    let release: (() => void) | undefined;
    try {
      try {
        release = await admission.enter(controller.signal);
      } catch (err) {
        if (err instanceof QueueFullError)
          throw new HttpError(429, err.message, 'rate_limit_error', { 'retry-after': String(err.retryAfterSeconds) });
        if (err instanceof AdmissionAbortedError && timedOut) throw timeoutError(requestTimeoutMs);
        throw new EngineError('CANCELLED', 'The client went away before the request started.');
      }
      await generate(req, res, chat, request, controller.signal, () => timedOut);
    } finally {
      clearTimeout(timer);
      release?.();
    }
  }

  async function generate(
    req: IncomingMessage,
    res: ServerResponse,
    chat: boolean,
    request: ChatCompletionRequest | CompletionRequest,
    signal: AbortSignal,
    timedOut: () => boolean,
  ): Promise<void> {
    const contextSize = (await backend.info()).contextSize;
    // The engine cannot generate past its context: a larger limit is the context.
    const maxTokens = Math.min(request.max_tokens ?? request.max_completion_tokens ?? DEFAULT_MAX_TOKENS, contextSize);
    const who: ResponseIdentity = {
      id: `enclave-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
      model: options.modelName,
      created: Math.floor(Date.now() / 1000),
    };
    const stream = request.stream === true;
    let onText: ((chunk: string) => void) | undefined;
    if (stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      onText = (chunk) => void res.write(sseEvent(streamChunk(who, chat, chunk)));
    }
    const started = Date.now();
    let result: GenerationResult;
    try {
      result = chat
        ? await runChat(request as ChatCompletionRequest, maxTokens, signal, onText)
        : await runCompletion(request as CompletionRequest, maxTokens, signal, onText);
    } catch (err) {
      const error = timedOut() ? timeoutError(requestTimeoutMs) : err;
      if (!stream) throw error;
      res.write(sseEvent({ error: errorBody(error).error }));
      res.end();
      return;
    }
    logger.info(`${req.url}: ${result.stats.generatedTokens} tokens in ${Date.now() - started} ms`);
    const finish = finishReasonFor(result.stats.stopReason);
    const usage = usageOf(result.stats);
    if (stream) {
      res.write(sseEvent(streamChunk(who, chat, '', finish, usage)));
      res.end(SSE_DONE);
      return;
    }
    sendJson(res, 200, chat ? chatCompletion(who, result.text, finish, usage) : textCompletion(who, result.text, finish, usage));
  }

  async function runChat(
    body: ChatCompletionRequest,
    maxTokens: number,
    signal: AbortSignal,
    onText?: (chunk: string) => void,
  ): Promise<GenerationResult> {
    const messages = engineMessages(body.messages);
    const temperature = body.temperature ?? undefined;
    const format = body.response_format;
    if (format?.type === 'json_schema') {
      return backend.generateStructured(
        { messages, schema: format.json_schema.schema, maxTokens, temperature, seed: body.seed ?? undefined },
        { signal, onText },
      );
    }
    return backend.chat({ messages, maxTokens, temperature }, { signal, onText });
  }

  async function runCompletion(
    body: CompletionRequest,
    maxTokens: number,
    signal: AbortSignal,
    onText?: (chunk: string) => void,
  ): Promise<GenerationResult> {
    const user = body.user ?? 'default';
    return backend.completeFim(
      {
        documentKey: `server:${user}`,
        prompt: body.prompt,
        maxTokens,
        stop: stopList(body.stop),
        speculative: 'auto',
        yieldToEditor: true,
      },
      { signal, onText },
    );
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info(`OpenAI-compatible endpoint on http://127.0.0.1:${port}/v1`);
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    load: () => ({ active: admission.activeCount, queued: admission.queuedCount }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Browsers send an Origin header with every cross-origin request (and with same-origin POSTs), and
 * a DNS-rebinding page reaches 127.0.0.1 under its own host name: neither is a local tool.
 */
function refuseBrowsers(req: IncomingMessage): void {
  if (req.headers.origin !== undefined)
    throw new HttpError(
      403,
      'Requests from web pages (with an Origin header) are refused; call this API from a local program.',
      'permission_error',
    );
  const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
  if (!LOOPBACK_HOSTS.has(host)) throw new HttpError(403, 'The Host header must be 127.0.0.1 or localhost.', 'permission_error');
}

function wire<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof WireValidationError) throw new HttpError(400, err.message);
    throw err;
  }
}

function timeoutError(limitMs: number): HttpError {
  return new HttpError(
    504,
    `The request took longer than the server's limit of ${Math.round(limitMs / 1000)} s; ask for fewer tokens or retry later.`,
    'timeout_error',
  );
}

/** Reads the body as it arrives and stops at the limit: no more than `limit` bytes are ever held. */
async function readJson(req: IncomingMessage, res: ServerResponse, limit: number): Promise<unknown> {
  const tooLarge = () => {
    // Stop reading: the rest of the body is not wanted, and the connection cannot be reused.
    res.setHeader('connection', 'close');
    res.once('finish', () => req.destroy());
    return new HttpError(413, `The request body is larger than ${limit} bytes.`);
  };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  // Not `for await`: leaving that loop early destroys the socket before the 413 is written.
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off('data', onData);
      req.pause();
      chunks.length = 0;
      reject(tooLarge());
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'The request body must be JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new HttpError(400, 'The request body must be a JSON object.');
  return value;
}

/** Replaces absolute file paths with their last part: error bodies must not reveal the machine's layout. */
export function redactPaths(message: string): string {
  return message
    .replace(/(?<![\w:/.~-])(?:~|\/)(?:[^\s'"`,;()[\]\\/]+\/)+([^\s'"`,;()[\]\\/]+)/g, '$1')
    .replace(/\b[A-Za-z]:\\(?:[^\s'"`,;()[\]\\/]+\\)+([^\s'"`,;()[\]\\/]+)/g, '$1');
}

function errorBody(err: unknown): { status: number; error: WireError; headers: Record<string, string> } {
  if (err instanceof HttpError)
    return { status: err.status, error: { message: redactPaths(err.message), type: err.type, code: null }, headers: err.headers };
  if (err instanceof EngineError) {
    const status = statusFor[err.code] ?? 500;
    return {
      status,
      error: { message: redactPaths(err.message), type: status === 400 ? 'invalid_request_error' : 'server_error', code: err.code },
      headers: {},
    };
  }
  // Anything else is a bug here, not the client's doing: its text stays in the log.
  return {
    status: 500,
    error: { message: 'Internal server error (details are in the Enclave log).', type: 'server_error', code: null },
    headers: {},
  };
}

function sendError(res: ServerResponse, err: unknown): void {
  const { status, error, headers } = errorBody(err);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  sendJson(res, status, { error });
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
