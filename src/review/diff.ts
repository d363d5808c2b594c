// Unified diffs → files and hunks with old/new line numbers (parse-diff reads the hunks; the git
// extended headers it ignores — binary, rename, mode — are read here), plus which files a review
// skips (binary, deleted, generated) and how a line moves through a diff.
import parseDiff from 'parse-diff';

import { isGeneratedName, isLockfile } from '../generatedFiles';

export interface DiffLine {
  kind: 'add' | 'del' | 'context';
  /** Line in the old file (del, context). */
  oldLine?: number;
  /** Line in the new file (add, context). */
  newLine?: number;
  text: string;
}

export interface Hunk {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  lines: DiffLine[];
}

export type FileStatus = 'added' | 'deleted' | 'modified' | 'renamed';

export interface FileDiff {
  /** Path before the change; null for an added file. */
  oldPath: string | null;
  /** Path after the change; null for a deleted file. */
  newPath: string | null;
  /** The path a review talks about: the new path, or the old one for a deleted file. */
  path: string;
  status: FileStatus;
  binary: boolean;
  hunks: Hunk[];
  additions: number;
  deletions: number;
}

export type SkipReason = 'binary' | 'deleted' | 'generated' | 'no-content-change' | 'too-large' | 'not-a-file' | 'unreadable';

export interface SkippedFile {
  path: string;
  reason: SkipReason;
  detail?: string;
}

/** Inclusive range of lines (1-based). */
export interface LineRange {
  start: number;
  end: number;
}

const DEV_NULL = '/dev/null';

/** Parses the output of `git diff` (or any unified diff) into files. */
export function parseUnifiedDiff(text: string): FileDiff[] {
  const normalized = text.replace(/\r\n/g, '\n');
  return splitSections(normalized)
    .map(parseSection)
    .filter((f): f is FileDiff => f !== undefined);
}

function splitSections(text: string): string[] {
  const lines = text.split('\n');
  const sections: string[][] = [];
  let current: string[] | undefined;
  for (const line of lines) {
    if (line.startsWith('diff --git ') || (!current && line.startsWith('--- '))) {
      current = [];
      sections.push(current);
    }
    current?.push(line);
  }
  return sections.map((s) => s.join('\n'));
}

function parseSection(section: string): FileDiff | undefined {
  const header = section.split('\n@@')[0].split('\n');
  let oldPath: string | null | undefined;
  let newPath: string | null | undefined;
  let binary = false;
  let renamed = false;
  let added = false;
  let deleted = false;
  for (const line of header) {
    if (line.startsWith('rename from ')) {
      oldPath = unquote(line.slice('rename from '.length));
      renamed = true;
    } else if (line.startsWith('rename to ')) {
      newPath = unquote(line.slice('rename to '.length));
      renamed = true;
    } else if (line.startsWith('new file mode')) added = true;
    else if (line.startsWith('deleted file mode')) deleted = true;
    else if (/^Binary files .* differ$/.test(line) || line === 'GIT binary patch') binary = true;
    else if (line.startsWith('--- ')) oldPath = headerPath(line.slice(4), 'a/');
    else if (line.startsWith('+++ ')) newPath = headerPath(line.slice(4), 'b/');
  }
  if (header[0].startsWith('diff --git ') && (oldPath === undefined || newPath === undefined)) {
    const [a, b] = gitHeaderPaths(header[0].slice('diff --git '.length));
    if (oldPath === undefined) oldPath = deleted || !added ? a : null;
    if (newPath === undefined) newPath = added || !deleted ? b : null;
  }
  if (added) oldPath = null;
  if (deleted) newPath = null;
  if (oldPath === undefined) oldPath = newPath ?? null;
  if (newPath === undefined) newPath = oldPath;
  const path = newPath ?? oldPath;
  if (!path) return undefined;

  // parse-diff throws a TypeError on a "\ No newline" marker that opens a hunk (git never writes
  // one; a damaged or hand-made diff can — found by fuzzing): leave the marker out.
  const parsed = parseDiff(section.replace(/(^@@ [^\n]*\n)(?:\\ [^\n]*(?:\n|$))+/gm, '$1'))[0];
  const hunks: Hunk[] = (parsed?.chunks ?? []).map((chunk) => ({
    oldStart: chunk.oldStart,
    oldLines: chunk.oldLines,
    newStart: chunk.newStart,
    newLines: chunk.newLines,
    lines: chunk.changes
      // parse-diff repeats the previous change for "\ No newline at end of file".
      .filter((c) => !c.content.startsWith('\\'))
      .map((c): DiffLine => {
        const text = c.content.slice(1);
        if (c.type === 'add') return { kind: 'add', newLine: c.ln, text };
        if (c.type === 'del') return { kind: 'del', oldLine: c.ln, text };
        return { kind: 'context', oldLine: c.ln1, newLine: c.ln2, text };
      }),
  }));
  const status: FileStatus =
    oldPath === null ? 'added' : newPath === null ? 'deleted' : renamed || oldPath !== newPath ? 'renamed' : 'modified';
  return {
    oldPath,
    newPath,
    path,
    status,
    binary,
    hunks,
    additions: hunks.reduce((n, h) => n + h.lines.filter((l) => l.kind === 'add').length, 0),
    deletions: hunks.reduce((n, h) => n + h.lines.filter((l) => l.kind === 'del').length, 0),
  };
}

function headerPath(raw: string, prefix: string): string | null {
  // git appends a tab after names with spaces; other tools append a timestamp after a tab.
  const name = unquote(raw.split('\t')[0].trimEnd());
  if (name === DEV_NULL) return null;
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

function gitHeaderPaths(rest: string): [string, string] {
  if (rest.startsWith('"')) {
    const m = /^("(?:[^"\\]|\\.)*")\s+(.*)$/.exec(rest);
    if (m) return [stripPrefix(unquote(m[1]), 'a/'), stripPrefix(unquote(m[2]), 'b/')];
  }
  // Unquoted: "a/x b/x" — both halves are the same length when the path did not change.
  const half = (rest.length - 1) / 2;
  if (Number.isInteger(half) && rest[half] === ' ') {
    return [stripPrefix(rest.slice(0, half), 'a/'), stripPrefix(rest.slice(half + 1), 'b/')];
  }
  const at = rest.indexOf(' b/');
  return at >= 0 ? [stripPrefix(rest.slice(0, at), 'a/'), rest.slice(at + 3)] : [rest, rest];
}

function stripPrefix(path: string, prefix: string): string {
  return path.startsWith(prefix) ? path.slice(prefix.length) : path;
}

/** git C-quotes paths with unusual bytes: "a/\303\244.txt". */
export function unquote(raw: string): string {
  if (!(raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2)) return raw;
  const bytes: number[] = [];
  const body = raw.slice(1, -1);
  const simple: Record<string, number> = { n: 10, t: 9, r: 13, '"': 34, '\\': 92, a: 7, b: 8, f: 12, v: 11 };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch === '\\' && i + 1 < body.length) {
      const next = body[i + 1];
      if (/[0-7]/.test(next)) {
        bytes.push(parseInt(body.slice(i + 1, i + 4), 8));
        i += 3;
        continue;
      }
      bytes.push(simple[next] ?? next.charCodeAt(0));
      i += 1;
      continue;
    }
    bytes.push(...Buffer.from(ch, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A diff for a file that is new in its entirety (untracked files, a whole file, a selection). */
export function wholeFileDiff(path: string, content: string, range?: LineRange): FileDiff {
  const all = splitLines(content);
  const start = range ? Math.max(1, range.start) : 1;
  const end = range ? Math.min(all.length, range.end) : all.length;
  const lines: DiffLine[] = [];
  for (let n = start; n <= end; n++) lines.push({ kind: 'add', newLine: n, text: all[n - 1] });
  return {
    oldPath: range ? path : null,
    newPath: path,
    path,
    status: range ? 'modified' : 'added',
    binary: content.includes('\0'),
    hunks: lines.length ? [{ oldStart: 0, oldLines: 0, newStart: start, newLines: lines.length, lines }] : [],
    additions: lines.length,
    deletions: 0,
  };
}

/** Splits file text into lines the way editors number them (a final newline ends the last line). */
export function splitLines(content: string): string[] {
  const lines = content.replace(/\r\n/g, '\n').split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

const GENERATED_DIRS = ['dist/', 'node_modules/', '__generated__/', '.next/', 'coverage/'];
const GENERATED_HEADER =
  /@generated\b|\bDO NOT EDIT\b|\bauto-?generated\b|\bautomatically generated\b|\bgenerated by\b.*\bdo not (edit|modify)\b/i;

/** Why a path looks generated (lockfile, minified, build output), or undefined. */
export function generatedByPath(path: string): string | undefined {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (isLockfile(name)) return 'lockfile';
  const slashed = `/${path}`;
  const dir = GENERATED_DIRS.find((d) => slashed.includes(`/${d}`));
  if (dir) return `in ${dir}`;
  if (isGeneratedName(name)) return 'generated name';
  return undefined;
}

/** Why file content looks generated (a generated header, minified lines), or undefined. */
export function generatedByContent(headLines: readonly string[]): string | undefined {
  if (headLines.slice(0, 5).some((l) => GENERATED_HEADER.test(l))) return 'generated header';
  const long = headLines.filter((l) => l.length > 500);
  if (long.length > 0 && long.length * 2 >= headLines.length) return 'minified';
  return undefined;
}

/**
 * Splits files into those worth reviewing and those skipped (with the reason).
 * `headOf` may give the new file's first lines, to spot generated headers outside the hunks.
 */
export function selectReviewable(
  files: readonly FileDiff[],
  headOf?: (path: string) => readonly string[] | undefined,
): { review: FileDiff[]; skipped: SkippedFile[] } {
  const review: FileDiff[] = [];
  const skipped: SkippedFile[] = [];
  for (const file of files) {
    const skip = skipReason(file, headOf?.(file.path));
    if (skip) skipped.push({ path: file.path, ...skip });
    else review.push(file);
  }
  return { review, skipped };
}

function skipReason(file: FileDiff, head: readonly string[] | undefined): Omit<SkippedFile, 'path'> | undefined {
  if (file.binary) return { reason: 'binary' };
  if (file.status === 'deleted') return { reason: 'deleted' };
  const byPath = generatedByPath(file.path);
  if (byPath) return { reason: 'generated', detail: byPath };
  const firstLines = head ?? file.hunks[0]?.lines.filter((l) => l.kind !== 'del' && (l.newLine ?? 0) <= 5).map((l) => l.text) ?? [];
  const added = file.hunks.flatMap((h) => h.lines.filter((l) => l.kind === 'add').map((l) => l.text));
  const byContent = generatedByContent(firstLines) ?? generatedByContent(added);
  if (byContent) return { reason: 'generated', detail: byContent };
  if (file.hunks.length === 0) return { reason: 'no-content-change', detail: file.status === 'renamed' ? 'renamed only' : 'mode only' };
  return undefined;
}

/**
 * The new-file lines a review may comment on: added lines, and for a deletion the lines either
 * side of where it was (so "this removal breaks X" has somewhere to point). Sorted and merged.
 */
export function changedLines(file: FileDiff): LineRange[] {
  const ranges: LineRange[] = [];
  for (const hunk of file.hunks) {
    let nextNew = hunk.newStart === 0 ? 1 : hunk.newStart;
    let deletedOnly = false;
    const endRun = () => {
      if (deletedOnly) ranges.push({ start: Math.max(1, nextNew - 1), end: nextNew });
      deletedOnly = false;
    };
    let inRun = false;
    for (const line of hunk.lines) {
      if (line.kind === 'context') {
        endRun();
        inRun = false;
        nextNew = line.newLine! + 1;
      } else if (line.kind === 'add') {
        ranges.push({ start: line.newLine!, end: line.newLine! });
        nextNew = line.newLine! + 1;
        deletedOnly = false;
        inRun = true;
      } else {
        // A deletion next to additions is a rewrite (the additions carry it); one on its own is not.
        if (!inRun) deletedOnly = true;
        inRun = true;
      }
    }
    endRun();
  }
  return mergeRanges(ranges);
}

export function mergeRanges(ranges: readonly LineRange[]): LineRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: LineRange[] = [];
  for (const r of sorted) {
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  return merged;
}

/**
 * Where a line of the diff's old side is on its new side: shifted by the hunks above it; a
 * deleted line that was moved (re-added verbatim, once, elsewhere) follows its content; a line
 * deleted or rewritten maps to undefined.
 */
export function mapLineThroughDiff(file: FileDiff, oldLine: number): number | undefined {
  let offset = 0;
  for (const hunk of file.hunks) {
    const oldEnd = hunk.oldStart + hunk.oldLines - 1;
    if (hunk.oldLines > 0 && oldLine > oldEnd) {
      offset = hunk.newStart + hunk.newLines - (hunk.oldStart + hunk.oldLines);
      continue;
    }
    if (hunk.oldLines === 0 && oldLine > hunk.oldStart) {
      offset = hunk.newStart + hunk.newLines - (hunk.oldStart + 1);
      continue;
    }
    if (oldLine < hunk.oldStart || (hunk.oldLines === 0 && oldLine <= hunk.oldStart)) break;
    const line = hunk.lines.find((l) => l.oldLine === oldLine);
    if (line?.kind === 'context') return line.newLine;
    return line ? movedTo(file, line.text) : undefined;
  }
  return oldLine + offset;
}

function movedTo(file: FileDiff, text: string): number | undefined {
  if (text.trim().length < 3) return undefined;
  const added = file.hunks.flatMap((h) => h.lines).filter((l) => l.kind === 'add' && l.text === text);
  const deleted = file.hunks.flatMap((h) => h.lines).filter((l) => l.kind === 'del' && l.text === text);
  return added.length === 1 && deleted.length === 1 ? added[0].newLine : undefined;
}

export type DiffScope = 'uncommitted' | 'staged' | 'branch';

/**
 * The git arguments for each review scope (used by the extension and by the tests on real
 * repositories): no colour, no external diff tool, renames detected, prefixes and path quoting
 * fixed whatever the user's git config says.
 */
export function gitDiffArgs(scope: DiffScope, refs: { base?: string; head?: string } = {}, paths: string[] = []): string[] {
  const args = [
    '-c',
    'core.quotepath=off',
    'diff',
    '--no-color',
    '--no-ext-diff',
    '--find-renames',
    '--src-prefix=a/',
    '--dst-prefix=b/',
    '--unified=3',
  ];
  if (scope === 'uncommitted') args.push(refs.base ?? 'HEAD');
  else if (scope === 'staged') args.push('--cached');
  else {
    if (!refs.base) throw new Error('A branch review needs a base commit.');
    args.push(refs.base, refs.head ?? 'HEAD');
  }
  if (paths.length) args.push('--', ...paths);
  return args;
}

/** The object id of git's empty tree: the base of an uncommitted review before the first commit. */
export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
