// The models feature: measure this machine, recommend and fetch a model (download with a
// cancellable progress notification, a local GGUF for air-gapped machines, or one already on
// disk), and keep stable / experimental profiles with one-command switch and rollback. Over 400
// lines: the vscode shell of four commands; their logic is in the pure sibling modules.
import { homedir } from 'node:os';
import { join } from 'node:path';

import * as vscode from 'vscode';

import { registerGuardedCommand } from '../commands';
import type { EnclaveContext } from '../context';
import type { Logger } from '../logger';
import { insideAny } from '../paths';
import { catalog, findEntry, formatFileSize, formatMemory, type CatalogEntry } from './catalog';
import { readGgufHeader } from '../gguf';
import { discoverModels, type DiscoveredModel } from './discover';
import { DownloadError, downloadFile, sha256File } from './download';
import { measureMachine } from './measure';
import { downloadSplitModel } from './splitDownload';
import {
  ProfileStore,
  describeRecord,
  modelRoles,
  settingsFor,
  type ModelRecord,
  type ModelRole,
  type Profile,
  type ProfileName,
} from './profiles';
import { describeChoice, recommend, type MachineMeasure, type Recommendation } from './recommend';

const roleLabels: Record<ModelRole, string> = {
  completion: 'Completion model (inline FIM; a base model)',
  chat: 'Chat model (chat and review; an instruct model)',
  nextEdit: "Next-edit model (next-edit suggestions; Zed's Zeta, Continue's Instinct, Sweep next-edit)",
  draft: 'Draft model (speculative decoding; a small base model with the same vocabulary)',
};

const WALKTHROUGH_SHOWN = 'enclave.models.walkthroughShown';

const settingKeys = { completion: 'model.path', chat: 'model.chatPath', nextEdit: 'model.nextEditPath', draft: 'model.draftPath' } as const;

type PickArgument = string | vscode.Uri | { path: string; role?: ModelRole; profile?: ProfileName } | undefined;

interface ModelItem extends vscode.QuickPickItem {
  action?: () => Promise<Omit<ModelRecord, 'addedAt'> | undefined>;
}

export function registerModels(ctx: EnclaveContext): vscode.Disposable {
  const log = ctx.log.for('models');
  const storage = ctx.extension.globalStorageUri.fsPath;
  const modelsDir = join(storage, 'models');
  const store = new ProfileStore(join(storage, 'profiles.json'));
  let measured: { machine: MachineMeasure; recommendation: Recommendation } | undefined;

  function inUntrustedWorkspace(file: string): boolean {
    if (ctx.trusted()) return false;
    return insideAny(
      (vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.fsPath),
      file,
    );
  }

  async function measure(): Promise<{ machine: MachineMeasure; recommendation: Recommendation }> {
    if (measured) return measured;
    const { machine, probeError } = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Enclave: measuring this machine…' },
      () => measureMachine({ cwd: ctx.extension.extensionPath }),
    );
    if (probeError) log.warn(`GPU probe failed, measuring as CPU-only: ${probeError}`);
    const recommendation = recommend(machine, { contextSize: ctx.config.engine.contextSize, batchSize: ctx.config.engine.batchSize });
    const gpu =
      machine.gpu === 'cpu'
        ? 'no GPU'
        : `${machine.gpuNames.join(', ') || machine.gpu} (${machine.gpu}), ${formatMemory(machine.vramTotal)} VRAM`;
    log.info(
      `machine: ${gpu}, ${formatMemory(machine.ramTotal)} RAM, ${machine.cpuCores} cores${machine.unifiedMemory ? ', unified memory' : ''}`,
    );
    log.info(`recommended: ${recommendation.reason} ${recommendation.notes.join(' ')}`);
    measured = { machine, recommendation };
    return measured;
  }

  async function measureCommand(): Promise<Recommendation> {
    const { machine, recommendation } = await measure();
    const gpu = machine.gpu === 'cpu' ? 'no usable GPU' : `${machine.gpuNames[0] ?? machine.gpu} with ${formatMemory(machine.vramTotal)}`;
    void vscode.window
      .showInformationMessage(
        `This machine: ${gpu}, ${formatMemory(machine.ramTotal)} RAM, ${machine.cpuCores} cores. Recommended: ${recommendation.reason}`,
        'Choose a Model',
      )
      .then((choice) => choice && vscode.commands.executeCommand('enclave.models.choose'));
    return recommendation;
  }

  async function apply(reason: string): Promise<void> {
    const { name, profile } = await store.active();
    if (modelRoles.every((role) => !profile[role])) {
      log.info(`${reason}: the ${name} profile has no models; settings left as they are`);
      return;
    }
    const settings = settingsFor(profile);
    for (const role of modelRoles) {
      const key = settingKeys[role];
      const value = settings[key];
      if (value && inUntrustedWorkspace(value)) {
        void vscode.window.showWarningMessage(
          `The ${role} model ${value} is inside this untrusted workspace: Enclave does not load models from an untrusted workspace. Trust the workspace to use it.`,
        );
      }
      const current = vscode.workspace.getConfiguration('enclave').inspect<string>(key)?.globalValue ?? '';
      if (current !== value) await ctx.config.update(key, value || undefined);
    }
    log.info(`${reason}: ${name} profile active`);
    for (const role of modelRoles) log.info(`  ${describeRecord(role, profile[role])}`);
  }

  async function record(role: ModelRole, model: Omit<ModelRecord, 'addedAt'>, profile?: ProfileName): Promise<void> {
    const state = await store.load();
    let target = profile;
    if (!target) {
      if (!state.profiles.stable[role]) target = 'stable';
      else {
        const picked = await vscode.window.showQuickPick(
          [
            {
              label: 'Experimental',
              description: 'try it; roll back to the stable model in one command',
              profile: 'experimental' as const,
            },
            { label: 'Stable', description: `replace ${state.profiles.stable[role]?.name}`, profile: 'stable' as const },
          ],
          { title: `Use ${model.name} as the ${role} model in which profile?` },
        );
        if (!picked) return;
        target = picked.profile;
      }
    }
    await store.setModel(target, role, { ...model, addedAt: new Date().toISOString() });
    await store.switchTo(target);
    await apply(`${role} model set to ${model.name}`);
    void vscode.window.showInformationMessage(`Enclave: ${model.name} is now the ${role} model (${target} profile).`);
  }

  async function download(entry: CatalogEntry): Promise<Omit<ModelRecord, 'addedAt'> | undefined> {
    const source = entry.source;
    if (!source) {
      void vscode.window.showWarningMessage(
        `No single-file download is known for ${entry.name}. Download it yourself and use "Enclave: Use a Local Model File (GGUF)".`,
      );
      return undefined;
    }
    const origin = source.url ? new URL(source.url).host : 'huggingface.co';
    const consent = await vscode.window.showInformationMessage(
      `Download ${entry.name} (~${formatFileSize(entry.fileBytes)}) from ${origin}? This is the only thing Enclave fetches from the network.`,
      { modal: true },
      'Download',
    );
    if (consent !== 'Download') return undefined;
    try {
      return await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Downloading ${entry.name}`, cancellable: true },
        async (progress, token) => {
          const controller = new AbortController();
          token.onCancellationRequested(() => controller.abort());
          let reported = 0;
          const report = (received: number, total: number, bytesPerSecond: number) => {
            const percent = total > 0 ? (received / total) * 100 : 0;
            progress.report({
              increment: percent - reported,
              message: `${formatFileSize(received)} of ${formatFileSize(total)} · ${formatFileSize(bytesPerSecond)}/s`,
            });
            reported = percent;
          };
          if (source.url) {
            const result = await downloadFile({
              url: source.url,
              directory: modelsDir,
              fileName: entry.fileName,
              sha256: source.sha256,
              approximateSize: entry.fileBytes,
              signal: controller.signal,
              onProgress: (p) => report(p.receivedBytes, p.totalBytes ?? entry.fileBytes, p.bytesPerSecond),
              progressIntervalMs: 500,
            });
            const checked = result.checksumSource
              ? `sha256 ${result.sha256} verified (${result.checksumSource === 'host' ? "the hub's X-Linked-Etag" : 'catalog'})`
              : `sha256 ${result.sha256}, size only verified`;
            log.info(
              `downloaded ${entry.name}: ${result.path} (${result.size} bytes, ${checked}${result.resumedFrom ? `, resumed at ${result.resumedFrom}` : ''})`,
            );
            return { path: result.path, name: entry.name, sha256: result.sha256, source: source.url };
          }
          // Split files (the larger quantisations): node-llama-cpp resolves and joins the parts.
          const path = await downloadSplitModel({
            modelUri: source.hf,
            directory: modelsDir,
            cwd: ctx.extension.extensionPath,
            signal: controller.signal,
            onProgress: (p) => report(p.downloadedBytes, p.totalBytes, p.bytesPerSecond),
          });
          progress.report({ message: 'verifying…' });
          const sha256 = await sha256File(path);
          log.info(`downloaded ${entry.name}: ${path} (sha256 ${sha256})`);
          return { path, name: entry.name, sha256, source: source.hf };
        },
      );
    } catch (error) {
      if ((error instanceof DownloadError && error.code === 'CANCELLED') || (error as Error).name === 'AbortError') {
        void vscode.window.showInformationMessage(`Download of ${entry.name} cancelled. Choose it again to resume where it stopped.`);
        return undefined;
      }
      const message = (error as Error).message;
      log.error(`download of ${entry.name} failed: ${message}`);
      void vscode.window.showErrorMessage(`Enclave could not download ${entry.name}: ${message}`);
      return undefined;
    }
  }

  async function fromFile(
    path: string,
    name: string,
    source: string,
    knownSha256?: string,
  ): Promise<Omit<ModelRecord, 'addedAt'> | undefined> {
    if (inUntrustedWorkspace(path)) {
      void vscode.window.showWarningMessage(
        `${path} is inside this untrusted workspace: Enclave does not load models from an untrusted workspace. Trust the workspace, or pick a file outside it.`,
      );
      return undefined;
    }
    try {
      // The header and the file's length: a truncated copy is refused here, not when it loads.
      await readGgufHeader(path);
    } catch (error) {
      void vscode.window.showErrorMessage(`${path} cannot be used as a model: ${(error as Error).message}`);
      return undefined;
    }
    const sha256 =
      knownSha256 ??
      (await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Enclave: hashing ${name}…` }, () =>
        sha256File(path),
      ));
    return { path, name, sha256, source };
  }

  async function pickLocalFile(): Promise<Omit<ModelRecord, 'addedAt'> | undefined> {
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false,
      filters: { 'GGUF model': ['gguf'] },
      title: 'Choose a GGUF model file',
    });
    if (!picked?.[0]) return undefined;
    const path = picked[0].fsPath;
    return fromFile(path, path.split(/[\\/]/).pop() ?? path, 'local file');
  }

  function catalogItems(role: ModelRole, recommendation: Recommendation | undefined): ModelItem[] {
    // The catalog has no next-edit models: one on this disk or a local file.
    if (role === 'nextEdit') return [];
    const variant = role === 'chat' ? 'instruct' : 'base';
    const recommended =
      role === 'draft' ? findEntry('0.5B', 'base', 'Q8_0') : role === 'chat' ? recommendation?.chat : recommendation?.completion;
    const toItem = (entry: CatalogEntry, detail?: string, star = false): ModelItem => ({
      label: `${star ? '$(star-full) ' : ''}${entry.name}`,
      description: `${formatFileSize(entry.fileBytes)}${entry.source ? '' : ' · no known download'}`,
      detail,
      action: () => download(entry),
    });
    const items: ModelItem[] = [];
    if (recommended)
      items.push(
        toItem(
          recommended,
          role === 'draft'
            ? 'Recommended: the smallest model, same vocabulary as every Qwen2.5-Coder'
            : `Recommended: ${recommendation?.reason}`,
          true,
        ),
      );
    if (role !== 'draft' && recommendation) {
      for (const alt of [recommendation.larger, recommendation.smaller]) {
        if (alt) items.push(toItem(findEntry(alt.entry.size, variant, alt.entry.quant), describeChoice(alt)));
      }
    }
    items.push({ label: 'All sizes', kind: vscode.QuickPickItemKind.Separator });
    const shown = new Set(items.map((i) => i.label.replace('$(star-full) ', '')));
    for (const entry of catalog.filter((e) => e.variant === variant)) if (!shown.has(entry.name)) items.push(toItem(entry));
    return items;
  }

  async function choose(roleArg?: ModelRole): Promise<void> {
    let role = roleArg && modelRoles.includes(roleArg) ? roleArg : undefined;
    if (!role) {
      const picked = await vscode.window.showQuickPick(
        modelRoles.map((r) => ({ label: roleLabels[r], role: r })),
        { title: 'Which model do you want to choose?' },
      );
      if (!picked) return;
      role = picked.role;
    }
    const { recommendation } = await measure();
    const found: DiscoveredModel[] = await discoverModels({ home: homedir(), env: process.env }).catch(() => []);
    const items: ModelItem[] = catalogItems(role, recommendation);
    if (found.length > 0) {
      items.push({ label: 'Already on this disk', kind: vscode.QuickPickItemKind.Separator });
      for (const model of found) {
        items.push({
          label: `$(database) ${model.name}`,
          description: `${model.source} · ${formatFileSize(model.size)}`,
          detail: model.path,
          action: () => fromFile(model.path, model.name, `${model.source}:${model.name}`, model.sha256),
        });
      }
    }
    items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
    items.push({
      label: '$(folder-opened) Use a local GGUF file…',
      detail: 'For air-gapped machines: a model copied here by other means',
      action: pickLocalFile,
    });

    const quickPick = vscode.window.createQuickPick<ModelItem>();
    quickPick.title = `Choose the ${role} model`;
    quickPick.placeholder = recommendation.reason;
    quickPick.matchOnDescription = true;
    quickPick.matchOnDetail = true;
    quickPick.items = items;
    quickPick.activeItems = items.filter((item) => item.kind !== vscode.QuickPickItemKind.Separator).slice(0, 1);
    const chosen = await new Promise<ModelItem | undefined>((resolve) => {
      quickPick.onDidAccept(() => resolve(quickPick.selectedItems[0]));
      quickPick.onDidHide(() => resolve(undefined));
      quickPick.show();
    });
    quickPick.dispose();
    const model = await chosen?.action?.();
    if (model) await record(role, model);
  }

  async function pickFile(arg: PickArgument): Promise<void> {
    let role: ModelRole = 'completion';
    let profile: ProfileName | undefined;
    let model: Omit<ModelRecord, 'addedAt'> | undefined;
    const path = typeof arg === 'string' ? arg : arg instanceof vscode.Uri ? arg.fsPath : arg?.path;
    if (arg && typeof arg === 'object' && !(arg instanceof vscode.Uri)) {
      role = arg.role ?? role;
      profile = arg.profile;
    }
    if (path) model = await fromFile(path, path.split(/[\\/]/).pop() ?? path, 'local file');
    else model = await pickLocalFile();
    if (!model) return;
    // Without an explicit profile, a role the stable profile already fills asks: experimental or stable.
    await record(role, model, profile);
  }

  async function switchProfile(target?: ProfileName): Promise<void> {
    const state = await store.load();
    let next = target;
    if (!next) {
      const describe = (name: ProfileName) =>
        modelRoles
          .map((r) => state.profiles[name][r]?.name)
          .filter(Boolean)
          .join(' · ') || 'no models yet';
      const picked = await vscode.window.showQuickPick(
        (['stable', 'experimental'] as const).map((name) => ({
          label: `${name === state.active ? '$(check) ' : ''}${name === 'stable' ? 'Stable' : 'Experimental'}`,
          description: describe(name),
          name,
        })),
        { title: 'Switch model profile' },
      );
      if (!picked) return;
      next = picked.name;
    }
    if (modelRoles.every((r) => !state.profiles[next][r])) {
      void vscode.window.showInformationMessage(
        `The ${next} profile has no model yet. Choose one with "Enclave: Choose a Model for This Machine".`,
      );
      return;
    }
    await store.switchTo(next);
    await apply(`switched to the ${next} profile`);
  }

  async function rollback(): Promise<void> {
    const before = await store.load();
    const after = await store.rollback();
    if (JSON.stringify(before) === JSON.stringify(after)) {
      void vscode.window.showInformationMessage('Enclave: already on the stable model; there is no earlier one to roll back to.');
      return;
    }
    await apply('rolled back');
    const model = after.profiles.stable.completion?.name ?? after.profiles.stable.chat?.name ?? 'the stable model';
    void vscode.window.showInformationMessage(`Enclave: rolled back to ${model} (stable).`);
  }

  void logActive(store, log);
  // First run without a model: open the walkthrough once (unless the user wants no startup editor).
  const startupEditor = vscode.workspace.getConfiguration('workbench').get<string>('startupEditor');
  if (!ctx.config.modelPath && startupEditor !== 'none' && !ctx.extension.globalState.get<boolean>(WALKTHROUGH_SHOWN)) {
    void ctx.extension.globalState.update(WALKTHROUGH_SHOWN, true);
    void vscode.commands.executeCommand('workbench.action.openWalkthrough', `${ctx.extension.extension.id}#enclave.setup`, false);
  }
  const guarded = <A extends unknown[]>(name: string, handler: (...args: A) => Promise<unknown>) =>
    registerGuardedCommand(ctx.log, log, name, handler);
  return vscode.Disposable.from(
    guarded('enclave.models.measure', measureCommand),
    guarded('enclave.models.choose', (role?: ModelRole) => choose(role)),
    guarded('enclave.models.pickFile', (arg?: PickArgument) => pickFile(arg)),
    guarded('enclave.models.switchProfile', (target?: ProfileName) => switchProfile(target)),
    guarded('enclave.models.rollback', rollback),
  );
}

async function logActive(store: ProfileStore, log: Logger): Promise<void> {
  const { name, profile } = await store.active().catch(() => ({ name: 'stable' as const, profile: {} as Profile }));
  if (modelRoles.every((role) => !profile[role])) return;
  log.info(`active model profile: ${name}`);
  for (const role of modelRoles) log.info(`  ${describeRecord(role, profile[role])}`);
}
