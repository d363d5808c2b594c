// Checks that a LoRA adapter GGUF fits a base model, from the files' metadata alone (nothing is
// loaded). llama.cpp only logs the real reason natively and throws "Failed to initialize LoRA
// adapter", so Enclave validates first and tells the user what is wrong.
import { stat } from 'node:fs/promises';

import { ggufHeaderProblem } from './ggufPrecheck';

import type { GgufFileInfo, GgufTensorInfo } from 'node-llama-cpp' with { 'resolution-mode': 'import' };

export type AdapterValidation = { ok: true } | { ok: false; reason: string };

interface Metadata {
  general?: { type?: string; architecture?: string };
  adapter?: { type?: string };
}

async function readInfo(filePath: string): Promise<GgufFileInfo> {
  const problem = await ggufHeaderProblem(filePath);
  if (problem) throw new Error(problem);
  const { readGgufFileInfo } = await import('node-llama-cpp');
  return readGgufFileInfo(filePath, { readTensorInfo: true });
}

/** Whether `adapterPath` is a LoRA adapter GGUF whose tensors fit `baseModelPath`. */
export async function validateAdapter(adapterPath: string, baseModelPath: string): Promise<AdapterValidation> {
  try {
    if (!(await stat(adapterPath)).isFile()) return { ok: false, reason: `${adapterPath} is not a file` };
  } catch {
    return { ok: false, reason: `the adapter file ${adapterPath} does not exist` };
  }
  let adapter: GgufFileInfo;
  let base: GgufFileInfo;
  try {
    adapter = await readInfo(adapterPath);
  } catch (err) {
    return { ok: false, reason: `${adapterPath} is not a readable GGUF file (${err instanceof Error ? err.message : String(err)})` };
  }
  try {
    base = await readInfo(baseModelPath);
  } catch (err) {
    return { ok: false, reason: `the base model ${baseModelPath} could not be read (${err instanceof Error ? err.message : String(err)})` };
  }
  return compareAdapter(adapter, base);
}

/** The pure part: metadata and tensor shapes of an adapter against a base model. */
export function compareAdapter(adapter: Pick<GgufFileInfo, 'metadata' | 'tensorInfo'>, base: Pick<GgufFileInfo, 'metadata' | 'tensorInfo'>): AdapterValidation {
  const am = adapter.metadata as Metadata;
  const bm = base.metadata as Metadata;
  if (am.general?.type !== 'adapter') {
    return { ok: false, reason: `it is not an adapter (general.type is "${am.general?.type ?? 'missing'}"; a model file cannot be used as a LoRA adapter)` };
  }
  if (am.adapter?.type !== 'lora') return { ok: false, reason: `it is a "${am.adapter?.type ?? 'unknown'}" adapter, not a LoRA adapter` };
  if (am.general?.architecture !== bm.general?.architecture) {
    return { ok: false, reason: `it was made for the "${am.general?.architecture}" architecture, the model is "${bm.general?.architecture}"` };
  }
  const baseTensors = new Map<string, GgufTensorInfo>((base.tensorInfo ?? []).map((t) => [t.name, t]));
  const loraTensors = new Map<string, GgufTensorInfo>((adapter.tensorInfo ?? []).map((t) => [t.name, t]));
  let pairs = 0;
  for (const [name, a] of loraTensors) {
    if (!name.endsWith('.lora_a')) continue;
    const target = name.slice(0, -'.lora_a'.length);
    const b = loraTensors.get(`${target}.lora_b`);
    if (!b) return { ok: false, reason: `${name} has no matching ${target}.lora_b` };
    const baseTensor = baseTensors.get(target);
    if (!baseTensor) return { ok: false, reason: `it adapts ${target}, which the model does not have` };
    const [nIn, nOut] = baseTensor.dimensions.map(Number);
    const [aIn, aRank] = a.dimensions.map(Number);
    const [bRank, bOut] = b.dimensions.map(Number);
    if (aIn !== nIn || bOut !== nOut || aRank !== bRank) {
      return {
        ok: false,
        reason: `${target} is [${nIn}, ${nOut}] in the model but the adapter's lora_a is [${aIn}, ${aRank}] and lora_b [${bRank}, ${bOut}] — it was trained for a different model size`,
      };
    }
    pairs++;
  }
  for (const name of loraTensors.keys()) {
    if (name.endsWith('.lora_b') && !loraTensors.has(`${name.slice(0, -'.lora_b'.length)}.lora_a`)) {
      return { ok: false, reason: `${name} has no matching lora_a` };
    }
  }
  if (pairs === 0) return { ok: false, reason: 'it contains no LoRA tensors' };
  return { ok: true };
}
