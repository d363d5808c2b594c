// The sidebar chat: the view, its history store, the editor commands that open it with a question.
import * as vscode from 'vscode';

import type { EnclaveContext } from '../context';
import { ChatController, type ChatControllerOptions, type PendingAttachment } from './controller';
import { diagnosticsIn, editorAttachment, isAttachable, ProposalProvider, selectionAttachment } from './editor';
import { HistoryStore, workspaceKey } from './history';
import { type EditorPrompt, editorPrompt } from './prompts';
import { ChatViewProvider } from './view';
import { errorMessage } from '../util';

/** Where this workspace's chats live: global storage, one folder per workspace. */
export function historyFolder(ctx: EnclaveContext): vscode.Uri {
  const identity = vscode.workspace.workspaceFile?.toString() ?? vscode.workspace.workspaceFolders?.[0]?.uri.toString();
  return vscode.Uri.joinPath(ctx.extension.globalStorageUri, 'chat', workspaceKey(identity, vscode.workspace.name));
}

export function registerChat(ctx: EnclaveContext, retrieve?: ChatControllerOptions['retrieve']): vscode.Disposable {
  const logger = ctx.log.for('chat');
  const store = new HistoryStore(historyFolder(ctx).fsPath, {
    logger,
    onWarning: (message) =>
      void vscode.window.showWarningMessage(message, 'Show Log').then((choice) => {
        if (choice) ctx.log.show();
      }),
  });
  const proposals = new ProposalProvider();
  const controller = new ChatController({
    store,
    backend: () => ctx.backend(),
    settings: () => ctx.config.chat,
    post: (message) => provider?.post(message),
    destination: () => ctx.promptDestination(),
    rules: () => ctx.rulesFor(vscode.window.activeTextEditor?.document.uri),
    logger,
    retrieve,
  });
  const provider = new ChatViewProvider(ctx.extension.extensionUri, () => controller, proposals, logger);
  const view = provider;
  void controller.restore();

  const updateEditorAttachment = () => controller.setAuto(editorAttachment(vscode.window.activeTextEditor));
  let selectionTimer: ReturnType<typeof setTimeout> | undefined;
  updateEditorAttachment();

  /** Explain / write tests / fix: the selection (or the file) goes with a prepared question. */
  const askAboutSelection = async (kind: EditorPrompt) => {
    const editor = vscode.window.activeTextEditor;
    if (!editor || !isAttachable(editor.document)) {
      void vscode.window.showWarningMessage('Select some code in an editor first.');
      return;
    }
    const document = editor.document;
    const selection: vscode.Range = editor.selection.isEmpty
      ? document.validateRange(new vscode.Range(0, 0, document.lineCount, 0))
      : editor.selection;
    const attachment: PendingAttachment = selectionAttachment(editor, selection);
    const diagnostics = diagnosticsIn(document, selection);
    const question = editorPrompt(kind, vscode.workspace.asRelativePath(document.uri), document.languageId, diagnostics);
    await view.reveal();
    if (controller.busy) {
      // A reply is running: prepare the question instead of interrupting it.
      controller.addAttachment(attachment);
      view.post({ type: 'prefill', text: question });
      return;
    }
    void controller.send(question, [attachment]);
  };

  const commands: Record<string, () => unknown> = {
    'enclave.chat.new': async () => {
      await view.reveal();
      await controller.newChat();
    },
    'enclave.chat.explainSelection': () => askAboutSelection('explain'),
    'enclave.chat.writeTests': () => askAboutSelection('tests'),
    'enclave.chat.fixSelection': () => askAboutSelection('fix'),
  };

  const disposables: vscode.Disposable[] = [
    vscode.window.registerWebviewViewProvider(ChatViewProvider.viewType, view),
    vscode.workspace.registerTextDocumentContentProvider(ProposalProvider.scheme, proposals),
    proposals,
    ...Object.entries(commands).map(([id, handler]) => vscode.commands.registerCommand(id, handler)),
    vscode.window.onDidChangeActiveTextEditor(updateEditorAttachment),
    // The "Rules:" chip follows the rules files (and, in a multi-root workspace, the editor's folder).
    ctx.onDidChangeRules(() => void controller.postRules()),
    vscode.window.onDidChangeActiveTextEditor(() => void controller.postRules()),
    // The view must never claim the model is local while questions go elsewhere.
    ctx.onDidChangePromptDestination(() => void controller.postState()),
    vscode.window.onDidChangeTextEditorSelection((e) => {
      if (e.textEditor !== vscode.window.activeTextEditor) return;
      clearTimeout(selectionTimer);
      selectionTimer = setTimeout(updateEditorAttachment, 150);
    }),
  ];

  // VS Code gives every view a `<id>.focus` command; it is declared in package.json for its
  // keybinding. Registered here only if this VS Code does not provide it.
  void vscode.commands.getCommands(true).then((ids) => {
    if (!ids.includes('enclave.chat.focus'))
      disposables.push(
        vscode.commands.registerCommand('enclave.chat.focus', () => vscode.commands.executeCommand('workbench.view.extension.enclave')),
      );
  });

  // While a question waits for the engine, say what it is doing (starting, loading the model);
  // a crash is reported on the reply it interrupted.
  try {
    const unsubscribe = ctx.onBackendState((state) => {
      if (!controller.busy) return;
      if (state.kind === 'starting') view.post({ type: 'notice', level: 'info', text: 'Starting the engine…' });
      else if (state.kind === 'loading')
        view.post({ type: 'notice', level: 'info', text: `Loading the model… ${Math.round(state.progress * 100)}%` });
    });
    disposables.push({ dispose: unsubscribe });
  } catch (err) {
    logger.warn(`engine state is not shown in the chat: ${errorMessage(err)}`);
  }

  return {
    dispose: () => {
      clearTimeout(selectionTimer);
      for (const d of disposables) d.dispose();
      void controller.dispose();
    },
  };
}
