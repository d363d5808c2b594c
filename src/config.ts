import * as os from 'node:os';

import * as vscode from 'vscode';

import { readSnapshot, type ConfigSnapshot, type WorkspaceRequest } from './settings';

const SECTION = 'enclave';
const ANSWERS_KEY = 'enclave.workspaceSettingAnswers';

/**
 * Enclave's settings: a snapshot (settings.ts decides what is in effect) refreshed when the
 * configuration, the workspace trust or the user's answers change — a keystroke reads plain fields,
 * not getConfiguration. `onDidChange` fires with the keys whose effective value changed.
 */
export class Config implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.ConfigurationChangeEvent>();
  private readonly pendingEmitter = new vscode.EventEmitter<readonly WorkspaceRequest[]>();
  private readonly subscriptions: vscode.Disposable[];
  private snap: ConfigSnapshot;
  private values: Record<string, string>;
  /** Fires when `enclave.*` settings in effect change; use `affectsConfiguration('enclave.completion')` etc. */
  readonly onDidChange = this.emitter.event;
  /** Fires when the workspace asks for sensitive values the user has not answered (see trust.ts). */
  readonly onDidChangePending = this.pendingEmitter.event;

  constructor(private readonly memento?: vscode.Memento) {
    this.snap = this.read();
    this.values = effectiveValues(this.snap);
    this.subscriptions = [
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(SECTION)) this.refresh();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.refresh()),
    ];
  }

  private read(): ConfigSnapshot {
    const raw = vscode.workspace.getConfiguration(SECTION);
    const answers = this.memento?.get<Record<string, boolean>>(ANSWERS_KEY) ?? {};
    return readSnapshot((key) => raw.inspect(key), {
      trusted: vscode.workspace.isTrusted,
      answer: (key, value) => answers[answerKey(key, value)],
      cores: os.availableParallelism(),
      env: process.env,
    });
  }

  /** Reads the settings again; tells listeners which effective values changed. */
  refresh(): void {
    const before = this.values;
    const pendingBefore = JSON.stringify(this.snap.pending);
    this.snap = this.read();
    this.values = effectiveValues(this.snap);
    const changed = Object.keys({ ...before, ...this.values }).filter((k) => before[k] !== this.values[k]);
    if (changed.length > 0) this.emitter.fire(changeEvent(changed));
    if (JSON.stringify(this.snap.pending) !== pendingBefore) this.pendingEmitter.fire(this.snap.pending);
  }

  /** The whole snapshot (pure data: engineSettings takes it). */
  get snapshot(): ConfigSnapshot {
    return this.snap;
  }
  /** Workspace values of sensitive settings not yet answered (not in effect). */
  get pending(): readonly WorkspaceRequest[] {
    return this.snap.pending;
  }

  /** Remembers the user's answer to a workspace value (the same value is not asked about again). */
  async answer(request: WorkspaceRequest, allowed: boolean): Promise<void> {
    if (!this.memento) return;
    const answers = { ...(this.memento.get<Record<string, boolean>>(ANSWERS_KEY) ?? {}), [answerKey(request.key, request.value)]: allowed };
    await this.memento.update(ANSWERS_KEY, answers);
    this.refresh();
  }

  /** The completion / default model file; falls back to $ENCLAVE_MODEL. Empty = none chosen. */
  get modelPath(): string {
    return this.snap.modelPath;
  }
  get chatModelPath(): string {
    return this.snap.chatModelPath;
  }
  get nextEditModelPath(): string {
    return this.snap.nextEditModelPath;
  }
  get draftModelPath(): string {
    return this.snap.draftModelPath;
  }
  get embeddingModelPath(): string {
    return this.snap.embeddingModelPath;
  }
  get engine(): ConfigSnapshot['engine'] {
    return this.snap.engine;
  }
  get backend(): ConfigSnapshot['backend'] {
    return this.snap.backend;
  }
  get completion(): ConfigSnapshot['completion'] {
    return this.snap.completion;
  }
  get index(): ConfigSnapshot['index'] {
    return this.snap.index;
  }
  get chat(): ConfigSnapshot['chat'] {
    return this.snap.chat;
  }
  get review(): ConfigSnapshot['review'] {
    return this.snap.review;
  }
  get adapters(): ConfigSnapshot['adapters'] {
    return this.snap.adapters;
  }
  get server(): ConfigSnapshot['server'] {
    return this.snap.server;
  }
  get nextEdit(): ConfigSnapshot['nextEdit'] {
    return this.snap.nextEdit;
  }
  get metrics(): ConfigSnapshot['metrics'] {
    return this.snap.metrics;
  }
  get rules(): ConfigSnapshot['rules'] {
    return this.snap.rules;
  }

  isLanguageEnabled(languageId: string): boolean {
    const languages = this.completion.languages;
    return languages[languageId] ?? languages['*'] ?? true;
  }

  async update(key: string, value: unknown, target = vscode.ConfigurationTarget.Global): Promise<void> {
    await vscode.workspace.getConfiguration(SECTION).update(key, value, target);
    // Features read the snapshot right after an update: don't leave it to the (later) event.
    this.refresh();
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.emitter.dispose();
    this.pendingEmitter.dispose();
  }
}

function answerKey(key: string, value: unknown): string {
  return JSON.stringify([key, value]);
}

/** Each setting's value in effect, by full key (`enclave.engine.threads`), for change detection. */
function effectiveValues(snapshot: ConfigSnapshot): Record<string, string> {
  const values: Record<string, string> = {
    'enclave.model.path': snapshot.modelPath,
    'enclave.model.chatPath': snapshot.chatModelPath,
    'enclave.model.nextEditPath': snapshot.nextEditModelPath,
    'enclave.model.draftPath': snapshot.draftModelPath,
    'enclave.index.embeddingPath': snapshot.embeddingModelPath,
  };
  for (const group of [
    'engine',
    'backend',
    'completion',
    'index',
    'chat',
    'review',
    'adapters',
    'server',
    'nextEdit',
    'metrics',
    'rules',
  ] as const) {
    for (const [key, value] of Object.entries(snapshot[group])) values[`enclave.${group}.${key}`] = JSON.stringify(value);
  }
  return values;
}

/** A change event for the given full keys, answering like vscode's (a section or any parent). */
function changeEvent(keys: string[]): vscode.ConfigurationChangeEvent {
  return { affectsConfiguration: (section: string) => keys.some((key) => key === section || key.startsWith(`${section}.`)) };
}
