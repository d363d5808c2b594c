// The vscode side of the codebase index: one index per workspace folder, only in a trusted
// workspace, stored under the extension's workspace storage, built in the background with progress
// and cancel, kept current from file events, rebuilt with a notice when the stored copy is damaged.
import { createHash } from 'node:crypto';
import { join } from 'node:path';

import * as vscode from 'vscode';

import type { ChunkEmbedder } from './chunkEmbedder';
import type { Logger } from '../logger';
import { readHit, type Hit } from './index/hits';
import { IndexWorkerClient } from './index/client';
import type { FolderSpec } from './index/protocol';
import { NUMBER_SETTINGS } from '../settings';
import { errorMessage } from '../util';

export interface RetrievedChunk extends Hit {
  uri: vscode.Uri;
  text: string;
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

/** The bundled worker next to the extension's bundle (esbuild.js builds both into dist/). */
const WORKER_SCRIPT = join(__dirname, 'indexWorker.js');

interface FolderIndex {
  folder: vscode.WorkspaceFolder;
  spec: FolderSpec;
}

export class CodebaseIndexService implements vscode.Disposable {
  /** Workspace folders with an index, by the key the worker knows them by. */
  private readonly folders = new Map<string, FolderIndex>();
  private readonly disposables: vscode.Disposable[] = [];
  private worker?: IndexWorkerClient;
  private building?: vscode.CancellationTokenSource;
  private chunking?: 'syntax' | 'lines';
  private saveTimer?: ReturnType<typeof setTimeout>;
  private readonly pending = new Map<string, vscode.Uri>();
  private flushing = false;

  constructor(
    private readonly storage: vscode.Uri,
    private readonly log: Logger,
    private readonly trusted: () => boolean,
    /** Vectors for the chunks when an embedding model is set (chunkEmbedder.ts); retrieval is lexical without. */
    private readonly embedder?: ChunkEmbedder,
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

  /** The worker, started when first needed (and again after one stopped). */
  private client(): IndexWorkerClient {
    if (this.worker?.alive) return this.worker;
    const worker = new IndexWorkerClient(WORKER_SCRIPT, {
      onExit: (reason) => {
        this.log.warn(`index worker stopped (${reason}): the index is off until it is rebuilt or the window reloads`);
        this.folders.clear();
      },
    });
    this.worker = worker;
    return worker;
  }

  /** Loads the stored indexes and brings them up to date (in the background, in the worker). */
  async start(rebuild = false): Promise<void> {
    // Chunks cut the other way would stay until their files change: a changed setting rebuilds.
    const chunking = setting('index.syntaxChunks', true) ? 'syntax' : 'lines';
    if (this.chunking && this.chunking !== chunking) rebuild = true;
    this.chunking = chunking;
    this.building?.cancel();
    this.embedder?.stop();
    this.folders.clear();
    if (!this.enabled) {
      // Off: the worker and the memory its indexes hold go.
      const worker = this.worker;
      this.worker = undefined;
      await worker?.terminate();
      return;
    }
    const source = new vscode.CancellationTokenSource();
    this.building = source;
    const worker = this.client();
    const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
    const keys = folders.map((folder) => createHash('sha256').update(folder.uri.toString()).digest('hex').slice(0, 16));
    await worker.retain(keys);
    for (const [i, folder] of folders.entries()) {
      if (source.token.isCancellationRequested) return;
      const spec: FolderSpec = {
        key: keys[i],
        root: folder.uri.fsPath,
        file: join(this.storage.fsPath, 'codebase-index', `${keys[i]}.json`),
        exclude: excludes(folder),
        maxFiles: maxFiles(),
        chunking,
      };
      const opened = await worker.open(spec, rebuild);
      if (opened.corrupt) {
        this.log.warn(`stored index for ${folder.name} unusable (${opened.corrupt}): rebuilding`);
        void vscode.window.showInformationMessage(`Enclave: the codebase index of ${folder.name} was damaged and is being rebuilt.`);
      }
      const entry: FolderIndex = { folder, spec };
      this.folders.set(spec.key, entry);
      await this.build(worker, entry, !opened.loaded, source.token);
    }
    // Vectors after the lexical index: it is usable meanwhile.
    if (!source.token.isCancellationRequested) void this.embedder?.start(worker, [...this.folders.keys()]);
  }

  /** The embedding model changed (or a workspace value of it was confirmed): vectors for it, in the background. */
  restartEmbeddings(): void {
    if (this.enabled && this.worker?.alive && this.folders.size) void this.embedder?.start(this.worker, [...this.folders.keys()]);
  }

  /** Fills in the vectors still missing (the engine became ready). */
  resumeEmbeddings(): void {
    if (this.enabled && this.worker?.alive && this.folders.size) this.embedder?.update(this.worker, [...this.folders.keys()]);
  }

  private async build(worker: IndexWorkerClient, entry: FolderIndex, fresh: boolean, token: vscode.CancellationToken): Promise<void> {
    const controller = new AbortController();
    token.onCancellationRequested(() => controller.abort());
    const run = async (progress?: vscode.Progress<{ message?: string; increment?: number }>, cancel?: vscode.CancellationToken) => {
      cancel?.onCancellationRequested(() => controller.abort());
      let last = 0;
      const result = await worker.build(
        entry.spec.key,
        fresh,
        (done, total) => {
          const percent = total ? (done / total) * 100 : 100;
          progress?.report({ message: `${done}/${total} files`, increment: percent - last });
          last = percent;
        },
        controller.signal,
      );
      this.log.info(
        `index of ${entry.folder.name}: ${result.files} files (${result.indexed} read, ${result.removed} removed), ${result.chunks} chunks (${result.parsed} files cut by syntax, ${result.parseFailed} parses failed), ${Math.round(result.ms)} ms`,
      );
      if (!result.parser) this.log.warn('tree-sitter did not load (dist/tree-sitter missing?): files are cut into chunks by lines');
      if (result.capped)
        void vscode.window.showWarningMessage(
          `Enclave indexed only the first ${entry.spec.maxFiles} files of ${entry.folder.name}. Exclude generated folders (files.exclude, .gitignore) or raise enclave.index.maxFiles.`,
        );
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

  /** Hands queued file changes to the worker one after another (a burst of events is one pass). */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending.size) {
        const [key, uri] = this.pending.entries().next().value as [string, vscode.Uri];
        this.pending.delete(key);
        const folder = vscode.workspace.getWorkspaceFolder(uri);
        const entry = folder && [...this.folders.values()].find((f) => f.folder.uri.toString() === folder.uri.toString());
        if (!entry || !this.worker?.alive) continue;
        if (await this.worker.change(entry.spec.key, vscode.workspace.asRelativePath(uri, false))) this.scheduleSave();
      }
      if (this.worker?.alive) this.embedder?.update(this.worker, [...this.folders.keys()]);
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
      void this.worker?.save().catch((err: unknown) => this.log.warn(`index not saved: ${errorMessage(err)}`));
    }, 30_000);
  }

  /**
   * The chunks that best match `query`, read from their files as they are now. `semantic` (chat):
   * fused with the chunks nearest to the question's embedding when an embedding model is set.
   */
  async retrieve(query: string, limit = 4, semantic = false): Promise<RetrievedChunk[]> {
    if (!this.enabled || !this.worker?.alive || !this.folders.size) return [];
    const vector = semantic ? await this.embedder?.queryVector(query) : undefined;
    if (!this.worker?.alive) return [];
    const out: RetrievedChunk[] = [];
    for (const { key, hit } of await this.worker.query(query, limit, 1, vector)) {
      const entry = this.folders.get(key);
      if (!entry) continue;
      const text = await readHit(entry.folder.uri.fsPath, hit);
      if (text?.trim()) out.push({ ...hit, uri: vscode.Uri.joinPath(entry.folder.uri, hit.path), text });
    }
    return out;
  }

  dispose(): void {
    this.building?.cancel();
    this.embedder?.stop();
    for (const d of this.disposables) d.dispose();
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    // Changes since the last save are written before the worker goes.
    const save = this.saveTimer ? worker.save() : Promise.resolve();
    if (this.saveTimer) clearTimeout(this.saveTimer);
    void save.catch(() => undefined).finally(() => void worker.terminate());
  }
}
