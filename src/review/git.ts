// What to review, from VS Code's built-in git extension: it finds the repositories, knows the
// branches and merge bases and which git binary the user runs; the diffs themselves come from
// that git with fixed arguments (diff.ts `gitDiffArgs`, the same ones the tests run).
import { execFile } from 'node:child_process';
import { relative } from 'node:path';

import * as vscode from 'vscode';

import type { Logger } from '../logger';
import {
  EMPTY_TREE,
  gitDiffArgs,
  mapLineThroughDiff,
  parseUnifiedDiff,
  wholeFileDiff,
  type DiffScope,
  type FileDiff,
  type LineRange,
  type SkippedFile,
} from './diff';
import type { ReviewInput } from './reviewer';
import { readWorkingFile, REVIEW_PATHSPECS, untrackedChanges, untrackedListArgs } from './worktree';

// The parts of the git extension's API (extensions/git/src/api/git.d.ts) this file uses.
interface GitExtension {
  readonly enabled: boolean;
  getAPI(version: 1): GitApi;
}
export interface GitApi {
  readonly git: { readonly path: string };
  readonly state: 'uninitialized' | 'initialized';
  readonly onDidChangeState: vscode.Event<'uninitialized' | 'initialized'>;
  readonly repositories: GitRepository[];
  getRepository(uri: vscode.Uri): GitRepository | null;
}
export interface GitRepository {
  readonly rootUri: vscode.Uri;
  /** The Source Control view's commit message box. */
  readonly inputBox: { value: string };
  readonly state: { readonly HEAD: { readonly name?: string; readonly commit?: string } | undefined };
  getBranches(query: { remote?: boolean }): Promise<{ name?: string; commit?: string; remote?: string }[]>;
  getMergeBase(ref1: string, ref2: string): Promise<string | undefined>;
}

/** A review's input together with the folder its paths are relative to. */
export interface ReviewTarget {
  root: vscode.Uri;
  input: ReviewInput;
}

/** Thrown with a message for the user (no repository, git disabled …). */
export class ReviewSourceError extends Error {}

/** The built-in git extension's API once it has found the repositories, or a ReviewSourceError saying why there is none. */
export async function openGitApi(): Promise<GitApi> {
  const extension = vscode.extensions.getExtension<GitExtension>('vscode.git');
  if (!extension)
    throw new ReviewSourceError(
      'The built-in Git extension is not available, so there is no diff to review. Use "Enclave: Review Current File" instead.',
    );
  const exports = extension.isActive ? extension.exports : await extension.activate();
  if (!exports.enabled)
    throw new ReviewSourceError(
      'Git is disabled (setting "git.enabled"). Enable it to review changes, or use "Enclave: Review Current File".',
    );
  const api = exports.getAPI(1);
  if (api.state !== 'initialized') {
    // Right after start-up the git extension is still scanning for repositories.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 10_000);
      const subscription = api.onDidChangeState((state) => state === 'initialized' && done());
      function done() {
        clearTimeout(timer);
        subscription.dispose();
        resolve();
      }
    });
  }
  return api;
}

export class GitSource {
  private constructor(
    private readonly api: GitApi,
    private readonly log: Logger,
  ) {}

  /** The git API, or a ReviewSourceError saying why there is none. */
  static async open(log: Logger): Promise<GitSource> {
    return new GitSource(await openGitApi(), log);
  }

  /** The repository of the active editor, the only one, or the one the user picks. */
  async repository(): Promise<GitRepository> {
    const active = vscode.window.activeTextEditor?.document.uri;
    const fromEditor = active && this.api.getRepository(active);
    if (fromEditor) return fromEditor;
    const repos = this.api.repositories;
    if (repos.length === 0)
      throw new ReviewSourceError('No git repository is open in this window. Open a folder under git to review its changes.');
    if (repos.length === 1) return repos[0];
    const picked = await vscode.window.showQuickPick(
      repos.map((r) => ({ label: vscode.workspace.asRelativePath(r.rootUri, false) || r.rootUri.fsPath, repo: r })),
      { placeHolder: 'Which repository should Enclave review?' },
    );
    if (!picked) throw new vscode.CancellationError();
    return picked.repo;
  }

  /** Working tree and index against HEAD (untracked files included), or staged changes only. */
  async changes(repo: GitRepository, scope: Exclude<DiffScope, 'branch'>): Promise<ReviewTarget> {
    const root = repo.rootUri.fsPath;
    const hasHead =
      Boolean(repo.state.HEAD?.commit) ||
      (await this.git(root, ['rev-parse', '--verify', '-q', 'HEAD']).then(
        () => true,
        () => false,
      ));
    // Enclave's own .enclave/ output is left out by pathspec: git never even lists it.
    const files = parseUnifiedDiff(
      await this.git(root, gitDiffArgs(scope, { base: hasHead ? 'HEAD' : EMPTY_TREE }, [...REVIEW_PATHSPECS])),
    );
    const skipped: SkippedFile[] = [];
    if (scope === 'uncommitted') {
      const untracked = (await this.git(root, untrackedListArgs())).split('\0').filter(Boolean);
      const read = await untrackedChanges(root, untracked);
      files.push(...read.files);
      skipped.push(...read.skipped);
    }
    const title = scope === 'uncommitted' ? 'uncommitted changes' : 'staged changes';
    const read =
      scope === 'uncommitted'
        ? async (path: string) => {
            const file = await readWorkingFile(root, path);
            return file.kind === 'text' ? file.text : undefined;
          }
        : (path: string) => this.git(root, ['show', `:${path}`]).catch(() => undefined);
    // A staged review reads the index; the editor shows the working tree: map through their diff.
    const lineMapper = scope === 'staged' ? (path: string) => this.mapperTo(root, [], path) : undefined;
    return { root: repo.rootUri, input: { title, files, skipped, readFile: read, lineMapper } };
  }

  /** The current branch's commits since it left `base` (merge base to HEAD). */
  async branch(repo: GitRepository, base: string): Promise<ReviewTarget> {
    const root = repo.rootUri.fsPath;
    const head = repo.state.HEAD?.commit ?? (await this.git(root, ['rev-parse', 'HEAD'])).trim();
    const mergeBase = await repo.getMergeBase(base, head);
    if (!mergeBase) throw new ReviewSourceError(`The current branch has no common history with ${base}.`);
    const files = parseUnifiedDiff(await this.git(root, gitDiffArgs('branch', { base: mergeBase, head }, [...REVIEW_PATHSPECS])));
    return {
      root: repo.rootUri,
      input: {
        title: `${repo.state.HEAD?.name ?? head.slice(0, 8)} against ${base}`,
        files,
        readFile: (path) => this.git(root, ['show', `${head}:${path}`]).catch(() => undefined),
        lineMapper: (path) => this.mapperTo(root, [head], path),
      },
    };
  }

  /** Quick pick of the branches to compare the current one with (main / master first). */
  async pickBase(repo: GitRepository): Promise<string | undefined> {
    const current = repo.state.HEAD?.name;
    const branches = (await repo.getBranches({ remote: true }))
      .map((b) => b.name)
      .filter((n): n is string => Boolean(n) && n !== current && !n!.endsWith('/HEAD'));
    if (branches.length === 0) throw new ReviewSourceError('There is no other branch to compare the current one with.');
    const rank = (n: string) => (/(^|\/)(main|master)$/.test(n) ? 0 : n.includes('/') ? 2 : 1);
    branches.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    return vscode.window.showQuickPick(branches, { placeHolder: `Review ${current ?? 'HEAD'} against which branch?` });
  }

  /** Maps lines of a reviewed version (`git diff <from> -- path` old side) to the working tree. */
  private async mapperTo(root: string, from: string[], path: string): Promise<((line: number) => number | undefined) | undefined> {
    const text = await this.git(root, [
      '-c',
      'core.quotepath=off',
      'diff',
      '--no-color',
      '--no-ext-diff',
      '--src-prefix=a/',
      '--dst-prefix=b/',
      ...from,
      '--',
      path,
    ]).catch(() => '');
    const diff: FileDiff | undefined = parseUnifiedDiff(text)[0];
    if (!diff) return undefined;
    return (line) => mapLineThroughDiff(diff, line);
  }

  private git(cwd: string, args: string[]): Promise<string> {
    this.log.debug(`git ${args.join(' ')}`);
    return new Promise((resolve, reject) => {
      execFile(this.api.git.path, args, { cwd, maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (err) reject(new Error(`git ${args[0] === '-c' ? args[2] : args[0]} failed: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      });
    });
  }
}

/** The active document as a review: all of it, or the selected lines. Needs no git. */
export function documentTarget(document: vscode.TextDocument, selection?: vscode.Selection): ReviewTarget {
  const folder = vscode.workspace.getWorkspaceFolder(document.uri);
  const root = folder?.uri ?? vscode.Uri.joinPath(document.uri, '..');
  const path = relative(root.fsPath, document.uri.fsPath).replace(/\\/g, '/') || document.uri.path.split('/').pop()!;
  const text = document.getText();
  let range: LineRange | undefined;
  if (selection && !selection.isEmpty) {
    // A selection ending at column 0 does not include that line.
    const endLine =
      selection.end.character === 0 && selection.end.line > selection.start.line ? selection.end.line - 1 : selection.end.line;
    range = { start: selection.start.line + 1, end: endLine + 1 };
  }
  return {
    root,
    input: {
      title: range ? `${path}, lines ${range.start}–${range.end}` : path,
      files: [wholeFileDiff(path, text, range)],
      readFile: async () => text,
    },
  };
}
