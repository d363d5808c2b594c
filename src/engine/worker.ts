// Entry of the engine process (forked by EngineClient, bundled to dist/worker.js): serves the
// runtime over JSON-RPC on the IPC channel. A native crash here takes only this process down.
import {
  createMessageConnection,
  IPCMessageReader,
  IPCMessageWriter,
  type CancellationToken,
  type NotificationType,
  type RequestParam,
} from 'vscode-jsonrpc/node';

import type { Logger } from '../logger';
import { EngineError, type EngineSettings, type RequestOptions } from './protocol';
import { EngineNotifications, EngineRpc, toResponseError, type LogLevel } from './rpc';
import { EngineRuntime } from './runtime';

const connection = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));

function notify<P>(type: NotificationType<P>, params: RequestParam<P>): void {
  connection.sendNotification(type, params).catch(() => undefined);
}

const log = (level: LogLevel) => (message: string | Error) =>
  notify(EngineNotifications.log, { level, message: typeof message === 'string' ? message : (message.stack ?? message.message) });
const logger: Logger = { trace: log('trace'), debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };

let runtime: Promise<EngineRuntime> | undefined;

function engine(): Promise<EngineRuntime> {
  if (!runtime) return Promise.reject(new EngineError('ENGINE_UNAVAILABLE', 'The engine has not been started.'));
  return runtime;
}

function abortSignalFor(token: CancellationToken): AbortSignal {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  else token.onCancellationRequested(() => controller.abort());
  return controller.signal;
}

function requestOptions(streamId: number | undefined, token: CancellationToken): RequestOptions {
  const signal = abortSignalFor(token);
  return {
    signal,
    onText:
      streamId === undefined
        ? undefined
        : (chunk) => {
            if (!signal.aborted) notify(EngineNotifications.text, { streamId, chunk });
          },
  };
}

/** Every handler answers with a value or an EngineError carried as a ResponseError. */
function handle<P, R>(work: (params: P, token: CancellationToken) => Promise<R>) {
  return async (params: P, token: CancellationToken): Promise<R> => {
    try {
      return await work(params, token);
    } catch (err) {
      throw toResponseError(err);
    }
  };
}

function handle0<R>(work: () => Promise<R>) {
  return async (): Promise<R> => {
    try {
      return await work();
    } catch (err) {
      throw toResponseError(err);
    }
  };
}

connection.onRequest(
  EngineRpc.start,
  handle(async (settings: EngineSettings) => {
    if (!runtime) {
      let lastPercent = -1;
      notify(EngineNotifications.state, { kind: 'loading', progress: 0, file: settings.modelPath });
      runtime = EngineRuntime.load(settings, {
        logger,
        onProgress: ({ progress, file }) => {
          const percent = Math.floor(progress * 100);
          if (percent === lastPercent) return;
          lastPercent = percent;
          notify(EngineNotifications.state, { kind: 'loading', progress, file });
        },
      });
      runtime.catch(() => (runtime = undefined));
    }
    const info = await (await runtime).info();
    notify(EngineNotifications.state, { kind: 'ready' });
    return info;
  }),
);
connection.onRequest(
  EngineRpc.info,
  handle0(async () => (await engine()).info()),
);
connection.onRequest(
  EngineRpc.completeFim,
  handle(async ({ request, streamId }, token) => (await engine()).completeFim(request, requestOptions(streamId, token))),
);
connection.onRequest(
  EngineRpc.chat,
  handle(async ({ request, streamId }, token) => (await engine()).chat(request, requestOptions(streamId, token))),
);
connection.onRequest(
  EngineRpc.generateStructured,
  handle(async ({ request, streamId }, token) => (await engine()).generateStructured(request, requestOptions(streamId, token))),
);
connection.onRequest(
  EngineRpc.countTokens,
  handle(async ({ text }) => (await engine()).countTokens(text)),
);
connection.onRequest(
  EngineRpc.setAdapters,
  handle(async ({ adapters }) => (await engine()).setAdapters(adapters)),
);
connection.onRequest(
  EngineRpc.embed,
  handle(async (request, token) => (await engine()).embed(request, { signal: abortSignalFor(token) })),
);
connection.onRequest(
  EngineRpc.metrics,
  handle0(async () => (await engine()).metrics()),
);
connection.onRequest(
  EngineRpc.shutdown,
  handle0(async () => {
    const current = runtime;
    runtime = undefined;
    await (await current?.catch(() => undefined))?.dispose();
    setImmediate(() => process.exit(0));
  }),
);

// The extension host went away (or closed the channel): nothing left to serve.
process.on('disconnect', () => process.exit(0));
connection.onClose(() => process.exit(0));
process.on('unhandledRejection', (reason) =>
  logger.error(`unhandled rejection in the engine: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`),
);

connection.listen();
