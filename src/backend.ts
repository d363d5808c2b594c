import * as os from 'node:os';
import * as path from 'node:path';

import * as vscode from 'vscode';

import { engineSettings, promptDestination, type BackendChoice } from './backendChoice';
import type { Config } from './config';
import { EngineClient } from './engine/client';
import type { Backend, EngineSettings, EngineState } from './engine/protocol';
import { RemoteBackend } from './engine/remote';
import { RoutingBackend } from './engine/routing';
import type { Log, Logger } from './logChannel';
import { RefusingBackend, SwitchingBackend } from './switchingBackend';

/**
 * Owns the backends and keeps one stable `backend` (a SwitchingBackend) pointed at the one the
 * settings choose (backendChoice.ts decides, from the Config snapshot and the trust state):
 * - remote: a RemoteBackend on `enclave.backend.remoteUrl` (rebuilt when the URL or model changes),
 *   or a RefusingBackend explaining why the URL is not used;
 * - local: the engine client; when `enclave.model.chatPath` or `enclave.model.nextEditPath` names
 *   a different model, a RoutingBackend sends chat and review, or next-edit prompts, to an engine
 *   process of its own on that model (started on first use).
 * Everything happens on setting and trust events, never while a feature reads `backend`; engines
 * restart lazily, never at activation.
 */
export class BackendHost implements vscode.Disposable {
  /** The backend every feature and the API server use; the same object for the host's lifetime. */
  readonly backend: SwitchingBackend;
  private readonly client: EngineClient;
  /** Engines of models set apart from the completion model, and the routing over them. */
  private readonly sides: Partial<Record<SideRole, { path: string; client: EngineClient }>> = {};
  private routing?: RoutingBackend;
  private remote?: { key: string; backend: Backend };
  private choice: BackendChoice;
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly logger: Logger;
  private readonly destinationEmitter = new vscode.EventEmitter<string | undefined>();
  private reported = new Set<string>();
  /** Fires with the host prompts now go to (undefined: this machine). */
  readonly onDidChangeDestination = this.destinationEmitter.event;

  constructor(
    private readonly extension: vscode.ExtensionContext,
    private readonly config: Config,
    log: Log,
  ) {
    this.logger = log.for('engine');
    this.choice = this.choose();
    this.client = this.newClient(this.choice.local.completion, '');
    this.backend = new SwitchingBackend(this.target());
    this.report();
    this.subscriptions.push(
      config.onDidChange((e) => this.apply(e.affectsConfiguration('enclave.model.path'))),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.apply(false)),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.apply(false)),
      vscode.commands.registerCommand('enclave.engine.restart', () => this.restart()),
    );
  }

  /** Where prompts go when not to this machine (the remote host), else undefined. */
  get destination(): string | undefined {
    return promptDestination(this.choice);
  }

  private choose(): BackendChoice {
    return engineSettings(this.config.snapshot, {
      trusted: vscode.workspace.isTrusted,
      workspaceFolders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
      cores: os.availableParallelism(),
    });
  }

  /** Applies what the settings now ask for and points `backend` at it. */
  private apply(modelChanged: boolean): void {
    const before = this.choice;
    this.choice = this.choose();
    if (JSON.stringify(before) === JSON.stringify(this.choice)) return;
    const next = this.choice.local.completion;
    const previous = before.local.completion;
    if (JSON.stringify(previous) !== JSON.stringify(next)) {
      // A new base model starts without adapters: the adapters feature re-validates the
      // workspace's adapter against it and applies it only when it fits.
      const adapters = modelChanged || previous.modelPath !== next.modelPath ? [] : this.client.currentAdapters;
      void this.client.updateSettings({ ...next, adapters });
    }
    if (this.choice.kind === 'local') {
      this.updateSides(next);
      this.dropRemote();
    }
    this.backend.switchTo(this.target());
    this.report();
    if (promptDestination(before) !== this.destination) this.destinationEmitter.fire(this.destination);
  }

  /** The backend the current choice names (creating it when needed). */
  private target(): Backend {
    const choice = this.choice;
    if (choice.kind === 'remote') return this.remoteBackend(choice);
    if (!choice.local.chatModelPath && !choice.local.nextEditModelPath) return this.client;
    if (!this.routing) this.updateSides(choice.local.completion);
    return this.routing ?? this.client;
  }

  /** Logs and shows each new reason a configured value is not used. */
  private report(): void {
    const problems = new Set(this.choice.problems);
    for (const problem of problems) {
      if (this.reported.has(problem)) continue;
      this.logger.warn(problem);
      void vscode.window.showWarningMessage(problem);
    }
    this.reported = problems;
  }

  private async restart(): Promise<void> {
    if (this.choice.kind === 'remote') {
      // Nothing runs here: forget the old connection and check the server answers.
      this.dropRemote();
      this.backend.switchTo(this.target());
      await this.backend.info();
      return;
    }
    const started = Object.values(this.sides)
      .map((side) => side.client)
      .filter((client) => client.currentState.kind !== 'stopped');
    await Promise.all([this.client.restart(), ...started.map((client) => client.restart())]);
  }

  private newClient(settings: EngineSettings, label: string): EngineClient {
    const client = new EngineClient(settings, label ? prefixed(this.logger, label) : this.logger, {
      workerPath: path.join(this.extension.extensionPath, 'dist', 'worker.js'),
    });
    client.onState((state) => this.logState(label, state));
    return client;
  }

  private logState(label: string, state: EngineState): void {
    this.logger.info(
      `${label}state: ${state.kind}${'message' in state ? ` — ${state.message}` : ''}${state.kind === 'loading' ? ` ${Math.round(state.progress * 100)}%` : ''}`,
    );
  }

  // ------------------------------------------------------------------ remote

  private remoteBackend(choice: BackendChoice): Backend {
    const server = choice.remote ?? { url: '', model: '' };
    const refused = server.url ? undefined : choice.problems[0];
    const key = JSON.stringify([server.url, server.model, refused ?? '']);
    if (this.remote?.key !== key) {
      this.dropRemote();
      let backend: Backend;
      if (refused) {
        backend = new RefusingBackend(refused);
      } else {
        const remote = new RemoteBackend({ url: server.url, model: server.model, logger: this.logger });
        remote.onState((state) => this.logState('remote: ', state));
        backend = remote;
        this.logger.info(`backend: remote ${remote.url || '(no URL set)'}${server.model ? `, model ${server.model}` : ''}`);
      }
      this.remote = { key, backend };
    }
    return this.remote.backend;
  }

  private dropRemote(): void {
    const remote = this.remote;
    this.remote = undefined;
    void remote?.backend.dispose();
  }

  // ------------------------------------------------------------------ chat and next-edit models

  /**
   * Keeps the side engines in line with the settings (a new engine for a new model, none without)
   * and the routing over them; the caller points `backend` at `target()`.
   */
  private updateSides(completion: EngineSettings): void {
    const paths: Record<SideRole, string> = {
      chat: this.choice.local.chatModelPath,
      nextEdit: this.choice.local.nextEditModelPath,
    };
    let changed = false;
    for (const role of sideRoles) {
      const settings: EngineSettings = { ...completion, modelPath: paths[role], draftModelPath: undefined, adapters: [] };
      const side = this.sides[role];
      if (side && side.path === paths[role]) {
        void side.client.updateSettings(settings);
        continue;
      }
      if (!side && !paths[role]) continue;
      changed = true;
      if (side) {
        delete this.sides[role];
        this.routing?.release(role);
        void side.client.dispose();
      }
      if (!paths[role]) continue;
      this.sides[role] = { path: paths[role], client: this.newClient(settings, `${sideLabels[role]}: `) };
      this.logger.info(`${role === 'chat' ? 'chat and review use' : 'next-edit suggestions use'} a separate model: ${paths[role]}`);
    }
    if (!changed && this.routing) return;
    this.routing?.detach();
    const engine = (role: SideRole) => {
      const side = this.sides[role];
      return side && { backend: side.client, path: side.path };
    };
    const chat = engine('chat');
    const nextEdit = engine('nextEdit');
    this.routing = chat || nextEdit ? new RoutingBackend(this.client, { chat, nextEdit }) : undefined;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.destinationEmitter.dispose();
    void this.backend.dispose();
    this.routing?.detach();
    for (const side of Object.values(this.sides)) void side.client.dispose();
    this.dropRemote();
    void this.client.dispose();
  }
}

type SideRole = 'chat' | 'nextEdit';
const sideRoles: readonly SideRole[] = ['chat', 'nextEdit'];
const sideLabels: Record<SideRole, string> = { chat: 'chat model', nextEdit: 'next-edit model' };

/** The engine's log lines for a side model, marked as such. */
function prefixed(logger: Logger, label: string): Logger {
  return {
    trace: (m) => logger.trace(label + m),
    debug: (m) => logger.debug(label + m),
    info: (m) => logger.info(label + m),
    warn: (m) => logger.warn(label + m),
    error: (m) => logger.error(typeof m === 'string' ? label + m : m),
  };
}
