// The adapters feature: a status bar item showing this workspace's LoRA adapter, a picker that
// lists the discovered adapters with their validation against the model, a scale, and the export
// of the workspace as a training set. Adapters switch in the engine without reloading the model.

import * as vscode from 'vscode';

import { registerGuardedCommand } from '../commands';
import type { EnclaveContext } from '../context';
import type { AdapterSpec } from '../engine/protocol';
import { insideAny } from '../paths';
import { defaultDatasetDir, exportDataset } from './dataset';
import { discoverAdapters, parseScale, selectionLabel, type AdapterEntry, type AdapterSelection } from './registry';
import { inspectAdapter, validateAdapter, type AdapterValidation } from '../engine/adapterValidation';

const STATE_KEY = 'enclave.adapter';

interface AdapterItem extends vscode.QuickPickItem {
  adapter?: AdapterEntry;
  validation?: AdapterValidation;
  none?: boolean;
}

export function registerAdapters(ctx: EnclaveContext): vscode.Disposable {
  const log = ctx.log.for('adapters');
  const workspaceState = ctx.extension.workspaceState;
  const status = vscode.window.createStatusBarItem('enclave.adapter', vscode.StatusBarAlignment.Right, 99);
  status.name = 'Enclave LoRA Adapter';
  status.command = 'enclave.adapters.select';
  let applied: AdapterSpec[] | undefined;

  const stored = (): AdapterSelection | undefined => workspaceState.get<AdapterSelection>(STATE_KEY);

  function workspaceFolders(): string[] {
    return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
  }

  function insideWorkspace(path: string): boolean {
    return insideAny(workspaceFolders(), path);
  }

  function refreshStatus(note?: string): void {
    const selection = stored();
    status.text = selectionLabel(selection);
    const lines = [
      selection ? `LoRA adapter for this workspace: ${selection.path} (scale ${selection.scale})` : 'No LoRA adapter: the base model as is',
    ];
    if (note) lines.push(note);
    lines.push('Click to choose an adapter.');
    status.tooltip = lines.join('\n');
    status.show();
  }

  /** What the engine should apply for this workspace (nothing from an untrusted workspace). */
  function desired(): AdapterSpec[] {
    const selection = stored();
    if (!selection) return [];
    if (!ctx.trusted() && insideWorkspace(selection.path)) return [];
    return [{ path: selection.path, scale: selection.scale }];
  }

  async function applyToEngine(reason: string): Promise<void> {
    const adapters = desired();
    const backend = ctx.backend();
    const result = await backend.setAdapters(adapters);
    applied = adapters;
    const what = adapters.length ? adapters.map((a) => `${a.path} ×${a.scale}`).join(', ') : 'none';
    log.info(
      `${reason}: adapters ${what} in ${result.switchMs.toFixed(0)} ms${result.modelReloaded ? ' (the model was reloaded)' : ', model not reloaded'}`,
    );
  }

  async function baseModelPath(): Promise<string> {
    return ctx.config.modelPath;
  }

  async function select(arg?: { path?: string | null; scale?: number }): Promise<void> {
    let selection: AdapterSelection | undefined;
    if (arg && 'path' in arg) {
      // Programmatic use (tests, other commands): { path: null } clears.
      selection = arg.path ? { path: arg.path, scale: arg.scale ?? 1 } : undefined;
      if (selection) {
        const base = await baseModelPath();
        const validation = base ? await validateAdapter(selection.path, base) : await inspectAdapter(selection.path);
        if (!validation.ok) throw new Error(validation.reason);
        if (!ctx.trusted() && insideWorkspace(selection.path)) {
          throw new Error('This workspace is not trusted: Enclave does not load LoRA adapters from it.');
        }
      }
    } else {
      const picked = await pick();
      if (!picked) return;
      selection = picked;
    }
    await workspaceState.update(STATE_KEY, selection);
    // The status bar names the new adapter only once the engine has switched to it.
    status.text = `$(sync~spin) ${selectionLabel(selection).replace('$(layers) ', '')}`;
    try {
      await applyToEngine(selection ? `selected ${selection.path}` : 'adapter cleared');
    } finally {
      refreshStatus();
    }
  }

  async function pick(): Promise<AdapterSelection | null | undefined> {
    const trusted = ctx.trusted();
    const { adapters, skippedUntrusted } = await discoverAdapters({
      workspaceFolders: workspaceFolders(),
      folders: ctx.config.adapters.folders,
      trusted,
    });
    const base = await baseModelPath();
    const current = stored();
    const items: AdapterItem[] = [{ label: '$(circle-slash) None', description: 'the base model as is', none: true }];
    const validations = await Promise.all(adapters.map((a) => (base ? validateAdapter(a.path, base) : inspectAdapter(a.path))));
    adapters.forEach((adapter, i) => {
      const validation = validations[i];
      items.push({
        label: `${validation.ok ? '$(pass)' : '$(error)'} ${adapter.name}`,
        description: `${adapter.origin === 'workspace' ? 'workspace' : 'folder'}${validation.ok && validation.adapter.rank ? ` · rank ${validation.adapter.rank}` : ''}${current?.path === adapter.path ? ' · current' : ''}`,
        detail: validation.ok
          ? base
            ? `fits the model · ${adapter.path}`
            : `no model configured to check against · ${adapter.path}`
          : validation.reason,
        adapter,
        validation,
      });
    });
    if (skippedUntrusted.length > 0) {
      items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
      items.push({
        label: `$(workspace-untrusted) ${skippedUntrusted.length} adapter(s) in this workspace are not offered`,
        detail: 'This workspace is not trusted: Enclave does not load LoRA adapters from it.',
      });
    }
    if (adapters.length === 0) {
      items.push({
        label: '$(info) No adapters found',
        detail: 'Put adapter GGUFs into .enclave/adapters/ or a folder in the enclave.adapters.folders setting.',
      });
    }
    const quickPick = vscode.window.createQuickPick<AdapterItem>();
    quickPick.title = 'LoRA adapter for this workspace';
    quickPick.matchOnDetail = true;
    quickPick.items = items;
    quickPick.activeItems = items.filter((i) => (current ? i.adapter?.path === current.path : i.none)).slice(0, 1);
    const chosen = await new Promise<AdapterItem | undefined>((resolve) => {
      quickPick.onDidAccept(() => resolve(quickPick.selectedItems[0]));
      quickPick.onDidHide(() => resolve(undefined));
      quickPick.show();
    });
    quickPick.dispose();
    if (!chosen) return undefined;
    if (chosen.none) return null;
    if (!chosen.adapter || !chosen.validation) return undefined;
    if (!chosen.validation.ok) {
      void vscode.window.showErrorMessage(`Enclave cannot use ${chosen.adapter.name}: ${chosen.validation.reason}`);
      return undefined;
    }
    const scaleText = await vscode.window.showInputBox({
      title: `Scale for ${chosen.adapter.name}`,
      prompt: '0 = no effect, 1 = as trained; up to 4',
      value: String(current?.path === chosen.adapter.path ? current.scale : 1),
      validateInput: (text) => (parseScale(text) === undefined ? 'A number from 0 to 4' : undefined),
    });
    const scale = scaleText === undefined ? undefined : parseScale(scaleText);
    if (scale === undefined) return undefined;
    return { path: chosen.adapter.path, scale };
  }

  async function exportCommand(): Promise<void> {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (!folder || folder.uri.scheme !== 'file') {
      void vscode.window.showWarningMessage('Open a local folder to export it as a training set.');
      return;
    }
    // The extension's own storage, not the workspace: a training set full of the project's code is
    // easily committed (or synced) by accident there.
    const outDir = defaultDatasetDir(ctx.extension.globalStorageUri.fsPath, folder.uri.fsPath);
    const report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Enclave: exporting the workspace as a training set…', cancellable: true },
      (_progress, token) => {
        const controller = new AbortController();
        token.onCancellationRequested(() => controller.abort());
        return exportDataset({ root: folder.uri.fsPath, outDir, signal: controller.signal });
      },
    );
    log.info(
      `dataset: ${report.files} files, ${report.fimSamples} FIM + ${report.chatSamples} chat samples, ~${report.tokens} tokens → ${outDir}; skipped ${JSON.stringify(report.skipped)}`,
    );
    for (const skipped of report.skippedFiles) log.debug(`dataset: skipped ${skipped.path}: ${skipped.detail}`);
    const choice = await vscode.window.showInformationMessage(
      `Exported ${report.fimSamples} samples (~${report.tokens} tokens) from ${report.files} files to ${outDir} (outside the workspace); ${report.skippedFiles.length} files left out (secrets, binaries, generated, huge).`,
      'Open README',
    );
    if (choice) await vscode.window.showTextDocument(vscode.Uri.file(report.readmePath));
  }

  // Apply the stored adapter when the engine is ready (never start the engine just for this).
  let unsubscribe: (() => void) | undefined;
  try {
    unsubscribe = ctx.onBackendState((state) => {
      if (state.kind !== 'ready') return;
      const want = desired();
      if (JSON.stringify(want) === JSON.stringify(applied ?? [])) return;
      void applyToEngine('engine ready').catch((error: Error) => log.warn(`could not apply the workspace adapter: ${error.message}`));
    });
  } catch (error) {
    log.debug(`no backend yet: ${(error as Error).message}`);
  }

  // A new base model may not fit the workspace's adapter: say so and turn it off for this workspace.
  const modelWatch = ctx.config.onDidChange(async (e) => {
    const selection = stored();
    if (!selection || !e.affectsConfiguration('enclave.model.path') || !ctx.config.modelPath) return;
    const validation = await validateAdapter(selection.path, ctx.config.modelPath);
    if (validation.ok) return;
    await workspaceState.update(STATE_KEY, undefined);
    refreshStatus();
    log.warn(`workspace adapter turned off: ${validation.reason}`);
    void vscode.window.showWarningMessage(`Enclave turned off this workspace's LoRA adapter: ${validation.reason}`);
  });

  const trustNote = () =>
    !ctx.trusted() && stored() && insideWorkspace(stored()!.path) ? 'Not applied: this workspace is not trusted.' : undefined;
  refreshStatus(trustNote());
  const guarded = <A extends unknown[]>(name: string, handler: (...args: A) => Promise<unknown>) =>
    registerGuardedCommand(ctx.log, log, name, handler, () => refreshStatus());
  return vscode.Disposable.from(
    status,
    modelWatch,
    guarded('enclave.adapters.select', (arg?: { path?: string | null; scale?: number }) => select(arg)),
    guarded('enclave.adapters.exportDataset', exportCommand),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      refreshStatus();
      if (applied !== undefined) void applyToEngine('workspace trusted').catch(() => undefined);
    }),
    { dispose: () => unsubscribe?.() },
  );
}
