// What the adapter picker shows about a LoRA adapter GGUF: its own header (an adapter? LoRA? rank,
// targets), whether the file is complete (a truncated copy is named as such), and whether it fits
// the loaded base model — the shape comparison itself is the engine's (engine/adapterValidation.ts),
// so the picker and the engine refuse the same files for the same reasons.
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';

import type { GgufFileInfo, GgufTensorInfo } from 'node-llama-cpp' with { 'resolution-mode': 'import' };

import { compareAdapter } from '../engine/adapterValidation';
import { ggufHeaderProblem } from '../engine/ggufPrecheck';

export interface AdapterInfo {
  name?: string;
  architecture?: string;
  alpha?: number;
  rank?: number;
  /** Base tensors the adapter changes, e.g. `blk.0.attn_q.weight`. */
  targets: string[];
}

export type AdapterValidation = { ok: true; adapter: AdapterInfo } | { ok: false; reason: string; adapter?: AdapterInfo };

/** Elements per block and bytes per block of the ggml types adapters and models use (ggml.c's type traits). */
const ggmlTypeLayout: Record<number, [blockElements: number, blockBytes: number]> = {
  0: [1, 4], // F32
  1: [1, 2], // F16
  2: [32, 18], // Q4_0
  3: [32, 20], // Q4_1
  6: [32, 22], // Q5_0
  7: [32, 24], // Q5_1
  8: [32, 34], // Q8_0
  10: [256, 84], // Q2_K
  11: [256, 110], // Q3_K
  12: [256, 144], // Q4_K
  13: [256, 176], // Q5_K
  14: [256, 210], // Q6_K
  15: [256, 292], // Q8_K
  24: [1, 1], // I8
  25: [1, 2], // I16
  26: [1, 4], // I32
  27: [1, 8], // I64
  28: [1, 8], // F64
  30: [1, 2], // BF16
};

function dims(tensor: GgufTensorInfo): number[] {
  return tensor.dimensions.map(Number);
}

/** Bytes a tensor occupies in the file, or undefined for a type this table does not know. */
function tensorBytes(tensor: GgufTensorInfo): number | undefined {
  const layout = ggmlTypeLayout[tensor.ggmlType];
  if (!layout) return undefined;
  const elements = dims(tensor).reduce((a, b) => a * b, 1);
  return Math.ceil(elements / layout[0]) * layout[1];
}

type NodeLlamaCpp = typeof import('node-llama-cpp', { with: { 'resolution-mode': 'import' } });
let nodeLlamaCpp: Promise<NodeLlamaCpp> | undefined;
/** node-llama-cpp is ESM with a top-level await: CommonJS code must `import()` it. */
function loadNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  return (nodeLlamaCpp ??= import('node-llama-cpp'));
}

/** Keys with the 150k-entry vocabulary: not needed to check shapes, slow to parse. */
const vocabularyKeys = ['tokenizer.ggml.tokens', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges', 'tokenizer.ggml.scores'];

/** Reads a GGUF header and checks that the file holds all the tensor data it declares. */
export async function readGgufHeader(path: string): Promise<GgufFileInfo> {
  const name = basename(path);
  const size = await stat(path).then(
    (s) => s.size,
    () => {
      throw new Error(`${name} does not exist (${path}).`);
    },
  );
  const problem = await ggufHeaderProblem(path);
  if (problem) throw new Error(`${name} ${problem.startsWith('it is not a GGUF') ? 'is not a readable GGUF file' : 'is truncated or damaged'}: ${problem}. Copy or download it again.`);
  const { readGgufFileInfo } = await loadNodeLlamaCpp();
  let info: GgufFileInfo;
  try {
    info = await readGgufFileInfo(path, { logWarnings: false, ignoreKeys: vocabularyKeys, spliceSplitFiles: false, sourceType: 'filesystem' });
  } catch (error) {
    throw new Error(`${name} is not a readable GGUF file (${size} bytes) — it may be truncated or not a GGUF at all: ${(error as Error).message}`);
  }
  let needed = info.infoEndOffset ?? 0;
  for (const tensor of info.tensorInfo ?? []) {
    const bytes = tensorBytes(tensor);
    needed = Math.max(needed, Number(tensor.fileOffset) + (bytes ?? 0));
  }
  if (size < needed) {
    throw new Error(`${name} is truncated: the file has ${size} bytes but its tensors need ${needed}. Copy or download it again.`);
  }
  return info;
}

function metadataValue(info: GgufFileInfo, key: string): unknown {
  let node: unknown = info.metadata;
  for (const part of key.split('.')) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function describeAdapter(info: GgufFileInfo): AdapterInfo {
  const tensors = info.tensorInfo ?? [];
  const targets = tensors.filter((t) => t.name.endsWith('.lora_a')).map((t) => t.name.slice(0, -'.lora_a'.length));
  const firstA = tensors.find((t) => t.name.endsWith('.lora_a'));
  const alpha = metadataValue(info, 'adapter.lora.alpha');
  return {
    name: metadataValue(info, 'general.name') as string | undefined,
    architecture: metadataValue(info, 'general.architecture') as string | undefined,
    alpha: typeof alpha === 'number' ? alpha : undefined,
    rank: firstA ? dims(firstA)[1] : undefined,
    targets,
  };
}

/** Checks an adapter's own header: an adapter, of LoRA type, with paired A/B tensors of one rank. */
export async function inspectAdapter(adapterPath: string): Promise<AdapterValidation> {
  const name = basename(adapterPath);
  let info: GgufFileInfo;
  try {
    info = await readGgufHeader(adapterPath);
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  const adapter = describeAdapter(info);
  const generalType = metadataValue(info, 'general.type');
  if (generalType !== 'adapter') {
    return {
      ok: false,
      adapter,
      reason: `${name} is not an adapter: its general.type is "${String(generalType ?? 'missing')}"${generalType === 'model' || generalType === undefined ? ' (it looks like a model file)' : ''}.`,
    };
  }
  const adapterType = metadataValue(info, 'adapter.type');
  if (adapterType !== 'lora') {
    return { ok: false, adapter, reason: `${name} is a "${String(adapterType ?? 'unknown')}" adapter; only LoRA adapters are supported.` };
  }
  const byName = new Map((info.tensorInfo ?? []).map((t) => [t.name, t]));
  if (adapter.targets.length === 0) return { ok: false, adapter, reason: `${name} has no LoRA tensors (*.lora_a / *.lora_b).` };
  for (const target of adapter.targets) {
    const a = byName.get(`${target}.lora_a`)!;
    const b = byName.get(`${target}.lora_b`);
    if (!b) return { ok: false, adapter, reason: `${name}: ${target}.lora_a has no matching ${target}.lora_b.` };
    const [, rankA] = dims(a);
    const [rankB] = dims(b);
    if (rankA !== rankB) return { ok: false, adapter, reason: `${name}: ${target} has rank ${rankA} in lora_a but ${rankB} in lora_b.` };
  }
  return { ok: true, adapter };
}

/**
 * Checks that an adapter fits a base model: the engine's comparison (same architecture, and for
 * every `<t>.lora_a` [n_in, r] / `<t>.lora_b` [r, n_out] a base tensor `<t>` of [n_in, n_out]),
 * after both headers were read and checked for truncation, with the file names in the reason.
 */
export async function validateAdapter(adapterPath: string, baseModelPath: string): Promise<AdapterValidation> {
  const own = await inspectAdapter(adapterPath);
  if (!own.ok) return own;
  const name = basename(adapterPath);
  const baseName = basename(baseModelPath);
  let adapterInfo: GgufFileInfo;
  let base: GgufFileInfo;
  try {
    [adapterInfo, base] = await Promise.all([readGgufHeader(adapterPath), readGgufHeader(baseModelPath)]);
  } catch (error) {
    return { ok: false, adapter: own.adapter, reason: `The base model cannot be read: ${(error as Error).message}` };
  }
  const result = compareAdapter(adapterInfo, base);
  if (!result.ok) return { ok: false, adapter: own.adapter, reason: `${name} does not fit ${baseName}: ${result.reason}.` };
  return { ok: true, adapter: own.adapter };
}
