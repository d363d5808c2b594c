import * as os from 'node:os';
import * as path from 'node:path';

import * as vscode from 'vscode';

import type { Config } from './config';
import { EngineClient } from './engine/client';
import type { Backend, EngineSettings, EngineState } from './engine/protocol';
import { RemoteBackend } from './engine/remote';
import { RoutingBackend, separateChatModel } from './engine/routing';
import type { Log, Logger } from './log';

/**
 * Owns the backends and hands features the one to use:
 * - `enclave.backend.kind` = remote: a RemoteBackend on `enclave.backend.remoteUrl` (rebuilt when the
 *   URL or model setting changes; an empty URL fails each call with a clear error);
 * - local: the engine client, built from the configuration; when `enclave.model.chatPath` names a
 *   different model, a RoutingBackend sends chat and review to a second engine process on it
 *   (started on the first chat request) and everything else to the completion engine.
 * A model change restarts the engines lazily, never at activation; model files that live in an
 * untrusted workspace are refused.
 */
export class BackendHost implements vscode.Disposable {
  private readonly client: EngineClient;
  private chat?: { path: string; client: EngineClient; routing: RoutingBackend };
  private remote?: { key: string; backend: RemoteBackend };
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly logger: Logger;
  private readonly changed = new vscode.EventEmitter<Backend>();
  private last?: Backend;
  /**
   * Fires when `backend` would return another object (local ↔ remote, a new remote URL or model,
   * a chat model set or cleared): subscriptions made on the old one (onState) should move.
   */
  readonly onDidChangeBackend = this.changed.event;

  constructor(
    private readonly extension: vscode.ExtensionContext,
    private readonly config: Config,
    log: Log,
  ) {
    this.logger = log.for('engine');
    this.client = this.newClient(this.settings(), '');
    this.subscriptions.push(
      config.onDidChange((e) => {
        if (['enclave.model', 'enclave.engine', 'enclave.completion.speculative'].some((s) => e.affectsConfiguration(s))) {
          // A new base model starts without adapters: the adapters feature re-validates the
          // workspace's adapter against it and applies it only when it fits.
          const adapters = e.affectsConfiguration('enclave.model') ? [] : this.client.currentAdapters;
          void this.client.updateSettings({ ...this.settings(), adapters });
          this.updateChat();
        }
        if (e.affectsConfiguration('enclave.backend')) this.dropRemoteIfChanged();
        this.announceChange();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        void this.client.updateSettings({ ...this.settings(), adapters: this.client.currentAdapters });
        this.updateChat();
        this.announceChange();
      }),
      vscode.commands.registerCommand('enclave.engine.restart', () => this.restart()),
    );
  }

  get backend(): Backend {
    this.last = this.current();
    return this.last;
  }

  /** The state of whichever backend is current: listeners move along when the backend changes. */
  onState(listener: (state: EngineState) => void): () => void {
    let unsubscribe = this.backend.onState(listener);
    const moved = this.onDidChangeBackend((next) => {
      unsubscribe();
      unsubscribe = next.onState(listener);
    });
    return () => {
      unsubscribe();
      moved.dispose();
    };
  }

  private current(): Backend {
    if (this.config.backend.kind === 'remote') return this.remoteBackend();
    const chatPath = this.chatModelPath();
    if (!chatPath) {
      this.dropChat();
      return this.client;
    }
    if (this.chat?.path !== chatPath) {
      this.dropChat();
      const client = this.newClient(this.chatSettings(chatPath), 'chat model: ');
      this.chat = { path: chatPath, client, routing: new RoutingBackend(this.client, client, chatPath) };
      this.logger.info(`chat and review use a separate model: ${chatPath}`);
    }
    return this.chat.routing;
  }

  /** After a settings change: tell subscribers when the backend features use is another object now. */
  private announceChange(): void {
    if (!this.last) return;
    const next = this.current();
    if (next === this.last) return;
    this.last = next;
    this.changed.fire(next);
  }

  private async restart(): Promise<void> {
    if (this.config.backend.kind === 'remote') {
      // Nothing runs here: forget the old connection and check the server answers.
      this.dropRemote();
      this.announceChange();
      await this.remoteBackend().info();
      return;
    }
    const chat = this.chat?.client;
    await Promise.all([this.client.restart(), chat && chat.currentState.kind !== 'stopped' ? chat.restart() : undefined]);
  }

  private newClient(settings: EngineSettings, label: string): EngineClient {
    const client = new EngineClient(settings, label ? prefixed(this.logger, label) : this.logger, {
      workerPath: path.join(this.extension.extensionPath, 'dist', 'worker.js'),
    });
    client.onState((state) => this.logState(label, state));
    return client;
  }

  private logState(label: string, state: EngineState): void {
    this.logger.info(`${label}state: ${state.kind}${'message' in state ? ` — ${state.message}` : ''}${state.kind === 'loading' ? ` ${Math.round(state.progress * 100)}%` : ''}`);
  }

  // ------------------------------------------------------------------ remote

  private remoteKey(): string {
    const { remoteUrl, remoteModel } = this.config.backend;
    return JSON.stringify([remoteUrl.trim(), remoteModel.trim()]);
  }

  private remoteBackend(): RemoteBackend {
    const key = this.remoteKey();
    if (this.remote?.key !== key) {
      this.dropRemote();
      const { remoteUrl, remoteModel } = this.config.backend;
      const backend = new RemoteBackend({ url: remoteUrl, model: remoteModel, logger: this.logger });
      backend.onState((state) => this.logState('remote: ', state));
      this.remote = { key, backend };
      this.logger.info(`backend: remote ${backend.url || '(no URL set)'}${remoteModel ? `, model ${remoteModel}` : ''}`);
    }
    return this.remote.backend;
  }

  private dropRemoteIfChanged(): void {
    if (this.remote && (this.config.backend.kind !== 'remote' || this.remote.key !== this.remoteKey())) this.dropRemote();
  }

  private dropRemote(): void {
    const remote = this.remote;
    this.remote = undefined;
    void remote?.backend.dispose();
  }

  // ------------------------------------------------------------------ chat model

  /** The separate chat model, or '' when chat uses the completion model. */
  private chatModelPath(): string {
    return separateChatModel(this.trustedPath(this.config.chatModelPath), this.trustedPath(this.config.modelPath));
  }

  /** Applies changed settings to the chat engine; a different chat model gets a new engine on next use. */
  private updateChat(): void {
    if (!this.chat) return;
    const chatPath = this.chatModelPath();
    if (chatPath !== this.chat.path) this.dropChat();
    else void this.chat.client.updateSettings(this.chatSettings(chatPath));
  }

  private dropChat(): void {
    const chat = this.chat;
    if (!chat) return;
    this.chat = undefined;
    // The old router keeps passing the completion engine's state on to whoever subscribed to it.
    chat.routing.releaseChat();
    void chat.client.dispose();
  }

  // ------------------------------------------------------------------ settings

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

  /** The chat engine: the same engine settings on the chat model, without the completion model's draft or adapters. */
  private chatSettings(chatPath: string): EngineSettings {
    return { ...this.settings(), modelPath: chatPath, draftModelPath: undefined, adapters: [] };
  }

  private trustedPath(file: string): string {
    if (!file || vscode.workspace.isTrusted) return file;
    const inWorkspace = (vscode.workspace.workspaceFolders ?? []).some((f) => !path.relative(f.uri.fsPath, file).startsWith('..'));
    return inWorkspace ? '' : file;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.changed.dispose();
    this.chat?.routing.detach();
    this.dropChat();
    this.dropRemote();
    void this.client.dispose();
  }
}

/** The engine's log lines for the chat model, marked as such. */
function prefixed(logger: Logger, label: string): Logger {
  return {
    trace: (m) => logger.trace(label + m),
    debug: (m) => logger.debug(label + m),
    info: (m) => logger.info(label + m),
    warn: (m) => logger.warn(label + m),
    error: (m) => logger.error(typeof m === 'string' ? label + m : m),
  };
}

/** Leave a core for the editor; llama.cpp's default (max(cores, 4)) is 100× slower on 2 cores. */
function defaultThreads(): number {
  const cores = os.availableParallelism();
  return Math.max(1, Math.min(8, cores - 1));
}
