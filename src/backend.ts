import * as os from 'node:os';
import * as path from 'node:path';

import * as vscode from 'vscode';

import type { Config } from './config';
import { EngineClient } from './engine/client';
import type { Backend, EngineSettings } from './engine/protocol';
import type { Log } from './log';

/**
 * Owns the local engine client: builds its settings from the configuration, applies changes
 * (a model change restarts the engine lazily, never at activation), and refuses model files that
 * live in an untrusted workspace.
 */
export class BackendHost implements vscode.Disposable {
  private readonly client: EngineClient;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly extension: vscode.ExtensionContext,
    private readonly config: Config,
    log: Log,
  ) {
    const logger = log.for('engine');
    this.client = new EngineClient(this.settings(), logger, {
      workerPath: path.join(extension.extensionPath, 'dist', 'worker.js'),
    });
    this.client.onState((state) => logger.info(`state: ${state.kind}${'message' in state ? ` — ${state.message}` : ''}${state.kind === 'loading' ? ` ${Math.round(state.progress * 100)}%` : ''}`));
    this.subscriptions.push(
      config.onDidChange((e) => {
        if (['enclave.model', 'enclave.engine', 'enclave.completion.speculative'].some((s) => e.affectsConfiguration(s))) {
          // A new base model starts without adapters: the adapters feature re-validates the
          // workspace's adapter against it and applies it only when it fits.
          const adapters = e.affectsConfiguration('enclave.model') ? [] : this.client.currentAdapters;
          void this.client.updateSettings({ ...this.settings(), adapters });
        }
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.client.updateSettings({ ...this.settings(), adapters: this.client.currentAdapters })),
      vscode.commands.registerCommand('enclave.engine.restart', () => this.client.restart()),
    );
  }

  get backend(): Backend {
    return this.client;
  }

  /** Engine settings from the configuration; workspace files are not loaded while untrusted. */
  private settings(): EngineSettings {
    const engine = this.config.engine;
    return {
      modelPath: this.trustedPath(this.config.modelPath),
      draftModelPath: this.trustedPath(this.config.draftModelPath) || undefined,
      speculative: this.config.completion.speculative,
      contextSize: engine.contextSize,
      sequences: engine.sequences,
      threads: engine.threads || defaultThreads(),
      batchSize: engine.batchSize,
      gpu: engine.gpu,
      adapters: [],
    };
  }

  private trustedPath(file: string): string {
    if (!file || vscode.workspace.isTrusted) return file;
    const inWorkspace = (vscode.workspace.workspaceFolders ?? []).some((f) => !path.relative(f.uri.fsPath, file).startsWith('..'));
    return inWorkspace ? '' : file;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    void this.client.dispose();
  }
}

/** Leave a core for the editor; llama.cpp's default (max(cores, 4)) is 100× slower on 2 cores. */
function defaultThreads(): number {
  const cores = os.availableParallelism();
  return Math.max(1, Math.min(8, cores - 1));
}
