// The repository side of "Evaluate on This Repository": which files to cut cases from (source
// files, not generated ones, secrets or binaries; the files a dataset export held out when there
// was one), which configurations to run (no adapter, each adapter found), and the run itself.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { classifyFile, defaultDatasetDir, listTrainingFiles } from '../adapters/dataset';
import { discoverAdapters } from '../adapters/registry';
import { fimTemplate } from '../completion/templates';
import type { AdapterSpec, Backend } from '../engine/protocol';
import { ProfileStore } from '../models/profiles';
import { cutCases, evaluate, verdict, type EvalConfig, type Evaluation, type SourceFile } from './evaluate';

/** File extensions evaluated, with the language id the prompt names. */
const SOURCE_LANGUAGES: Record<string, string> = {
  ts: 'typescript',
  tsx: 'typescriptreact',
  js: 'javascript',
  jsx: 'javascriptreact',
  mjs: 'javascript',
  cjs: 'javascript',
  py: 'python',
  go: 'go',
  rs: 'rust',
  java: 'java',
  kt: 'kotlin',
  c: 'c',
  h: 'c',
  cc: 'cpp',
  cpp: 'cpp',
  hpp: 'cpp',
  cs: 'csharp',
  rb: 'ruby',
  php: 'php',
  swift: 'swift',
  scala: 'scala',
  lua: 'lua',
  sh: 'shellscript',
  dart: 'dart',
  vue: 'vue',
  svelte: 'svelte',
};

export const languageOfPath = (file: string): string | undefined => SOURCE_LANGUAGES[path.extname(file).slice(1).toLowerCase()];

export interface RepositoryOptions {
  root: string;
  /** The extension's global storage (dataset exports and model profiles live there). */
  storage: string;
  adapterFolders: readonly string[];
  trusted: boolean;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, label: string) => void;
  seed?: number;
  maxCases?: number;
  maxFiles?: number;
  /** Opens an engine on another model file (the other model profile's), disposed after its run. */
  openModel?: (modelPath: string) => Backend;
}

/** The files a dataset export trained on (its fim.jsonl records carry their path), if there was one. */
async function exportedPaths(storage: string, root: string): Promise<Set<string> | undefined> {
  const text = await fs.readFile(path.join(defaultDatasetDir(storage, root), 'fim.jsonl'), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const paths = new Set<string>();
  for (const line of text.split('\n')) {
    try {
      const record = JSON.parse(line) as { path?: unknown };
      if (typeof record.path === 'string') paths.add(record.path);
    } catch {
      // A torn last line: the others still count.
    }
  }
  return paths;
}

export async function sourceFiles(root: string, maxFiles: number): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  for (const rel of await listTrainingFiles(root)) {
    if (!languageOfPath(rel)) continue;
    const abs = path.join(root, rel);
    const size = (await fs.stat(abs)).size;
    const verdict = classifyFile(rel, size > 256 * 1024 ? Buffer.alloc(0) : await fs.readFile(abs), 256 * 1024, size);
    if (verdict.include) files.push({ path: rel, text: verdict.text });
    if (files.length >= maxFiles) break;
  }
  return files;
}

export async function evaluateRepository(backend: Backend, options: RepositoryOptions): Promise<Evaluation | { noSources: string }> {
  const notes: string[] = [];
  let files = await sourceFiles(options.root, options.maxFiles ?? 400);
  if (files.length === 0)
    return {
      noSources: `no source files to evaluate on in ${options.root} (looked for ${Object.keys(SOURCE_LANGUAGES).length} languages' files, leaving out generated files, secrets and binaries). Open a folder with code.`,
    };
  const exported = await exportedPaths(options.storage, options.root);
  if (exported) {
    const heldOut = files.filter((f) => !exported.has(f.path));
    if (heldOut.length > 0) {
      notes.push(`${heldOut.length} of ${files.length} files were held out of the dataset export; only they are evaluated.`);
      files = heldOut;
    } else notes.push('Every file was in the dataset export: an adapter trained on it has seen these cases, so its scores flatter it.');
  }
  const seed = options.seed ?? 1;
  const cases = cutCases(files, { seed, max: options.maxCases ?? 24 });
  if (cases.length === 0) return { noSources: `the source files in ${options.root} are too short to cut evaluation cases from.` };

  const info = await backend.info();
  if (!info.fimFamily) throw new Error(`${info.modelName} has no fill-in-the-middle tokens: it cannot be evaluated on completions.`);
  const { adapters } = await discoverAdapters({
    workspaceFolders: [options.root],
    folders: options.adapterFolders,
    trusted: options.trusted,
  });
  const configs: EvalConfig[] = [{ id: 'none', label: 'No adapter', adapters: [] }];
  for (const adapter of adapters) configs.push({ id: adapter.path, label: adapter.name, adapters: [{ path: adapter.path, scale: 1 }] });
  if (adapters.length === 0)
    notes.push('No LoRA adapters found (.enclave/adapters or enclave.adapters.folders): only the model itself was evaluated.');
  // The other model profile's completion model (experimental while stable is active, and back).
  const profiles = await new ProfileStore(path.join(options.storage, 'profiles.json')).load().catch(() => undefined);
  const otherName = profiles && (profiles.active === 'stable' ? 'experimental' : 'stable');
  const other = otherName && profiles.profiles[otherName].completion;
  const otherModel = other && other.path !== info.modelPath ? { ...other, profile: otherName } : undefined;
  if (otherModel && !options.openModel) notes.push(`The ${otherModel.profile} profile's model (${otherModel.name}) was not run here.`);

  const before: AdapterSpec[] = info.adapters.map((a) => ({ path: a.path, scale: a.scale }));
  let result;
  try {
    result = await evaluate(backend, cases, configs, {
      template: fimTemplate(info.fimFamily),
      signal: options.signal,
      onProgress: options.onProgress,
      languageOf: (file) => languageOfPath(file) ?? '',
    });
  } finally {
    // Leave the adapters as the user had them.
    await backend.setAdapters(before).catch(() => undefined);
  }
  if (otherModel && options.openModel && !result.partial) {
    const label = `${otherModel.profile === 'experimental' ? 'Experimental' : 'Stable'} profile: ${otherModel.name}`;
    const engine = options.openModel(otherModel.path);
    try {
      const otherInfo = await engine.info();
      if (!otherInfo.fimFamily) notes.push(`${label}: no fill-in-the-middle tokens, not evaluated.`);
      else {
        const more = await evaluate(engine, cases, [{ id: `profile:${otherModel.profile}`, label, adapters: [] }], {
          template: fimTemplate(otherInfo.fimFamily),
          signal: options.signal,
          onProgress: options.onProgress,
          languageOf: (file) => languageOfPath(file) ?? '',
        });
        result.scores.push(...more.scores);
        result.notes.push(...more.notes);
        result.partial ||= more.partial;
      }
    } catch (err) {
      notes.push(`${label}: not evaluated (${err instanceof Error ? err.message : String(err)})`);
    } finally {
      await engine.dispose().catch(() => undefined);
    }
  }
  const byKind = { line: 0, span: 0, block: 0 };
  for (const c of cases) byKind[c.kind]++;
  return {
    at: Date.now(),
    model: info.modelName,
    seed,
    files: new Set(cases.map((c) => c.path)).size,
    cases: cases.length,
    byKind,
    scores: result.scores,
    verdict: verdict(result.scores),
    partial: result.partial,
    notes: [...notes, ...result.notes],
  };
}
