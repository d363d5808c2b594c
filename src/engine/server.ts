// An OpenAI-compatible HTTP endpoint over any Backend, so other tools can use the model Enclave
// has loaded: GET /v1/models, POST /v1/chat/completions (streaming with server-sent events,
// `response_format: json_schema` through the grammar), POST /v1/completions (the prompt as is,
// special tokens as text). Listens on 127.0.0.1 only and requires a bearer token.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Logger } from '../logger';
import { nullLogger } from '../logger';
import { EngineError, type Backend, type ChatMessage, type EngineErrorCode, type GenerationResult, type RequestStats } from './protocol';

export interface ServerOptions {
  /** 0 picks a free port. */
  port: number;
  /** Clients send `Authorization: Bearer <token>`. */
  token: string;
  modelName: string;
  logger?: Logger;
  /** Largest request body accepted (default 8 MiB). */
  maxBodyBytes?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
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

export async function startServer(backend: Backend, options: ServerOptions): Promise<RunningServer> {
  if (options.token.length < 16) throw new Error('The server token must be at least 16 characters.');
  const logger = options.logger ?? nullLogger;
  const expected = Buffer.from(`Bearer ${options.token}`);
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, err);
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new HttpError(401, 'Missing or wrong bearer token.', 'authentication_error');
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/v1/models') {
      return sendJson(res, 200, { object: 'list', data: [{ id: options.modelName, object: 'model', created: 0, owned_by: 'enclave' }] });
    }
    if (req.method !== 'POST' || (url.pathname !== '/v1/chat/completions' && url.pathname !== '/v1/completions')) {
      throw new HttpError(404, `No route for ${req.method} ${url.pathname}.`);
    }
    const body = await readJson(req, options.maxBodyBytes ?? 8 * 1024 * 1024);
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const stream = body.stream === true;
    const maxTokens = positiveInt(body.max_tokens ?? body.max_completion_tokens, 256);
    const id = `enclave-${Date.now().toString(36)}`;
    const chat = url.pathname === '/v1/chat/completions';

    let onText: ((chunk: string) => void) | undefined;
    if (stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      onText = (chunk) => {
        const choice = chat ? { index: 0, delta: { content: chunk }, finish_reason: null } : { index: 0, text: chunk, finish_reason: null };
        res.write(`data: ${JSON.stringify({ id, object: chat ? 'chat.completion.chunk' : 'text_completion', model: options.modelName, choices: [choice] })}\n\n`);
      };
    }
    const started = Date.now();
    let result: GenerationResult;
    try {
      result = chat ? await runChat(body, maxTokens, controller.signal, onText) : await runCompletion(body, maxTokens, controller.signal, onText);
    } catch (err) {
      if (!stream) throw err;
      res.write(`data: ${JSON.stringify({ error: errorBody(err).error })}\n\n`);
      res.end();
      return;
    }
    logger.info(`${url.pathname}: ${result.stats.generatedTokens} tokens in ${Date.now() - started} ms`);
    const finish = finishReason(result.stats.stopReason);
    const usage = { prompt_tokens: result.stats.promptTokens, completion_tokens: result.stats.generatedTokens, total_tokens: result.stats.promptTokens + result.stats.generatedTokens };
    if (stream) {
      const last = chat ? { index: 0, delta: {}, finish_reason: finish } : { index: 0, text: '', finish_reason: finish };
      res.write(`data: ${JSON.stringify({ id, object: chat ? 'chat.completion.chunk' : 'text_completion', model: options.modelName, choices: [last], usage })}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    }
    const created = Math.floor(started / 1000);
    if (chat) {
      sendJson(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model: options.modelName,
        choices: [{ index: 0, message: { role: 'assistant', content: result.text }, finish_reason: finish }],
        usage,
      });
    } else {
      sendJson(res, 200, { id, object: 'text_completion', created, model: options.modelName, choices: [{ index: 0, text: result.text, finish_reason: finish }], usage });
    }
  }

  async function runChat(body: Record<string, unknown>, maxTokens: number, signal: AbortSignal, onText?: (chunk: string) => void): Promise<GenerationResult> {
    const messages = parseMessages(body.messages);
    const temperature = typeof body.temperature === 'number' ? body.temperature : undefined;
    const format = body.response_format as { type?: string; json_schema?: { schema?: object } } | undefined;
    if (format?.type === 'json_schema') {
      if (!format.json_schema?.schema) throw new HttpError(400, 'response_format.json_schema.schema is required.');
      const seed = typeof body.seed === 'number' ? body.seed : undefined;
      return backend.generateStructured({ messages, schema: format.json_schema.schema, maxTokens, temperature, seed }, { signal, onText });
    }
    return backend.chat({ messages, maxTokens, temperature }, { signal, onText });
  }

  async function runCompletion(body: Record<string, unknown>, maxTokens: number, signal: AbortSignal, onText?: (chunk: string) => void): Promise<GenerationResult> {
    if (typeof body.prompt !== 'string' || body.prompt === '') throw new HttpError(400, '`prompt` must be a non-empty string.');
    const stop = typeof body.stop === 'string' ? [body.stop] : Array.isArray(body.stop) ? body.stop.filter((s): s is string => typeof s === 'string') : undefined;
    const user = typeof body.user === 'string' ? body.user : 'default';
    return backend.completeFim({ documentKey: `server:${user}`, prompt: body.prompt, maxTokens, stop, speculative: 'auto' }, { signal, onText });
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function parseMessages(value: unknown): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) throw new HttpError(400, '`messages` must be a non-empty array.');
  return value.map((m, i) => {
    const message = m as { role?: unknown; content?: unknown };
    const role = message.role === 'developer' ? 'system' : message.role;
    if (role !== 'system' && role !== 'user' && role !== 'assistant') throw new HttpError(400, `messages[${i}].role must be system, user or assistant.`);
    let content = message.content;
    if (Array.isArray(content)) content = content.map((part: { type?: string; text?: string }) => (part?.type === 'text' ? (part.text ?? '') : '')).join('');
    if (typeof content !== 'string') throw new HttpError(400, `messages[${i}].content must be text.`);
    return { role, content };
  });
}

function positiveInt(value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new HttpError(400, 'max_tokens must be a positive integer.');
  return value;
}

function finishReason(stop: RequestStats['stopReason']): string {
  return stop === 'maxTokens' || stop === 'maxTime' ? 'length' : 'stop';
}

async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `The request body is larger than ${limit} bytes.`);
    chunks.push(chunk as Buffer);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'The request body must be a JSON object.');
  }
}

function errorBody(err: unknown): { status: number; error: { message: string; type: string; code: string | null } } {
  if (err instanceof HttpError) return { status: err.status, error: { message: err.message, type: err.type, code: null } };
  if (err instanceof EngineError) {
    const status = statusFor[err.code] ?? 500;
    return { status, error: { message: err.message, type: status === 400 ? 'invalid_request_error' : 'server_error', code: err.code } };
  }
  return { status: 500, error: { message: err instanceof Error ? err.message : String(err), type: 'server_error', code: null } };
}

function sendError(res: ServerResponse, err: unknown): void {
  const { status, error } = errorBody(err);
  sendJson(res, status, { error });
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
