// Models already on this disk, so nobody downloads a second copy: Ollama's blobs (GGUF files
// named by digest, listed by manifests), LM Studio's models folder, llama.cpp's and
// node-llama-cpp's download caches, and the Hugging Face hub cache.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';

import { hasGgufMagic } from '../gguf';

export type DiscoverySource = 'ollama' | 'lmstudio' | 'llama.cpp' | 'node-llama-cpp' | 'huggingface';

export interface DiscoveredModel {
  path: string;
  /** `qwen2.5-coder:7b` for Ollama, else the file name. */
  name: string;
  source: DiscoverySource;
  size: number;
  /** Known without hashing when the store names files by digest (Ollama). */
  sha256?: string;
}

export interface DiscoverOptions {
  home: string;
  env?: Record<string, string | undefined>;
  platform?: NodeJS.Platform;
}

const OLLAMA_MODEL_LAYER = 'application/vnd.ollama.image.model';

async function listDir(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** Manifests live at manifests/<registry>/<namespace>/<model>/<tag>. */
async function manifestFiles(dir: string, depth = 0): Promise<string[]> {
  const out: string[] = [];
  for (const name of await listDir(dir)) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info) continue;
    if (info.isDirectory() && depth < 4) out.push(...(await manifestFiles(path, depth + 1)));
    else if (info.isFile() && depth === 3) out.push(path);
  }
  return out;
}

export async function discoverOllama(modelsDir: string): Promise<DiscoveredModel[]> {
  const manifestsDir = join(modelsDir, 'manifests');
  const found: DiscoveredModel[] = [];
  for (const file of await manifestFiles(manifestsDir)) {
    let manifest: { layers?: { mediaType?: string; digest?: string; size?: number }[] };
    try {
      manifest = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      continue;
    }
    const layer = manifest.layers?.find((l) => l.mediaType === OLLAMA_MODEL_LAYER);
    const digest = layer?.digest && /^sha256[:-]([0-9a-f]{64})$/.exec(layer.digest)?.[1];
    if (!digest) continue;
    const blob = join(modelsDir, 'blobs', `sha256-${digest}`);
    const info = await stat(blob).catch(() => undefined);
    if (!info?.isFile() || !(await hasGgufMagic(blob))) continue;
    const [registry, namespace, model, tag] = relative(manifestsDir, file).split(sep);
    const prefix = registry === 'registry.ollama.ai' ? (namespace === 'library' ? '' : `${namespace}/`) : `${registry}/${namespace}/`;
    found.push({ path: blob, name: `${prefix}${model}:${tag}`, source: 'ollama', size: info.size, sha256: digest });
  }
  return found;
}

/** Every first-part `*.gguf` below a folder (not projectors, not parts 2..n of a split model). */
async function ggufFilesUnder(dir: string, source: DiscoverySource, depth = 0): Promise<DiscoveredModel[]> {
  const out: DiscoveredModel[] = [];
  for (const name of await listDir(dir)) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined); // follows the HF cache's symlinks
    if (!info) continue;
    if (info.isDirectory() && depth < 5) out.push(...(await ggufFilesUnder(path, source, depth + 1)));
    else if (info.isFile() && /\.gguf$/i.test(name) && !/mmproj/i.test(name) && !/-000(0[2-9]|[1-9]\d)-of-\d{5}\.gguf$/i.test(name)) {
      if (await hasGgufMagic(path)) out.push({ path, name: basename(name), source, size: info.size });
    }
  }
  return out;
}

/** The default folders for each tool, honouring their environment overrides. */
export function discoveryRoots(options: DiscoverOptions): { source: DiscoverySource; dir: string }[] {
  const env = options.env ?? {};
  const home = options.home;
  const platform = options.platform ?? process.platform;
  const llamaCache =
    env.LLAMA_CACHE ??
    (platform === 'darwin' ? join(home, 'Library', 'Caches', 'llama.cpp') : join(env.XDG_CACHE_HOME ?? join(home, '.cache'), 'llama.cpp'));
  return [
    { source: 'lmstudio', dir: join(home, '.lmstudio', 'models') },
    { source: 'lmstudio', dir: join(home, '.cache', 'lm-studio', 'models') },
    { source: 'llama.cpp', dir: llamaCache },
    { source: 'node-llama-cpp', dir: join(home, '.node-llama-cpp', 'models') },
    { source: 'huggingface', dir: join(env.HF_HUB_CACHE ?? join(env.HF_HOME ?? join(home, '.cache', 'huggingface'), 'hub')) },
  ];
}

export async function discoverModels(options: DiscoverOptions): Promise<DiscoveredModel[]> {
  const ollamaDir = options.env?.OLLAMA_MODELS ?? join(options.home, '.ollama', 'models');
  const results = [await discoverOllama(ollamaDir)];
  for (const root of discoveryRoots(options)) results.push(await ggufFilesUnder(root.dir, root.source));
  const seen = new Set<string>();
  return results.flat().filter((m) => (seen.has(m.path) ? false : (seen.add(m.path), true)));
}
