// Where LoRA adapters come from: the workspace's `.enclave/adapters/` and the folders in
// `enclave.adapters.folders`. A file inside a workspace folder counts as the workspace's, and is
// offered only in a trusted workspace (an adapter changes what the model writes).
import { readdir, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';

import { isInside } from '../paths';

export const WORKSPACE_ADAPTER_DIR = join('.enclave', 'adapters');

export interface AdapterEntry {
  path: string;
  /** File name without `.gguf`. */
  name: string;
  origin: 'workspace' | 'folder';
  size: number;
}

export interface AdapterSearch {
  workspaceFolders: readonly string[];
  /** `enclave.adapters.folders`; relative entries resolve against the first workspace folder. */
  folders: readonly string[];
  /** False in an untrusted workspace: adapters inside the workspace are skipped. */
  trusted: boolean;
}

export interface AdapterDiscovery {
  adapters: AdapterEntry[];
  /** Adapters found inside the workspace but not offered because it is untrusted. */
  skippedUntrusted: string[];
}

async function ggufFiles(dir: string, depth = 0): Promise<{ path: string; size: number }[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: { path: string; size: number }[] = [];
  for (const name of names.sort()) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info) continue;
    if (info.isDirectory() && depth < 2) out.push(...(await ggufFiles(path, depth + 1)));
    else if (info.isFile() && name.toLowerCase().endsWith('.gguf')) out.push({ path, size: info.size });
  }
  return out;
}

export async function discoverAdapters(search: AdapterSearch): Promise<AdapterDiscovery> {
  const roots = [
    ...search.workspaceFolders.map((folder) => join(folder, WORKSPACE_ADAPTER_DIR)),
    // A relative folder never resolves against the extension host's working directory.
    ...search.folders.flatMap((folder) =>
      isAbsolute(folder) ? [resolve(folder)] : search.workspaceFolders.length > 0 ? [resolve(search.workspaceFolders[0], folder)] : [],
    ),
  ];
  const seen = new Set<string>();
  const adapters: AdapterEntry[] = [];
  const skippedUntrusted: string[] = [];
  for (const root of roots) {
    for (const file of await ggufFiles(root)) {
      if (seen.has(file.path)) continue;
      seen.add(file.path);
      const inWorkspace = search.workspaceFolders.some((folder) => isInside(folder, file.path));
      if (inWorkspace && !search.trusted) {
        skippedUntrusted.push(file.path);
        continue;
      }
      adapters.push({
        path: file.path,
        name: basename(file.path).replace(/\.gguf$/i, ''),
        origin: inWorkspace ? 'workspace' : 'folder',
        size: file.size,
      });
    }
  }
  return { adapters, skippedUntrusted };
}

/** What is stored per workspace (workspaceState): the chosen adapter and its scale, or none. */
export interface AdapterSelection {
  path: string;
  scale: number;
}

export function parseScale(text: string): number | undefined {
  const value = Number(text.trim());
  return text.trim() !== '' && Number.isFinite(value) && value >= 0 && value <= 4 ? value : undefined;
}

/** Status bar text: `$(layers) my-adapter ×0.8`, or `$(layers) no adapter`. */
export function selectionLabel(selection: AdapterSelection | undefined): string {
  if (!selection) return '$(layers) no adapter';
  const name = basename(selection.path).replace(/\.gguf$/i, '');
  return `$(layers) ${name}${selection.scale === 1 ? '' : ` ×${selection.scale}`}`;
}
