// Project rules for prompts: the loader's result per workspace folder, cached until one of the
// rules files changes, the trust or the setting changes. Chat, review, inline edit and commit
// messages read them through `EnclaveContext.rulesFor`.
import * as vscode from 'vscode';

import type { Config } from '../config';
import type { Logger } from '../logger';
import { loadRules, RULE_FILES, type RuleFile } from './loader';

export { RULE_FILES, type RuleFile } from './loader';

/** What a prompt gets: the files (for a chip naming them) and their text under headings. */
export interface Rules {
  files: readonly RuleFile[];
  text: string;
}

/** The rules for a folder, or undefined when there are none / they are off / untrusted. */
export type RulesFor = (workspaceFolder?: vscode.Uri) => Promise<Rules | undefined>;

export class RulesService implements vscode.Disposable {
  private readonly cache = new Map<string, Promise<Rules | undefined>>();
  private readonly emitter = new vscode.EventEmitter<void>();
  private readonly subscriptions: vscode.Disposable[];
  /** Fires when rules may have changed (a file, the trust, the setting): ask `rulesFor` again. */
  readonly onDidChange = this.emitter.event;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    const watcher = vscode.workspace.createFileSystemWatcher(`**/{${RULE_FILES.join(',')},.clinerules/*.md}`);
    const changed = () => this.invalidate();
    this.subscriptions = [
      watcher,
      watcher.onDidCreate(changed),
      watcher.onDidChange(changed),
      watcher.onDidDelete(changed),
      vscode.workspace.onDidGrantWorkspaceTrust(changed),
      vscode.workspace.onDidChangeWorkspaceFolders(changed),
      config.onDidChange((e) => {
        if (e.affectsConfiguration('enclave.rules')) changed();
      }),
    ];
  }

  /**
   * The rules of the workspace folder that holds `uri` (the folder or any file in it; default: the
   * first folder; outside every folder: none). Undefined: no rules files, `enclave.rules.enabled` off, or an untrusted workspace.
   */
  readonly rulesFor: RulesFor = (uri) => {
    // Only a workspace folder's rules: a file outside every folder has none.
    const folder = uri ? vscode.workspace.getWorkspaceFolder(uri)?.uri : vscode.workspace.workspaceFolders?.[0]?.uri;
    if (!folder || folder.scheme !== 'file' || !this.config.rules.enabled || !vscode.workspace.isTrusted) {
      return Promise.resolve(undefined);
    }
    const key = folder.fsPath;
    let rules = this.cache.get(key);
    if (!rules) {
      rules = this.load(key);
      this.cache.set(key, rules);
    }
    return rules;
  };

  private async load(folder: string): Promise<Rules | undefined> {
    try {
      const loaded = await loadRules(folder, { trusted: vscode.workspace.isTrusted });
      for (const skip of loaded.skipped) this.logger.warn(`rules file ${skip.path} skipped: ${skip.reason}`);
      for (const file of loaded.files) {
        if (file.truncated) this.logger.warn(`rules file ${file.path} is too long: only its beginning is used`);
      }
      if (loaded.files.length === 0) return undefined;
      this.logger.info(`rules: ${loaded.files.map((f) => f.path).join(', ')}`);
      return { files: loaded.files, text: loaded.text };
    } catch (err) {
      this.logger.warn(`rules could not be read: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  }

  private invalidate(): void {
    this.cache.clear();
    this.emitter.fire();
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.emitter.dispose();
  }
}
