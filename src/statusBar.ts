import * as vscode from 'vscode';

import { formatStatus, type StatusView } from './completion/status';
import type { EngineState } from './engine/protocol';

/** Enclave's status bar item: engine state, model name, last latency; a click opens the menu. */
export class EnclaveStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private view: StatusView = { enabled: true, languageEnabled: true, generating: false };

  constructor(command: string) {
    this.item = vscode.window.createStatusBarItem('enclave.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Enclave';
    this.item.command = command;
    this.render();
    this.item.show();
  }

  setEngine(engine: EngineState): void {
    this.update({ engine, ...(engine.kind === 'ready' ? {} : { generating: false }) });
  }

  update(change: Partial<StatusView>): void {
    this.view = { ...this.view, ...change };
    this.render();
  }

  get state(): Readonly<StatusView> {
    return this.view;
  }

  private render(): void {
    const status = formatStatus(this.view);
    this.item.text = status.text;
    this.item.tooltip = status.tooltip;
    this.item.backgroundColor =
      status.severity === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : status.severity === 'warning'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}

/**
 * A second status bar item, shown only while prompts leave this machine: it names the host, so a
 * remote backend is never silent.
 */
export class DestinationStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('enclave.destination', vscode.StatusBarAlignment.Right, 99);

  constructor() {
    this.item.name = 'Enclave: where prompts go';
    this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    this.item.command = { title: 'Enclave settings', command: 'workbench.action.openSettings', arguments: ['enclave.backend'] };
  }

  /** `where`: the remote host, or undefined when everything stays on this machine. */
  show(where: string | undefined): void {
    if (!where) {
      this.item.hide();
      return;
    }
    this.item.text = `$(globe) Enclave → ${where}`;
    this.item.tooltip = `Enclave sends your prompts, attached code and review diffs to ${where} (enclave.backend.remoteUrl). Click to change it.`;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
