// What a commit message is written from, read with the git the built-in extension uses: the staged
// change (or the unstaged one when nothing is staged), sizes before any diff text (a 100 MB file
// or a binary is never read into memory), and the repository's recent subjects.
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

import { gitDiffArgs, parseUnifiedDiff, type FileDiff } from '../review/diff';
import { parseNumstat, summaryReason, type ChangedFile } from './core';

export interface CommitChange {
  /** Staged (the index against HEAD), or unstaged (the working tree against the index) when nothing is staged. */
  scope: 'staged' | 'unstaged';
  files: ChangedFile[];
  /** Diffs of the files worth pasting (the others are described by their counts). */
  diffs: FileDiff[];
}

export function runGit(gitPath: string, cwd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(gitPath, args, { cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err)
        reject(new Error(`git ${args.find((a) => !a.startsWith('-') && !a.includes('=')) ?? ''} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

const QUIET = ['-c', 'core.quotepath=off'];

/** The change to describe, or undefined when nothing is staged or changed. */
export async function readCommitChange(gitPath: string, root: string): Promise<CommitChange | undefined> {
  const git = (args: string[], input?: string) => runGit(gitPath, root, args, input);
  let scope: CommitChange['scope'] = 'staged';
  let files = parseNumstat(await git([...QUIET, 'diff', '--cached', '--numstat', '-z', '--find-renames']));
  if (files.length === 0) {
    scope = 'unstaged';
    files = parseNumstat(await git([...QUIET, 'diff', '--numstat', '-z', '--find-renames']));
  }
  if (files.length === 0) return undefined;

  if (scope === 'staged') {
    // The index's blob sizes in one call: "<sha> blob <size>" or "<name> missing" (deleted) per line.
    const sizes = (await git(['cat-file', '--batch-check'], files.map((f) => `:${f.path}`).join('\n') + '\n')).split('\n');
    files.forEach((file, i) => {
      const m = /^\w+ blob (\d+)$/.exec(sizes[i] ?? '');
      if (m) file.sizeBytes = Number(m[1]);
    });
  } else {
    await Promise.all(
      files.map(async (file) => {
        const info = await stat(join(root, file.path)).catch(() => undefined);
        if (info) file.sizeBytes = info.size;
      }),
    );
  }

  const paste = files.filter((f) => !summaryReason(f)).map((f) => f.path);
  let diffs: FileDiff[] = [];
  if (paste.length) {
    const args = gitDiffArgs('staged');
    if (scope === 'unstaged') args.splice(args.indexOf('--cached'), 1);
    diffs = parseUnifiedDiff(await git([...args, '--', ...paste]));
  }
  return { scope, files, diffs };
}

/** The newest `count` commit subjects (none in a repository without commits). */
export async function recentSubjects(gitPath: string, root: string, count = 30): Promise<string[]> {
  const out = await runGit(gitPath, root, ['log', `-n${count}`, '--no-merges', '--format=%s']).catch(() => '');
  return out.split('\n').filter(Boolean);
}
