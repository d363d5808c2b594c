import * as vscode from 'vscode';

import type { Config } from './config';
import type { Logger } from './logChannel';
import type { WorkspaceRequest } from './settings';
import { errorMessage } from './util';

/** What a workspace value would do, in the user's words (the host or the file is named). */
export function describeRequest(request: WorkspaceRequest): string {
  const value = request.value;
  switch (request.key) {
    case 'backend.kind':
      return value === 'remote'
        ? 'send your code and prompts to a remote server instead of the model on this machine'
        : `use the "${String(value)}" backend`;
    case 'backend.remoteUrl': {
      let host = String(value);
      try {
        host = new URL(host).host;
      } catch {
        // not a URL: name it as written
      }
      return `send your code and prompts to ${host} (${String(value)})`;
    }
    case 'backend.remoteModel':
      return `ask the remote server for the model "${String(value)}"`;
    case 'adapters.folders':
      return `load LoRA adapters from ${Array.isArray(value) ? value.join(', ') : String(value)}`;
    default:
      return `load the model file ${String(value)} (enclave.${request.key})`;
  }
}

/**
 * Asks the user about each workspace value of a sensitive setting (settings.ts keeps it out of
 * effect until then) with a modal that names the host or the file; the answer is remembered, so
 * each value is asked once.
 */
export function registerWorkspaceSettingPrompts(config: Config, logger: Logger): vscode.Disposable {
  const asking = new Set<string>();
  const ask = async (requests: readonly WorkspaceRequest[]): Promise<void> => {
    for (const request of requests) {
      const id = JSON.stringify([request.key, request.value]);
      if (asking.has(id)) continue;
      asking.add(id);
      try {
        const allow = 'Allow';
        const choice = await vscode.window.showWarningMessage(
          `This workspace's settings (enclave.${request.key}) ask Enclave to ${describeRequest(request)}. Allow it?`,
          { modal: true, detail: 'Until you allow it, Enclave uses your own settings. Your answer is remembered for this value.' },
          allow,
          "Don't Allow",
        );
        if (choice === undefined) continue; // dismissed: asked again next time the settings change
        logger.info(`workspace value of enclave.${request.key} ${choice === allow ? 'allowed' : 'refused'} by the user`);
        await config.answer(request, choice === allow);
      } finally {
        asking.delete(id);
      }
    }
  };
  const askLogged = (pending: readonly WorkspaceRequest[]) =>
    void ask(pending).catch((err: unknown) =>
      logger.warn(`could not ask about the workspace's settings (they stay out of effect): ${errorMessage(err)}`),
    );
  if (config.pending.length > 0) askLogged(config.pending);
  return config.onDidChangePending(askLogged);
}
