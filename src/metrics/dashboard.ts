// The dashboard's webview panel: one per window, locked down like the chat (CSP with a fresh nonce,
// resources from dist/webview only), redrawn from the store when something is recorded.
import { randomBytes } from 'node:crypto';

import * as vscode from 'vscode';

import type { Logger } from '../logger';
import { errorMessage } from '../util';
import { parsePageMessage, type DashboardData, type HostMessage, type PageMessage, type RangeId } from './dashboardData';
import { renderDashboardHtml } from './html';

export interface DashboardSource {
  data(range: RangeId): DashboardData;
  /** Fires when what the dashboard shows has changed. */
  onDidChange(listener: () => void): vscode.Disposable;
  handle(message: Exclude<PageMessage, { type: 'ready' } | { type: 'range' }>, range: RangeId): Promise<unknown>;
}

export class Dashboard implements vscode.Disposable {
  static readonly viewType = 'enclave.metrics';
  private panel?: vscode.WebviewPanel;
  private range: RangeId = 'day';
  private timer?: ReturnType<typeof setTimeout>;
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly source: DashboardSource,
    private readonly log: Logger,
  ) {
    // Redraw at most twice a second while events come in.
    this.subscription = source.onDidChange(() => {
      if (this.panel && !this.timer)
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.refresh();
        }, 500);
    });
  }

  show(): void {
    if (this.panel) {
      this.panel.reveal();
      this.refresh();
      return;
    }
    const bundles = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    const panel = vscode.window.createWebviewPanel(Dashboard.viewType, 'Enclave Metrics', vscode.ViewColumn.Active, {
      enableScripts: true,
      enableForms: false,
      localResourceRoots: [bundles],
    });
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'enclave.svg');
    const webview = panel.webview;
    webview.html = renderDashboardHtml({
      cspSource: webview.cspSource,
      nonce: randomBytes(18).toString('base64'),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(bundles, 'metrics.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(bundles, 'metrics.css')).toString(),
    });
    const subscriptions = [
      webview.onDidReceiveMessage((raw: unknown) => this.receive(raw)),
      panel.onDidChangeViewState(() => {
        if (panel.visible) this.refresh();
      }),
      panel.onDidDispose(() => {
        if (this.panel === panel) this.panel = undefined;
        for (const s of subscriptions) s.dispose();
      }),
    ];
    this.panel = panel;
  }

  refresh(): void {
    if (!this.panel) return;
    const message: HostMessage = { type: 'data', data: this.source.data(this.range) };
    void this.panel.webview.postMessage(message).then(undefined, () => undefined);
  }

  private receive(raw: unknown): void {
    const message = parsePageMessage(raw);
    if (!message) return this.log.warn('ignored a malformed message from the metrics dashboard');
    if (message.type === 'ready') return this.refresh();
    if (message.type === 'range') {
      this.range = message.range;
      return this.refresh();
    }
    this.source.handle(message, this.range).then(
      () => this.refresh(),
      (err: unknown) => void vscode.window.showErrorMessage(`Enclave: ${errorMessage(err)}`),
    );
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.subscription.dispose();
    this.panel?.dispose();
  }
}
