// The chat's webview view: a locked-down page (CSP with a fresh nonce, local resources from
// media/ and dist/webview only, no retained context: the page rebuilds from the host's state)
// and the table that turns each validated webview message into an action.
import { randomBytes } from 'node:crypto';

import * as vscode from 'vscode';

import type { Logger } from '../logger';
import type { ChatController } from './controller';
import { applyWithDiff, insertAtCursor, pickWorkspaceFile, type ProposalProvider } from './editor';
import { renderChatHtml } from './html';
import { type HostMessage, parseWebviewMessage, type WebviewMessage } from './messages';
import { errorMessage } from '../util';

type Handlers = { [K in WebviewMessage['type']]: (message: Extract<WebviewMessage, { type: K }>) => unknown };

export class ChatViewProvider implements vscode.WebviewViewProvider {
  static readonly viewType = 'enclave.chat';
  private view: vscode.WebviewView | undefined;
  private readonly handlers: Handlers;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly controller: () => ChatController,
    private readonly proposals: ProposalProvider,
    private readonly logger: Logger,
  ) {
    const chat = this.controller;
    this.handlers = {
      ready: () => chat().postState(),
      send: (m) => chat().send(m.text),
      draft: (m) => chat().draft(m.text),
      stop: () => chat().stop(),
      regenerate: () => chat().regenerate(),
      newChat: () => chat().newChat(),
      openChat: (m) => chat().open(m.id),
      deleteChat: async (m) => {
        const choice = await vscode.window.showWarningMessage('Delete this chat? It cannot be restored.', { modal: true }, 'Delete');
        if (choice === 'Delete') await chat().delete(m.id);
      },
      removeAttachment: (m) => chat().removeAttachment(m.id),
      pickFile: async () => {
        const picked = await pickWorkspaceFile();
        if (picked) chat().addAttachment(picked);
        this.post({ type: 'mentionDone', picked: picked !== undefined });
      },
      copy: async (m) => {
        await vscode.env.clipboard.writeText(m.code);
        vscode.window.setStatusBarMessage('Enclave: code copied', 2_000);
      },
      insert: (m) => insertAtCursor(m.code),
      apply: (m) => applyWithDiff(this.proposals, m.code, chat().findReply(m.messageId)?.question, this.logger),
      // Validated as an http(s) link by parseWebviewMessage; VS Code asks before opening it.
      openLink: (m) => vscode.env.openExternal(vscode.Uri.parse(m.href, true)),
    };
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const webview = view.webview;
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const bundles = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    webview.options = { enableScripts: true, enableForms: false, localResourceRoots: [media, bundles] };
    webview.html = renderChatHtml({
      cspSource: webview.cspSource,
      nonce: randomBytes(18).toString('base64'),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(bundles, 'chat.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat', 'chat.css')).toString(),
    });
    const subscriptions = [
      webview.onDidReceiveMessage((raw: unknown) => this.receive(raw)),
      view.onDidDispose(() => {
        if (this.view === view) this.view = undefined;
        for (const s of subscriptions) s.dispose();
      }),
    ];
  }

  private receive(raw: unknown): void {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.logger.warn(`ignored a malformed message from the chat view: ${parsed.problem}`);
      return;
    }
    const message = parsed.message;
    const handler = this.handlers[message.type] as (m: WebviewMessage) => unknown;
    Promise.resolve()
      .then(() => handler(message))
      .catch((err: unknown) => {
        this.logger.error(err instanceof Error ? err : String(err));
        this.post({ type: 'notice', level: 'error', text: `${message.type} failed: ${errorMessage(err)}` });
      });
  }

  /** Posts to the page when it is loaded; a hidden page gets the whole state when it comes back. */
  post(message: HostMessage): void {
    void this.view?.webview.postMessage(message).then(undefined, () => undefined);
  }

  /** Opens the chat view (and its container) and focuses it. */
  async reveal(): Promise<void> {
    await vscode.commands.executeCommand(`${ChatViewProvider.viewType}.focus`);
  }
}
