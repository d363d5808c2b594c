// The JSON-RPC surface between the engine client (extension host) and the engine process: method
// and notification names with their parameter types, shared by both sides so they cannot drift.
import { NotificationType, RequestType, RequestType0, ResponseError } from 'vscode-jsonrpc/node';

import {
  EngineError,
  type AdapterSpec,
  type AdapterSwitchResult,
  type ChatRequest,
  type EmbedRequest,
  type EmbedResult,
  type EngineErrorCode,
  type EngineInfo,
  type EngineMetrics,
  type EngineSettings,
  type EngineState,
  type FimRequest,
  type GenerationResult,
  type StructuredRequest,
  type StructuredResult,
} from './protocol';
import { errorMessage } from '../util';

/** Requests that stream text name a stream id; chunks arrive as `text` notifications. */
export interface Streamed<T> {
  request: T;
  streamId?: number;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export const EngineRpc = {
  /** Loads the model; answers when ready (state notifications report progress meanwhile). */
  start: new RequestType<EngineSettings, EngineInfo, EngineErrorData>('enclave/start'),
  info: new RequestType0<EngineInfo, EngineErrorData>('enclave/info'),
  completeFim: new RequestType<Streamed<FimRequest>, GenerationResult, EngineErrorData>('enclave/completeFim'),
  chat: new RequestType<Streamed<ChatRequest>, GenerationResult, EngineErrorData>('enclave/chat'),
  generateStructured: new RequestType<Streamed<StructuredRequest>, StructuredResult, EngineErrorData>('enclave/generateStructured'),
  countTokens: new RequestType<{ text: string }, number, EngineErrorData>('enclave/countTokens'),
  setAdapters: new RequestType<{ adapters: AdapterSpec[] }, AdapterSwitchResult, EngineErrorData>('enclave/setAdapters'),
  embed: new RequestType<EmbedRequest, EmbedResult, EngineErrorData>('enclave/embed'),
  metrics: new RequestType0<EngineMetrics, EngineErrorData>('enclave/metrics'),
  /** Disposes the model; the process exits after answering. */
  shutdown: new RequestType0<void, EngineErrorData>('enclave/shutdown'),
} as const;

export const EngineNotifications = {
  text: new NotificationType<{ streamId: number; chunk: string }>('enclave/text'),
  state: new NotificationType<EngineState>('enclave/state'),
  log: new NotificationType<{ level: LogLevel; message: string }>('enclave/log'),
} as const;

export interface EngineErrorData {
  code: EngineErrorCode;
}

/** JSON-RPC error code for every EngineError; the EngineErrorCode travels in `data`. */
export const ENGINE_ERROR = -32050;

export function toResponseError(err: unknown): ResponseError<EngineErrorData> {
  const engineError = err instanceof EngineError ? err : new EngineError('INTERNAL', errorMessage(err));
  return new ResponseError(ENGINE_ERROR, engineError.message, { code: engineError.code });
}

/** Turns whatever a request rejected with into an EngineError. */
export function fromRpcError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  if (err instanceof ResponseError) {
    const data = err.data as Partial<EngineErrorData> | undefined;
    if (data?.code) return new EngineError(data.code, err.message);
    return new EngineError('INTERNAL', err.message);
  }
  return new EngineError('INTERNAL', errorMessage(err));
}
