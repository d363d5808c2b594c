import * as vscode from 'vscode';

import type { Log, Logger } from './logChannel';
import { errorMessage } from './util';

/**
 * Registers a command whose failure is logged and shown to the user with a way to the log,
 * instead of VS Code's bare "command failed"; `onError` lets the feature refresh its own state.
 */
export function registerGuardedCommand<A extends unknown[]>(
  log: Log,
  logger: Logger,
  name: string,
  handler: (...args: A) => Promise<unknown>,
  onError?: () => void,
): vscode.Disposable {
  return vscode.commands.registerCommand(name, async (...args: A) => {
    try {
      return await handler(...args);
    } catch (error) {
      const message = errorMessage(error);
      logger.error(`${name}: ${message}`);
      onError?.();
      void vscode.window.showErrorMessage(`Enclave: ${message}`, 'Show Log').then((choice) => choice && log.show());
      return undefined;
    }
  });
}
