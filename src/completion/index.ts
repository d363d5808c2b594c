import * as vscode from 'vscode';

import type { EnclaveContext } from '../context';
import type { Backend } from '../engine/protocol';
import { formatSpeculative } from './status';
import { EnclaveStatusBar } from './statusBar';
import { ExtraContextRing } from './extraContext';
import { CompletionCore, type CompletionContextSource } from './core';
import {
  ACCEPTED_COMMAND,
  completionSettings,
  documentRequest,
  InlineProvider,
  type AcceptedSuggestion,
  type CompletionObserver,
} from './provider';
import { errorMessage } from '../util';

/** A file stays active this long before it is warmed (flipping through tabs warms nothing). */
const WARM_DELAY_MS = 300;
/** A cursor move this far (lines) at once is a jump: the new place is warmed. */
const WARM_JUMP_LINES = 30;

/**
 * Inline completions: the provider, the status bar item and their commands; `observer` hears what
 * is shown and accepted, `contextSource` adds chunks (definitions, the codebase index) to prompts.
 */
export function registerCompletion(
  ctx: EnclaveContext,
  observer?: CompletionObserver,
  contextSource?: CompletionContextSource,
): vscode.Disposable {
  const log = ctx.log.for('completion');
  const status = new EnclaveStatusBar('enclave.statusMenu');
  const ring = new ExtraContextRing();
  const disposables: vscode.Disposable[] = [status];

  // The engine starts on first use: follow its state only once completion has asked for it.
  let watched: Backend | undefined;
  let unwatch: (() => void) | undefined;
  const showModel = (backend: Backend) =>
    backend.info().then(
      (info) => status.update({ modelName: info.modelName, engine: { kind: 'ready' } }),
      (err: unknown) => status.setEngine({ kind: 'error', message: errorMessage(err) }),
    );
  const backend = (): Backend => {
    const current = ctx.backend();
    if (current !== watched) {
      unwatch?.();
      watched = current;
      status.setEngine({ kind: 'starting' });
      unwatch = current.onState((state) => {
        status.setEngine(state);
        if (state.kind === 'ready') void showModel(current);
      });
      void showModel(current);
    }
    return current;
  };
  disposables.push({ dispose: () => unwatch?.() });

  const core = new CompletionCore({
    backend,
    settings: () => completionSettings(ctx.config),
    ring,
    contextSource,
    log,
    onEvent: (event) => {
      if (event.kind === 'generating') status.update({ generating: true });
      else if (event.kind === 'done')
        status.update({ generating: false, error: undefined, lastLatencyMs: event.latencyMs, tokensPerSecond: event.tokensPerSecond });
      else status.update({ generating: false, error: event.message });
    },
  });
  disposables.push({ dispose: () => core.dispose() });

  const provider = new InlineProvider(
    core,
    ctx.config,
    (outcome) => {
      if (outcome.source === 'cancelled' && status.state.generating) status.update({ generating: false });
      if (outcome.source !== 'skipped' && outcome.source !== 'cancelled') {
        log.trace(
          `${outcome.source}: ${outcome.items.length} item(s), ${outcome.totalMs.toFixed(0)} ms (own ${outcome.overheadMs.toFixed(1)} ms)`,
        );
      }
    },
    observer,
  );
  disposables.push(vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, provider));

  const refreshEnabled = () => {
    const languageId = vscode.window.activeTextEditor?.document.languageId;
    status.update({
      enabled: ctx.config.completion.enabled,
      languageId,
      languageEnabled: languageId ? ctx.config.isLanguageEnabled(languageId) : true,
    });
  };
  refreshEnabled();

  // Extra context: the place the user just left in one file is likely what the next one needs.
  let lastEditor = vscode.window.activeTextEditor;
  const remember = (editor: vscode.TextEditor | undefined) => {
    if (!editor || editor.document.uri.scheme === 'output') return;
    const document = editor.document;
    ring.addAround(
      document.uri.toString(),
      vscode.workspace.asRelativePath(document.uri, false),
      document.getText(),
      editor.selection.active.line,
    );
  };
  for (const editor of vscode.window.visibleTextEditors) if (editor !== lastEditor) remember(editor);

  // A file opened or switched to, or a jump far within one: its prompt is evaluated while the user
  // reads (nothing generated or shown; the first keystroke cancels it), so the first suggestion
  // there is as quick as the next ones. Only on the local engine, and only once it is running.
  let warmTimer: NodeJS.Timeout | undefined;
  let warmedLine = -1;
  const warmSoon = (editor: vscode.TextEditor | undefined) => {
    clearTimeout(warmTimer);
    if (!editor || editor.document.uri.scheme === 'output') return;
    warmTimer = setTimeout(() => {
      const document = editor.document;
      const ready = status.state.engine?.kind === 'ready' && watched?.kind === 'local';
      if (!ready || vscode.window.activeTextEditor !== editor || !ctx.config.completion.enabled) return;
      if (!ctx.config.isLanguageEnabled(document.languageId) || !ctx.config.completion.warmOnOpen) return;
      const line = (warmedLine = editor.selection.active.line);
      void core.warm(documentRequest(document, editor.selection.active)).then((stats) => {
        if (stats)
          log.info(
            `warmed ${vscode.workspace.asRelativePath(document.uri, false)}:${line + 1}: ${stats.evaluatedTokens} of ${stats.promptTokens} prompt tokens evaluated in ${stats.totalMs.toFixed(0)} ms`,
          );
      });
    }, WARM_DELAY_MS);
  };
  disposables.push({ dispose: () => clearTimeout(warmTimer) });
  warmSoon(vscode.window.activeTextEditor);
  disposables.push(
    vscode.window.onDidChangeActiveTextEditor((editor) => {
      remember(lastEditor);
      lastEditor = editor;
      refreshEnabled();
      warmSoon(editor);
    }),
    vscode.window.onDidChangeTextEditorSelection((e) => {
      // A jump (Ctrl+End, go to definition, a search result, a click far away), not typing along.
      if (Math.abs(e.selections[0].active.line - warmedLine) > WARM_JUMP_LINES) warmSoon(e.textEditor);
    }),
    vscode.workspace.onDidSaveTextDocument((document) => {
      const editor = vscode.window.visibleTextEditors.find((e) => e.document === document);
      if (editor) remember(editor);
    }),
    ctx.config.onDidChange((e) => {
      if (e.affectsConfiguration('enclave.completion')) refreshEnabled();
    }),
  );

  const commands: Record<string, (...args: unknown[]) => unknown> = {
    'enclave.completion.toggle': async () => {
      await ctx.config.update('completion.enabled', !ctx.config.completion.enabled);
      refreshEnabled();
    },
    'enclave.completion.toggleLanguage': async () => {
      const languageId = vscode.window.activeTextEditor?.document.languageId;
      if (!languageId) return void vscode.window.showInformationMessage('Open a file to turn completions on or off for its language.');
      const languages = { ...ctx.config.completion.languages, [languageId]: !ctx.config.isLanguageEnabled(languageId) };
      await ctx.config.update('completion.languages', languages);
      refreshEnabled();
    },
    'enclave.statusMenu': () => showMenu(ctx, status),
    'enclave.showModelInfo': () => showModelInfo(backend),
    [ACCEPTED_COMMAND]: (accepted) => observer?.accepted(accepted as AcceptedSuggestion),
  };
  for (const [id, handler] of Object.entries(commands)) disposables.push(vscode.commands.registerCommand(id, handler));
  return vscode.Disposable.from(...disposables);
}

async function showMenu(ctx: EnclaveContext, status: EnclaveStatusBar): Promise<void> {
  const languageId = vscode.window.activeTextEditor?.document.languageId;
  const enabled = ctx.config.completion.enabled;
  const items: Array<vscode.QuickPickItem & { command: string }> = [
    {
      label: enabled ? '$(circle-slash) Turn off inline completions' : '$(check) Turn on inline completions',
      command: 'enclave.completion.toggle',
    },
  ];
  if (languageId) {
    const on = ctx.config.isLanguageEnabled(languageId);
    items.push({
      label: `${on ? '$(circle-slash) Turn off' : '$(check) Turn on'} completions for ${languageId}`,
      command: 'enclave.completion.toggleLanguage',
    });
  }
  // Only a running engine is asked (the menu must not start one), and not for long.
  const speculative =
    status.state.engine?.kind === 'ready'
      ? await Promise.race([
          ctx
            .backend()
            .metrics()
            .then(formatSpeculative, () => undefined),
          new Promise<undefined>((resolve) => setTimeout(resolve, 500)),
        ])
      : undefined;
  items.push(
    { label: '$(info) Show model info', description: status.state.modelName, command: 'enclave.showModelInfo' },
    ...(speculative ? [{ label: '$(rocket) Speculative decoding', description: speculative, command: 'enclave.showModelInfo' }] : []),
    { label: '$(output) Open log', command: 'enclave.showLog' },
    { label: '$(debug-restart) Restart engine', command: 'enclave.engine.restart' },
    { label: '$(graph) Show metrics dashboard', command: 'enclave.metrics.show' },
  );
  const choice = await vscode.window.showQuickPick(items, { title: 'Enclave', placeHolder: status.state.modelName });
  if (!choice) return;
  try {
    await vscode.commands.executeCommand(choice.command);
  } catch (err) {
    void vscode.window.showErrorMessage(`Enclave: ${errorMessage(err)}`);
  }
}

async function showModelInfo(backend: () => Backend): Promise<void> {
  try {
    const current = backend();
    const [info, metrics] = await Promise.all([current.info(), current.metrics()]);
    const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
    const detail = [
      `File: ${info.modelPath}`,
      `Architecture: ${info.architecture}, ${gib(info.modelSizeBytes)}, FIM: ${info.fimFamily ?? 'none'}`,
      `Backend: ${info.backend} (${info.gpu}${info.gpuDeviceNames.length ? `: ${info.gpuDeviceNames.join(', ')}` : ''}), layers on GPU ${info.layersOffloaded}/${info.totalLayers}`,
      `Context: ${info.contextSize} tokens × ${info.sequences} sequences, ${info.threads} threads`,
      `Speculative: ${info.speculative}${info.draftModelPath ? ` (draft ${info.draftModelPath})` : ''}`,
      `Adapters: ${info.adapters.length ? info.adapters.map((a) => `${a.path} ×${a.scale}`).join(', ') : 'none'}`,
      `Loaded in ${Math.round(info.loadTimeMs)} ms; ${metrics.requests} requests, last ${Math.round(metrics.lastLatencyMs)} ms at ${metrics.lastTokensPerSecond.toFixed(0)} tok/s`,
      `Prompt tokens reused from the KV cache: ${metrics.reusedTokens} of ${metrics.promptTokens}`,
      ...(formatSpeculative(metrics) ? [`Speculative decoding: ${formatSpeculative(metrics)}`] : []),
    ].join('\n');
    await vscode.window.showInformationMessage(info.modelName, { modal: true, detail });
  } catch (err) {
    void vscode.window.showErrorMessage(`Enclave: no model info: ${errorMessage(err)}`, 'Show Log').then((choice) => {
      if (choice) void vscode.commands.executeCommand('enclave.showLog');
    });
  }
}
