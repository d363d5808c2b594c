// Loading a model: node-llama-cpp itself (ESM, loaded once), the thread default, the checks a GGUF
// file gets before llama.cpp parses it, the model and draft model loaded together (`loadModels`),
// load errors mapped to codes that say what to do, and what the runtime learns from a loaded model
// (its FIM family, whether a draft model shares its vocabulary).
import * as os from 'node:os';

import type { Llama, LlamaModel, Token } from 'node-llama-cpp' with { 'resolution-mode': 'import' };

import { GgufError, readGgufHeader, type GgufHeader } from '../gguf';
import type { Logger } from '../logger';
import { EngineError, type EngineSettings, type FimFamily } from './protocol';
import { errorMessage } from '../util';

export type NodeLlamaCpp = typeof import('node-llama-cpp', { with: { 'resolution-mode': 'import' } });
let nodeLlamaCpp: Promise<NodeLlamaCpp> | undefined;

/** node-llama-cpp is ESM with top-level await: it can only be loaded with a dynamic import. */
export function loadNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  return (nodeLlamaCpp ??= import('node-llama-cpp'));
}

/** Threads for inference when the setting is 0: all cores but one for the editor, at most 8. */
export function defaultThreads(cores = os.availableParallelism()): number {
  return Math.max(1, Math.min(8, cores > 2 ? cores - 1 : cores === 2 ? 1 : 1));
}

const fimFamilies: Array<[FimFamily, RegExp]> = [
  ['qwen', /^<\|fim_prefix\|>$/],
  ['deepseek', /fim.begin/],
  ['codestral', /^\[PREFIX\]$/],
  ['codellama', /<PRE>/],
  ['starcoder', /^<fim_prefix>$/],
];

export function detectFimFamily(model: LlamaModel): FimFamily | null {
  const { infill } = model.tokens;
  if (infill.prefix === null || infill.suffix === null || infill.middle === null) return null;
  const text = (infill.prefixString ?? '').trim();
  return fimFamilies.find(([, pattern]) => pattern.test(text))?.[0] ?? null;
}

/** Why the draft cannot draft for the target, or null when the vocabularies agree. */
export function vocabularyMismatch(target: LlamaModel, draft: LlamaModel): string | null {
  const targetSize = vocabularySize(target);
  const draftSize = vocabularySize(draft);
  if (Math.abs(targetSize - draftSize) > 128) return `its vocabulary has ${draftSize} tokens, the model's ${targetSize}`;
  if (target.tokens.eos !== draft.tokens.eos) return 'its end-of-sequence token differs';
  const sample = 'function fim(a, b) {\n  return a + b; // ünïcode 中文\n}';
  const a = target.tokenize(sample, false);
  const b = draft.tokenize(sample, false);
  if (a.length !== b.length || a.some((t, i) => t !== b[i])) return 'it tokenizes text differently';
  const step = Math.max(1, Math.floor(Math.min(targetSize, draftSize) / 1000));
  for (let id = 0; id < Math.min(targetSize, draftSize); id += step) {
    if (target.detokenize([id as Token], true) !== draft.detokenize([id as Token], true)) return `token ${id} differs`;
  }
  return null;
}

/**
 * What a model file says about itself besides `general.name`: its other naming metadata (basename,
 * fine-tune, repository, base models) and the text of its special tokens (control and
 * user-defined tokens: a fine-tune's own markers show up here).
 */
export function modelTags(model: LlamaModel): string[] {
  type Named = { name?: unknown; organization?: unknown; repo_url?: unknown };
  const metadata = model.fileInfo.metadata as unknown as {
    general?: Named & { basename?: unknown; finetune?: unknown; source?: { url?: unknown }; base_model?: Record<string, Named> };
    tokenizer?: { ggml?: { tokens?: unknown[]; token_type?: unknown[] } };
  };
  const general = metadata.general ?? {};
  const names: unknown[] = [general.basename, general.finetune, general.organization, general.repo_url, general.source?.url];
  for (const base of Object.values(general.base_model ?? {})) {
    if (base && typeof base === 'object') names.push(base.name, base.organization, base.repo_url);
  }
  const tags = names.filter((n): n is string => typeof n === 'string' && n.length > 0);
  const { tokens, token_type: types } = metadata.tokenizer?.ggml ?? {};
  if (Array.isArray(tokens) && Array.isArray(types)) {
    // llama.cpp token types: 3 control, 4 user-defined.
    for (let i = 0; i < types.length; i++) {
      const token = tokens[i];
      if ((types[i] === 3 || types[i] === 4) && typeof token === 'string') tags.push(token);
    }
  }
  return tags;
}

function vocabularySize(model: LlamaModel): number {
  const tokens = (model.fileInfo.metadata as unknown as { tokenizer?: { ggml?: { tokens?: unknown[] } } }).tokenizer?.ggml?.tokens;
  return Array.isArray(tokens) ? tokens.length : 0;
}

/** The model file's header, read and checked for truncation before llama.cpp sees the file. */
export async function checkGgufFile(filePath: string, what: string): Promise<GgufHeader> {
  if (!filePath) throw new EngineError('MODEL_NOT_FOUND', `No ${what} file is set. Choose a GGUF model (enclave.model.path).`);
  try {
    return await readGgufHeader(filePath);
  } catch (err) {
    if (!(err instanceof GgufError)) throw err;
    switch (err.problem) {
      case 'missing':
        throw new EngineError(
          'MODEL_NOT_FOUND',
          `The ${what} file ${filePath} does not exist. Check the path in the settings or download the model again.`,
        );
      case 'not-a-file':
        throw new EngineError('MODEL_NOT_FOUND', `The ${what} path ${filePath} is not a file. Point enclave.model.path at a .gguf file.`);
      case 'not-gguf':
        throw new EngineError(
          'MODEL_INVALID',
          `The ${what} file ${filePath} is not a GGUF file. Enclave needs a llama.cpp GGUF model (*.gguf).`,
        );
      default:
        throw new EngineError('MODEL_INVALID', `The ${what} file ${filePath} is damaged or truncated (${err.message}). Download it again.`);
    }
  }
}

export async function loadModelFile(llama: Llama, modelPath: string, onProgress: (p: number) => void): Promise<LlamaModel> {
  try {
    return await llama.loadModel({ modelPath, gpuLayers: 'auto', onLoadProgress: onProgress });
  } catch (err) {
    throw mapLoadError(err, modelPath, 'model');
  }
}

export function mapLoadError(err: unknown, modelPath: string, what: 'model' | 'context'): EngineError {
  if (err instanceof EngineError) return err;
  const message = errorMessage(err);
  if (
    /insufficient|not enough|too large|out of memory|InsufficientMemory/i.test(message) ||
    (err as Error)?.name === 'InsufficientMemoryError'
  ) {
    return new EngineError(
      'MODEL_TOO_LARGE',
      `${modelPath} does not fit in this machine's memory (${message}). Choose a smaller model or quantisation, or a smaller enclave.engine.contextSize.`,
    );
  }
  return new EngineError(
    'MODEL_INVALID',
    `Could not load the ${what} for ${modelPath}: ${message}. The file may be damaged or not a supported model; download it again.`,
  );
}

/** What `loadModels` hands the runtime. */
export interface LoadedModels {
  nlc: NodeLlamaCpp;
  llama: Llama;
  threads: number;
  model: LlamaModel;
  draftModel?: LlamaModel;
}

/**
 * node-llama-cpp, llama.cpp with the settings' threads and GPU choice, the checked model and draft
 * model files, then the models; a draft model must share the model's vocabulary. What was loaded is
 * disposed again when a later step fails.
 */
export async function loadModels(
  settings: EngineSettings,
  logger: Logger,
  onProgress?: (progress: { progress: number; file: string }) => void,
): Promise<LoadedModels> {
  const nlc = await loadNodeLlamaCpp();
  const threads = settings.threads > 0 ? settings.threads : defaultThreads();
  const llama = await nlc.getLlama({
    gpu: settings.gpu === 'cpu' ? false : 'auto',
    build: 'never',
    maxThreads: threads,
    logLevel: nlc.LlamaLogLevel.error,
    logger: (level, message) => {
      const line = message.trimEnd();
      if (line) logger.debug(`llama.cpp ${level}: ${line}`);
    },
  });
  await checkGgufFile(settings.modelPath, 'model');
  if (settings.draftModelPath) await checkGgufFile(settings.draftModelPath, 'draft model');

  const model = await loadModelFile(llama, settings.modelPath, (p) => onProgress?.({ progress: p, file: settings.modelPath }));
  let draftModel: LlamaModel | undefined;
  try {
    if (settings.draftModelPath) {
      draftModel = await loadModelFile(llama, settings.draftModelPath, (p) =>
        onProgress?.({ progress: p, file: settings.draftModelPath! }),
      );
      const mismatch = vocabularyMismatch(model, draftModel);
      if (mismatch) {
        throw new EngineError(
          'DRAFT_MISMATCH',
          `The draft model ${settings.draftModelPath} cannot draft for ${settings.modelPath}: ${mismatch}. ` +
            'Choose a draft model from the same family (same tokenizer), or clear enclave.model.draftPath.',
        );
      }
    }
    return { nlc, llama, threads, model, draftModel };
  } catch (err) {
    await draftModel?.dispose().catch(() => undefined);
    await model.dispose().catch(() => undefined);
    throw err;
  }
}
