import { randomBytes } from 'node:crypto';

import * as vscode from 'vscode';

import type { EnclaveContext } from '../context';
import { startServer, type RunningServer } from '../engine/server';
import { errorMessage } from '../util';

const TOKEN_KEY = 'enclave.server.token';

/**
 * The in-editor OpenAI-compatible endpoint: other local tools use the model Enclave already has
 * loaded. 127.0.0.1 only, bearer token from secret storage; off unless the user turns it on.
 */
export function registerServer(ctx: EnclaveContext): vscode.Disposable {
  const log = ctx.log.for('server');
  let running: RunningServer | undefined;
  let busy = Promise.resolve();

  const token = async (): Promise<string> => {
    const stored = await ctx.extension.secrets.get(TOKEN_KEY);
    if (stored) return stored;
    const fresh = randomBytes(24).toString('base64url');
    await ctx.extension.secrets.store(TOKEN_KEY, fresh);
    return fresh;
  };

  const start = async (): Promise<void> => {
    if (running) return;
    const { port } = ctx.config.server;
    try {
      // ctx.backend() is the one stable backend (backend.ts): the server follows settings changes.
      running = await startServer(ctx.backend(), { port, token: await token(), modelName: 'enclave', logger: log });
      log.info(`OpenAI-compatible server on ${running.url} (bearer token required)`);
      const choice = await vscode.window.showInformationMessage(
        `Enclave serves the local model on ${running.url} (OpenAI-compatible; a bearer token is required).`,
        'Copy Token',
      );
      if (choice) await vscode.env.clipboard.writeText(await token());
    } catch (err) {
      const message = errorMessage(err);
      log.error(`server did not start: ${message}`);
      void vscode.window.showErrorMessage(
        `Enclave could not start its local server on port ${port}: ${message}. Change enclave.server.port and try again.`,
      );
    }
  };
  const stop = async (): Promise<void> => {
    const server = running;
    running = undefined;
    if (server) {
      await server.close();
      log.info('server stopped');
    }
  };
  const serialized = (work: () => Promise<void>) => (busy = busy.then(work, work));

  if (ctx.config.server.enabled) void serialized(start);
  return vscode.Disposable.from(
    vscode.commands.registerCommand('enclave.server.toggle', () => serialized(() => (running ? stop() : start()))),
    ctx.config.onDidChange((e) => {
      if (!e.affectsConfiguration('enclave.server')) return;
      void serialized(async () => {
        await stop();
        if (ctx.config.server.enabled) await start();
      });
    }),
    { dispose: () => void stop() },
  );
}
