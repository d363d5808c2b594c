// Project rules files (AGENTS.md, .cursorrules, …): found and read from a workspace folder with
// plain Node fs, no vscode, so every refusal — untrusted workspace, oversized, not UTF-8, a
// symlink out of the workspace — is unit-tested on real files.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { isInside } from '../paths';

/** The rules files Enclave reads, in the order they go into a prompt (paths use `/`). */
export const RULE_FILES: readonly string[] = [
  'AGENTS.md',
  '.github/copilot-instructions.md',
  '.cursorrules',
  '.clinerules',
  'CLAUDE.md',
  '.enclave/rules.md',
];

/** Bytes read from one rules file; the rest is left out with a note. */
export const MAX_RULE_FILE_BYTES = 32 * 1024;
/** Bytes of all rules files together (a small local model's context is precious). */
export const MAX_RULES_TOTAL_BYTES = 64 * 1024;
/** Markdown files read from a `.clinerules/` folder (Cline's folder form). */
const MAX_FOLDER_FILES = 16;

export interface RuleFile {
  /** Relative to the workspace folder, with `/` (e.g. `.github/copilot-instructions.md`). */
  path: string;
  text: string;
  /** Whether the file was longer than the cap and only its head was kept. */
  truncated: boolean;
}

export interface SkippedRuleFile {
  path: string;
  /** Why, in words for the log ("not UTF-8 text", "a link to a file outside the workspace"). */
  reason: string;
}

export interface LoadedRules {
  files: RuleFile[];
  /** All files' texts, each under a heading naming it: what goes into a prompt. */
  text: string;
  skipped: SkippedRuleFile[];
}

export interface LoadOptions {
  /** An untrusted workspace's rules are never read (they would steer the model). */
  trusted: boolean;
  maxFileBytes?: number;
  maxTotalBytes?: number;
}

/** The candidate paths (relative, `/`) that exist in `folder`, in prompt order; no trust check. */
export async function findRules(folder: string): Promise<string[]> {
  const found: string[] = [];
  for (const relative of RULE_FILES) {
    const full = path.join(folder, ...relative.split('/'));
    const stat = await fs.lstat(full).catch(() => undefined);
    if (!stat) continue;
    if (stat.isDirectory() && relative === '.clinerules') {
      const names = await fs.readdir(full).catch(() => [] as string[]);
      const markdown = names.filter((n) => n.endsWith('.md')).sort();
      found.push(...markdown.slice(0, MAX_FOLDER_FILES).map((n) => `${relative}/${n}`));
    } else {
      found.push(relative);
    }
  }
  return found;
}

/**
 * Reads the rules of `folder`. Untrusted → none. Each file: a regular file whose real path is
 * inside the folder, UTF-8 (a BOM is dropped), at most `maxFileBytes` (the head is kept at a line
 * end, with a note), and all together at most `maxTotalBytes`. A file that fails is skipped with a
 * reason; the others still load.
 */
export async function loadRules(folder: string, options: LoadOptions): Promise<LoadedRules> {
  if (!options.trusted) return { files: [], text: '', skipped: [] };
  const maxFile = options.maxFileBytes ?? MAX_RULE_FILE_BYTES;
  let left = options.maxTotalBytes ?? MAX_RULES_TOTAL_BYTES;
  const files: RuleFile[] = [];
  const skipped: SkippedRuleFile[] = [];
  const root = await fs.realpath(folder).catch(() => path.resolve(folder));
  for (const relative of await findRules(folder)) {
    if (left <= 0) {
      skipped.push({
        path: relative,
        reason: `the rules files together exceed ${formatBytes(options.maxTotalBytes ?? MAX_RULES_TOTAL_BYTES)}`,
      });
      continue;
    }
    const result = await readRuleFile(root, path.join(folder, ...relative.split('/')), Math.min(maxFile, left));
    if ('reason' in result) {
      skipped.push({ path: relative, reason: result.reason });
      continue;
    }
    if (result.text.trim() === '') continue;
    left -= Buffer.byteLength(result.text);
    files.push({ path: relative, text: result.text, truncated: result.truncated });
  }
  return { files, text: renderRules(files, maxFile), skipped };
}

/** The prompt text: each file under a heading, a truncated one followed by a note. */
export function renderRules(files: readonly RuleFile[], maxFileBytes = MAX_RULE_FILE_BYTES): string {
  return files
    .map((f) => {
      const note = f.truncated ? `\n(${f.path} is longer than ${formatBytes(maxFileBytes)}; the rest was left out.)` : '';
      return `## ${f.path}\n\n${f.text.trimEnd()}${note}`;
    })
    .join('\n\n');
}

async function readRuleFile(
  root: string,
  file: string,
  maxBytes: number,
): Promise<{ text: string; truncated: boolean } | { reason: string }> {
  let real: string;
  try {
    real = await fs.realpath(file);
  } catch {
    return { reason: 'a link to a file that does not exist' };
  }
  if (!isInside(root, real)) return { reason: `a link to a file outside the workspace (${real})` };
  let handle: fs.FileHandle | undefined;
  try {
    const stat = await fs.stat(real);
    // A FIFO or device would block or never end; only plain files are read.
    if (!stat.isFile()) return { reason: 'not a regular file' };
    handle = await fs.open(real, 'r');
    const buffer = Buffer.alloc(Math.min(stat.size, maxBytes + 1));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const truncated = bytesRead > maxBytes;
    const bytes = buffer.subarray(0, Math.min(bytesRead, maxBytes));
    const text = decodeUtf8(bytes, truncated);
    if (text === undefined) return { reason: 'not UTF-8 text (save it as UTF-8 to use it)' };
    return { text: truncated ? cutAtLineEnd(text) : text, truncated };
  } catch (err) {
    return { reason: `unreadable: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    await handle?.close();
  }
}

/** UTF-8 text without a BOM, or undefined when it is not UTF-8 (UTF-16, Latin-1, binary). */
export function decodeUtf8(bytes: Uint8Array, cutShort = false): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    // `stream` lets a multi-byte character cut by the size cap drop instead of failing the file.
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes, { stream: cutShort });
    return text;
  } catch {
    return undefined;
  }
}

function cutAtLineEnd(text: string): string {
  const end = text.lastIndexOf('\n');
  return end > text.length / 2 ? text.slice(0, end + 1) : text;
}

function formatBytes(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;
}
