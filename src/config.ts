import * as vscode from 'vscode';

import type { SpeculativeMode } from './engine/protocol';

const SECTION = 'enclave';

/**
 * Enclave's settings behind one typed class (package.json `contributes.configuration` is the
 * schema). Getters read live values; `onDidChange` tells features which part changed.
 */
export class Config implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.ConfigurationChangeEvent>();
  private readonly subscription: vscode.Disposable;
  /** Fires when any `enclave.*` setting changes; use `affects('completion')` etc. to filter. */
  readonly onDidChange = this.emitter.event;

  constructor() {
    this.subscription = vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(SECTION)) this.emitter.fire(e);
    });
  }

  private get raw(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration(SECTION);
  }

  private get<T>(key: string, fallback: T): T {
    return this.raw.get<T>(key, fallback);
  }

  /** The completion / default model file; falls back to $ENCLAVE_MODEL. Empty = none chosen. */
  get modelPath(): string {
    return this.get('model.path', '') || process.env.ENCLAVE_MODEL || '';
  }
  get chatModelPath(): string {
    return this.get('model.chatPath', '');
  }
  get draftModelPath(): string {
    return this.get('model.draftPath', '') || process.env.ENCLAVE_DRAFT_MODEL || '';
  }

  get engine() {
    return {
      contextSize: this.get('engine.contextSize', 8192),
      sequences: this.get('engine.sequences', 4),
      threads: this.get('engine.threads', 0),
      batchSize: this.get('engine.batchSize', 512),
      gpu: this.get<'auto' | 'cpu'>('engine.gpu', 'auto'),
    };
  }

  get backend() {
    return {
      kind: this.get<'local' | 'remote'>('backend.kind', 'local'),
      remoteUrl: this.get('backend.remoteUrl', ''),
      remoteModel: this.get('backend.remoteModel', ''),
    };
  }

  get completion() {
    return {
      enabled: this.get('completion.enabled', true),
      /** Language id → enabled; `*` is the default for languages not listed. */
      languages: this.get<Record<string, boolean>>('completion.languages', { '*': true }),
      maxLines: this.get('completion.maxLines', 8),
      maxTokens: this.get('completion.maxTokens', 64),
      maxTimeMs: this.get('completion.maxTimeMs', 500),
      contextTokens: this.get('completion.contextTokens', 1536),
      extraContext: this.get('completion.extraContext', true),
      /** Milliseconds, or -1 for adaptive (derived from measured latency). */
      debounceMs: this.get('completion.debounceMs', -1),
      speculative: this.get<SpeculativeMode>('completion.speculative', 'auto'),
    };
  }

  get chat() {
    return {
      maxTokens: this.get('chat.maxTokens', 1024),
      temperature: this.get('chat.temperature', 0.2),
    };
  }

  get review() {
    return {
      maxTokens: this.get('review.maxTokens', 768),
      contextLines: this.get('review.contextLines', 5),
    };
  }

  get adapters() {
    return {
      folders: this.get<string[]>('adapters.folders', []),
    };
  }

  get server() {
    return {
      enabled: this.get('server.enabled', false),
      port: this.get('server.port', 11435),
    };
  }

  isLanguageEnabled(languageId: string): boolean {
    const languages = this.completion.languages;
    return languages[languageId] ?? languages['*'] ?? true;
  }

  async update(key: string, value: unknown, target = vscode.ConfigurationTarget.Global): Promise<void> {
    await this.raw.update(key, value, target);
  }

  dispose(): void {
    this.subscription.dispose();
    this.emitter.dispose();
  }
}
