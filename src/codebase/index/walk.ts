// The workspace's files for the index: .gitignore files (each applies to its own folder and below),
// the user's exclude globs, a size limit and a file-count cap. Symbolic links are not followed, so
// a link loop cannot trap the walk and nothing outside the folder is read.
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';

import ignore, { type Ignore } from 'ignore';

export interface WalkOptions {
  root: string;
  /** gitignore-style patterns on top of the .gitignore files (e.g. from files.exclude). */
  exclude?: readonly string[];
  maxFiles?: number;
  maxFileBytes?: number;
  signal?: AbortSignal;
}

export interface WalkedFile {
  /** Workspace-relative, '/'-separated. */
  path: string;
  size: number;
  mtimeMs: number;
}

export interface WalkResult {
  files: WalkedFile[];
  /** Whether the cap stopped the walk (the workspace has more files). */
  capped: boolean;
  skippedLarge: number;
}

/** File types that are never text worth indexing (the content check catches the rest). */
const BINARY_EXTENSIONS = new Set(
  'png jpg jpeg gif bmp ico webp avif tiff psd pdf zip gz tgz bz2 xz 7z rar jar war class exe dll so dylib a o obj lib bin dat db sqlite wasm woff woff2 ttf otf eot mp3 mp4 wav ogg webm mov avi mkv flac gguf onnx pt pth safetensors npy npz pkl parquet arrow vsix node map lock'.split(
    ' ',
  ),
);

/** Lockfiles and other generated text that drowns real code in search results. */
const GENERATED_NAMES = new Set([
  'package-lock.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'Cargo.lock',
  'go.sum',
  'poetry.lock',
  'composer.lock',
]);

export function indexableName(name: string): boolean {
  if (GENERATED_NAMES.has(name)) return false;
  const dot = name.lastIndexOf('.');
  if (dot > 0 && BINARY_EXTENSIONS.has(name.slice(dot + 1).toLowerCase())) return false;
  if (name.endsWith('.min.js') || name.endsWith('.min.css')) return false;
  return true;
}

/** Whether file content is text: no NUL byte in its first 8 KiB. */
export function looksBinary(bytes: Uint8Array): boolean {
  const end = Math.min(bytes.length, 8192);
  for (let i = 0; i < end; i++) if (bytes[i] === 0) return true;
  return false;
}

interface Rules {
  /** The folder the rules apply to ('' = root). */
  base: string;
  ig: Ignore;
}

function ignoredBy(rules: readonly Rules[], path: string, isDir: boolean): boolean {
  for (const { base, ig } of rules) {
    const relative = base ? path.slice(base.length + 1) : path;
    if (ig.ignores(isDir ? `${relative}/` : relative)) return true;
  }
  return false;
}

export async function walkWorkspace(options: WalkOptions): Promise<WalkResult> {
  const maxFiles = options.maxFiles ?? 20_000;
  const maxBytes = options.maxFileBytes ?? 1_000_000;
  const files: WalkedFile[] = [];
  let skippedLarge = 0;
  const base: Rules = { base: '', ig: ignore().add(['.git/', ...(options.exclude ?? [])]) };
  const stack: Array<{ dir: string; rules: Rules[] }> = [{ dir: '', rules: [base] }];
  let lastYield = performance.now();
  while (stack.length) {
    if (options.signal?.aborted) throw new Error('cancelled');
    const { dir, rules: inherited } = stack.pop()!;
    const absolute = join(options.root, dir);
    let entries;
    try {
      entries = await readdir(absolute, { withFileTypes: true });
    } catch {
      continue; // gone or unreadable since it was listed
    }
    let rules = inherited;
    if (entries.some((e) => e.name === '.gitignore' && e.isFile())) {
      try {
        const text = await readFile(join(absolute, '.gitignore'), 'utf8');
        rules = [...inherited, { base: dir, ig: ignore().add(text) }];
      } catch {
        // unreadable: its rules do not apply
      }
    }
    entries.sort((a, b) => (a.name < b.name ? 1 : -1)); // popped from the stack in name order
    for (const entry of entries) {
      if (entry.isSymbolicLink()) continue;
      const path = dir ? posix.join(dir, entry.name) : entry.name;
      if (entry.isDirectory()) {
        if (!ignoredBy(rules, path, true)) stack.push({ dir: path, rules });
        continue;
      }
      if (!entry.isFile() || !indexableName(entry.name) || ignoredBy(rules, path, false)) continue;
      if (files.length >= maxFiles) return { files, capped: true, skippedLarge };
      try {
        const stat = await lstat(join(options.root, path));
        if (stat.size > maxBytes) {
          skippedLarge++;
          continue;
        }
        files.push({ path, size: stat.size, mtimeMs: stat.mtimeMs });
      } catch {
        // removed while walking
      }
    }
    if (performance.now() - lastYield > 10) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
  }
  return { files, capped: false, skippedLarge };
}

/**
 * The walk's rules for one path at a time (file events between walks): the root's excludes, every
 * .gitignore from the root down to the file's folder, and the file-name checks.
 */
export class PathFilter {
  private readonly rules = new Map<string, Ignore | null>();
  private readonly base: Ignore;

  constructor(
    private readonly root: string,
    exclude: readonly string[] = [],
  ) {
    this.base = ignore().add(['.git/', ...exclude]);
  }

  /** Drops the cached .gitignore files (one of them changed). */
  forget(): void {
    this.rules.clear();
  }

  private async rulesOf(dir: string): Promise<Ignore | null> {
    if (this.rules.has(dir)) return this.rules.get(dir)!;
    let rules: Ignore | null = null;
    try {
      rules = ignore().add(await readFile(join(this.root, dir, '.gitignore'), 'utf8'));
    } catch {
      // no .gitignore there
    }
    this.rules.set(dir, rules);
    return rules;
  }

  /** Whether a workspace-relative ('/'-separated) path would be indexed by a walk. */
  async allows(path: string): Promise<boolean> {
    if (!path || path.startsWith('..') || path.startsWith('/')) return false;
    const parts = path.split('/');
    if (!indexableName(parts[parts.length - 1])) return false;
    const chain: Rules[] = [{ base: '', ig: this.base }];
    for (let i = 0; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const own = await this.rulesOf(dir);
      if (own) chain.push({ base: dir, ig: own });
      const sub = parts.slice(0, i + 1).join('/');
      if (ignoredBy(chain, sub, i < parts.length - 1)) return false;
    }
    return true;
  }
}
