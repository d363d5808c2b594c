import * as vscode from 'vscode';

import { registerAdapters } from './adapters';
import { BackendHost } from './backend';
import { registerChat } from './chat';
import { registerChatParticipant } from './chat/participant';
import { registerCommitMessage } from './commitMessage';
import { registerCodebase } from './codebase';
import { registerCompletion } from './completion';
import { Config } from './config';
import type { EnclaveContext } from './context';
import { registerInlineEdit } from './inlineEdit';
import { Log } from './logChannel';
import { registerMetrics } from './metrics';
import { MetricsRecorder } from './metrics/recorder';
import { registerLanguageModels } from './lm';
import { registerModels } from './models';
import { registerNextEdit } from './nextEdit';
import { registerReview } from './review';
import { RulesService } from './rules';
import { registerServer } from './server';
import { DestinationStatus } from './destinationStatus';
import { registerWorkspaceSettingPrompts } from './trust';
import { errorMessage } from './util';

/** Enclave's public API (used by the in-host tests and by other extensions). */
export interface EnclaveApi {
  readonly activationMs: number;
  /** The host prompts are sent to when they leave this machine (a remote backend), else undefined. */
  promptDestination(): string | undefined;
}

export async function activate(extension: vscode.ExtensionContext): Promise<EnclaveApi> {
  const started = performance.now();
  const log = new Log();
  const config = new Config(extension.globalState);
  extension.subscriptions.push(log, config);
  const logger = log.for('main');
  let destination: () => string | undefined = () => undefined;
  try {
    const host = new BackendHost(extension, config, log);
    const rules = new RulesService(config, log.for('rules'));
    const status = new DestinationStatus();
    status.show(host.destination);
    destination = () => host.destination;
    extension.subscriptions.push(
      host,
      rules,
      status,
      host.onDidChangeDestination((where) => status.show(where)),
      registerWorkspaceSettingPrompts(config, logger),
    );
    // Local metrics: features get a backend that records chat/review throughput and failures.
    const metrics = new MetricsRecorder(extension.globalStorageUri.fsPath, config, log.for('metrics'));
    const metered = metrics.meter(host.backend);
    extension.subscriptions.push(metrics, { dispose: metered.dispose });
    const ctx: EnclaveContext = {
      extension,
      config,
      log,
      backend: () => metered.backend,
      onBackendState: (listener) => host.backend.onState(listener),
      promptDestination: () => host.destination,
      onDidChangePromptDestination: host.onDidChangeDestination,
      trusted: () => vscode.workspace.isTrusted,
      rulesFor: rules.rulesFor,
      onDidChangeRules: rules.onDidChange,
    };
    const codebase = registerCodebase(ctx);
    // Features: one registerX(ctx) each (feature owners add their line here).
    extension.subscriptions.push(
      codebase.disposable,
      registerCompletion(ctx, metrics, codebase.completionContext),
      registerReview(ctx),
      registerModels(ctx),
      registerAdapters(ctx),
      registerChat(ctx, codebase.retrieveForChat),
      registerChatParticipant(ctx, codebase.retrieveForChat),
      registerServer(ctx),
      registerNextEdit(ctx, codebase.completionContext),
      registerMetrics(ctx, metrics, host.backend),
      registerLanguageModels(ctx),
      registerInlineEdit(ctx),
      registerCommitMessage(ctx),
      vscode.commands.registerCommand('enclave.showLog', () => log.show()),
    );
  } catch (err) {
    const message = errorMessage(err);
    logger.error(err instanceof Error ? err : message);
    void vscode.window.showErrorMessage(`Enclave failed to start: ${message}. See the Enclave log.`, 'Show Log').then((choice) => {
      if (choice) log.show();
    });
  }
  const activationMs = performance.now() - started;
  logger.info(`activated in ${activationMs.toFixed(1)} ms`);
  return { activationMs, promptDestination: () => destination() };
}

export function deactivate(): void {}
