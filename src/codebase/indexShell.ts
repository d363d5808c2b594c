// The vscode side of the codebase index: one index per workspace folder, only in a trusted
// workspace, stored under the extension's workspace storage, built in the background with progress
// and cancel, kept current from file events, rebuilt with a notice when the stored copy is damaged.
import { createHash } from 'node:crypto';
import { join } from 'node:path';

import * as vscode from 'vscode';

import type { Logger } from '../logger';
import { buildIndex, CorruptIndexError, loadIndex, readHit, saveIndex, updateFile } from './index/builder';
import { SearchIndex, type Hit } from './index/searchIndex';
import { PathFilter } from './index/walk';
import { NUMBER_SETTINGS } from '../settings';
import { errorMessage } from '../util';

export interface RetrievedChunk extends Hit {
  uri: vscode.Uri;
  text: string;
}

interface FolderIndex {
  folder: vscode.WorkspaceFolder;
  index: SearchIndex;
  file: string;
  filter: PathFilter;
  ready: boolean;
}

const setting = <T>(key: string, fallback: T): T => vscode.workspace.getConfiguration('enclave').get<T>(key, fallback);

function maxFiles(): number {
  const spec = NUMBER_SETTINGS['index.maxFiles'];
  const value = Number(setting('index.maxFiles', spec.default));
  return Number.isFinite(value) ? Math.min(spec.max, Math.max(spec.min, Math.floor(value))) : spec.default;
}

function excludes(folder: vscode.WorkspaceFolder): string[] {
  const globs = vscode.workspace.getConfiguration('files', folder.uri).get<Record<string, boolean>>('exclude') ?? {};
  return Object.entries(globs)
    .filter(([, on]) => on === true)
    .map(([glob]) => glob);
}

export class CodebaseIndexService implements vscode.Disposable {
  private readonly folders = new Map<string, FolderIndex>();
  private readonly disposables: vscode.Disposable[] = [];
  private building?: vscode.CancellationTokenSource;
  private saveTimer?: ReturnType<typeof setTimeout>;
  private readonly pending = new Map<string, vscode.Uri>();
  private flushing = false;

  constructor(
    private readonly storage: vscode.Uri,
    private readonly log: Logger,
    private readonly trusted: () => boolean,
  ) {
    const watcher = vscode.workspace.createFileSystemWatcher('**/*');
    this.disposables.push(
      watcher,
      watcher.onDidCreate((uri) => this.changed(uri)),
      watcher.onDidChange((uri) => this.changed(uri)),
      watcher.onDidDelete((uri) => this.changed(uri)),
      vscode.workspace.onDidSaveTextDocument((document) => this.changed(document.uri)),
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.start()),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.start()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('enclave.index') || e.affectsConfiguration('files.exclude')) void this.start();
      }),
    );
  }

  get enabled(): boolean {
    return this.trusted() && setting('index.enabled', true);
  }

  /** Loads the stored indexes and brings them up to date (in the background). */
  async start(rebuild = false): Promise<void> {
    this.building?.cancel();
    if (!this.enabled) {
      this.folders.clear();
      return;
    }
    const source = new vscode.CancellationTokenSource();
    this.building = source;
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      if (folder.uri.scheme !== 'file') continue;
      const key = createHash('sha256').update(folder.uri.toString()).digest('hex').slice(0, 16);
      const file = join(this.storage.fsPath, 'codebase-index', `${key}.json`);
      let index: SearchIndex | undefined;
      let fresh = rebuild;
      if (!rebuild) {
        try {
          index = await loadIndex(file);
        } catch (err) {
          if (!(err instanceof CorruptIndexError)) throw err;
          this.log.warn(`stored index for ${folder.name} unusable (${err.message}): rebuilding`);
          void vscode.window.showInformationMessage(`Enclave: the codebase index of ${folder.name} was damaged and is being rebuilt.`);
        }
      }
      if (!index) fresh = true;
      const entry: FolderIndex = {
        folder,
        index: index ?? new SearchIndex(),
        file,
        filter: new PathFilter(folder.uri.fsPath, excludes(folder)),
        ready: !!index,
      };
      this.folders.set(folder.uri.toString(), entry);
      await this.build(entry, fresh, source.token);
    }
  }

  private async build(entry: FolderIndex, fresh: boolean, token: vscode.CancellationToken): Promise<void> {
    const controller = new AbortController();
    token.onCancellationRequested(() => controller.abort());
    const run = async (progress?: vscode.Progress<{ message?: string; increment?: number }>, cancel?: vscode.CancellationToken) => {
      cancel?.onCancellationRequested(() => controller.abort());
      let last = 0;
      const result = await buildIndex(entry.index, {
        root: entry.folder.uri.fsPath,
        exclude: excludes(entry.folder),
        maxFiles: maxFiles(),
        signal: controller.signal,
        onProgress: ({ done, total }) => {
          const percent = total ? (done / total) * 100 : 100;
          progress?.report({ message: `${done}/${total} files`, increment: percent - last });
          last = percent;
        },
      });
      entry.ready = true;
      this.log.info(
        `index of ${entry.folder.name}: ${result.files} files (${result.indexed} read, ${result.removed} removed), ${entry.index.chunkCount} chunks, ${Math.round(result.ms)} ms`,
      );
      if (result.capped)
        void vscode.window.showWarningMessage(
          `Enclave indexed only the first ${maxFiles()} files of ${entry.folder.name}. Exclude generated folders (files.exclude, .gitignore) or raise enclave.index.maxFiles.`,
        );
      if (result.indexed || result.removed || fresh) await saveIndex(entry.file, entry.index);
    };
    try {
      // A first build shows its progress and can be cancelled; catching up on a stored index is quiet.
      if (fresh)
        await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: `Enclave: indexing ${entry.folder.name}`, cancellable: true },
          (progress, cancel) => run(progress, cancel),
        );
      else
        await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Enclave: updating the index' }, () => run());
    } catch (err) {
      if (controller.signal.aborted) this.log.info(`indexing ${entry.folder.name} cancelled`);
      else this.log.warn(`indexing ${entry.folder.name} failed: ${errorMessage(err)}`);
    }
  }

  private changed(uri: vscode.Uri): void {
    if (uri.scheme !== 'file' || !this.enabled) return;
    this.pending.set(uri.toString(), uri);
    void this.flush();
  }

  /** Applies queued file changes one after another (a burst of events is one pass). */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending.size) {
        const [key, uri] = this.pending.entries().next().value as [string, vscode.Uri];
        this.pending.delete(key);
        const folder = vscode.workspace.getWorkspaceFolder(uri);
        const entry = folder && this.folders.get(folder.uri.toString());
        if (!entry?.ready) continue;
        const relative = vscode.workspace.asRelativePath(uri, false);
        if (relative.endsWith('.gitignore')) entry.filter.forget();
        if (!(await entry.filter.allows(relative))) {
          entry.index.removeFile(relative);
          continue;
        }
        if (entry.index.fileCount >= maxFiles() && !entry.index.paths().includes(relative)) continue;
        await updateFile(entry.index, entry.folder.uri.fsPath, uri.fsPath);
        this.scheduleSave();
      }
    } catch (err) {
      this.log.warn(`index update failed: ${errorMessage(err)}`);
    } finally {
      this.flushing = false;
    }
  }

  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      for (const entry of this.folders.values())
        void saveIndex(entry.file, entry.index).catch((err: unknown) => this.log.warn(`index not saved: ${errorMessage(err)}`));
    }, 30_000);
  }

  /** The chunks that best match `query`, read from their files as they are now. */
  async retrieve(query: string, limit = 4): Promise<RetrievedChunk[]> {
    if (!this.enabled) return [];
    const scored: Array<{ entry: FolderIndex; hit: Hit }> = [];
    for (const entry of this.folders.values()) {
      if (!entry.ready) continue;
      for (const hit of entry.index.query(query, limit, 1)) scored.push({ entry, hit });
    }
    scored.sort((a, b) => b.hit.score - a.hit.score);
    const out: RetrievedChunk[] = [];
    for (const { entry, hit } of scored.slice(0, limit)) {
      const text = await readHit(entry.folder.uri.fsPath, hit);
      if (text?.trim()) out.push({ ...hit, uri: vscode.Uri.joinPath(entry.folder.uri, hit.path), text });
    }
    return out;
  }

  dispose(): void {
    this.building?.cancel();
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      for (const entry of this.folders.values()) void saveIndex(entry.file, entry.index).catch(() => undefined);
    }
    for (const d of this.disposables) d.dispose();
  }
}
