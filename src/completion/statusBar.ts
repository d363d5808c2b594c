import * as vscode from 'vscode';

import { formatStatus, type StatusView } from './status';
import type { EngineState } from '../engine/protocol';

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
