// The status bar item that names where prompts go while a remote backend is in use.
import * as vscode from 'vscode';

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
