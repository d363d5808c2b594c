// Reading working-tree files for a review without trusting them: a file untracked by git can be
// anything — a symlink to ~/.ssh/id_rsa, a 1.5 GB adapter, a FIFO. Each is looked at with lstat
// first, opened without following symlinks, and read only up to a bound, so nothing outside the
// repository and nothing huge ever reaches the extension host's memory or a prompt. Plain Node.
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';

import { wholeFileDiff, type FileDiff, type SkippedFile } from './diff';

/** A review reads whole files up to this size; larger ones are skipped with a note (chunked review of a MB-sized file is rarely what anyone wants). */
export const MAX_REVIEW_FILE_BYTES = 1024 * 1024;
/** Bytes looked at for NUL to call a file binary (git's own heuristic looks at the first 8000). */
const BINARY_PROBE_BYTES = 8000;

/**
 * Pathspecs that keep Enclave's own output (`.enclave/`: adapters, datasets, reports) out of a
 * review, wherever the workspace folder sits inside the repository.
 */
export const REVIEW_PATHSPECS: readonly string[] = ['.', ':(exclude,glob)**/.enclave/**'];

export function isEnclaveOutput(path: string): boolean {
  return `/${path}`.includes('/.enclave/');
}

export type WorkingFile = { kind: 'text'; text: string } | { kind: 'skipped'; skip: Omit<SkippedFile, 'path'> };

// O_NOFOLLOW makes open fail on a symlink even if one replaced the file after the lstat.
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;

/** One working-tree file as text, or why it is not read: never through a symlink, never more than `maxBytes`. */
export async function readWorkingFile(root: string, path: string, maxBytes = MAX_REVIEW_FILE_BYTES): Promise<WorkingFile> {
  const full = join(root, path);
  const info = await lstat(full).catch(() => undefined);
  if (!info) return { kind: 'skipped', skip: { reason: 'unreadable', detail: 'gone' } };
  if (info.isSymbolicLink()) return { kind: 'skipped', skip: { reason: 'not-a-file', detail: 'a symbolic link (not followed)' } };
  if (!info.isFile()) return { kind: 'skipped', skip: { reason: 'not-a-file' } };
  if (info.size > maxBytes) return { kind: 'skipped', skip: { reason: 'too-large', detail: `${info.size} bytes, limit ${maxBytes}` } };
  let handle;
  try {
    handle = await open(full, constants.O_RDONLY | NO_FOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      kind: 'skipped',
      skip: code === 'ELOOP' ? { reason: 'not-a-file', detail: 'a symbolic link (not followed)' } : { reason: 'unreadable', detail: code },
    };
  }
  try {
    // The file may have grown since the lstat: read one byte more than allowed to notice.
    const opened = await handle.stat();
    if (!opened.isFile()) return { kind: 'skipped', skip: { reason: 'not-a-file' } };
    const buffer = Buffer.alloc(Math.min(opened.size, maxBytes) + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled > maxBytes) return { kind: 'skipped', skip: { reason: 'too-large', detail: `over ${maxBytes} bytes` } };
    const bytes = buffer.subarray(0, filled);
    if (bytes.subarray(0, BINARY_PROBE_BYTES).includes(0)) return { kind: 'skipped', skip: { reason: 'binary' } };
    return { kind: 'text', text: bytes.toString('utf8') };
  } finally {
    await handle.close();
  }
}

/** Untracked files as whole-file additions, and those that are not read with the reason. */
export async function untrackedChanges(
  root: string,
  paths: readonly string[],
  maxBytes = MAX_REVIEW_FILE_BYTES,
): Promise<{ files: FileDiff[]; skipped: SkippedFile[] }> {
  const files: FileDiff[] = [];
  const skipped: SkippedFile[] = [];
  for (const path of paths) {
    if (isEnclaveOutput(path)) continue;
    const file = await readWorkingFile(root, path, maxBytes);
    if (file.kind === 'text') files.push(wholeFileDiff(path, file.text));
    else skipped.push({ path, ...file.skip });
  }
  return { files, skipped };
}

/** `git ls-files` arguments for the untracked files a review of uncommitted changes includes. */
export function untrackedListArgs(): string[] {
  return ['-c', 'core.quotepath=off', 'ls-files', '--others', '--exclude-standard', '-z', '--', ...REVIEW_PATHSPECS];
}
