// Whether a LoRA adapter GGUF fits a base model, from the files' headers alone (nothing is loaded):
// its own header (an adapter? LoRA? paired A/B tensors of one rank?), whether both files are
// complete, and the shapes against the model. llama.cpp only logs the real reason natively and
// throws "Failed to initialize LoRA adapter", so the engine checks first; the adapter picker in the
// extension host uses the same functions, so both refuse the same files for the same reasons.
import { basename } from 'node:path';

import { readGgufHeader, type GgufHeader, type GgufTensorInfo } from '../gguf';

export interface AdapterInfo {
  name?: string;
  architecture?: string;
  alpha?: number;
  rank?: number;
  /** Base tensors the adapter changes, e.g. `blk.0.attn_q.weight`. */
  targets: string[];
}

export type AdapterValidation = { ok: true; adapter: AdapterInfo } | { ok: false; reason: string; adapter?: AdapterInfo };

type Headers = Pick<GgufHeader, 'metadata' | 'tensors'>;

function text(header: Headers, key: string): string | undefined {
  const value = header.metadata[key];
  return typeof value === 'string' ? value : undefined;
}

function describeAdapter(header: Headers): AdapterInfo {
  const firstA = header.tensors.find((t) => t.name.endsWith('.lora_a'));
  const alpha = header.metadata['adapter.lora.alpha'];
  return {
    name: text(header, 'general.name'),
    architecture: text(header, 'general.architecture'),
    alpha: typeof alpha === 'number' ? alpha : undefined,
    rank: firstA?.dims[1],
    targets: header.tensors.filter((t) => t.name.endsWith('.lora_a')).map((t) => t.name.slice(0, -'.lora_a'.length)),
  };
}

/** The adapter's own header: an adapter, of LoRA type, with paired A/B tensors of one rank. */
function checkOwnHeader(name: string, header: Headers): AdapterValidation {
  const adapter = describeAdapter(header);
  const generalType = text(header, 'general.type');
  if (generalType !== 'adapter') {
    return {
      ok: false,
      adapter,
      reason: `${name} is not an adapter: its general.type is "${generalType ?? 'missing'}"${generalType === 'model' || generalType === undefined ? ' (it looks like a model file)' : ''}.`,
    };
  }
  const adapterType = text(header, 'adapter.type');
  if (adapterType !== 'lora')
    return { ok: false, adapter, reason: `${name} is a "${adapterType ?? 'unknown'}" adapter; only LoRA adapters are supported.` };
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  if (adapter.targets.length === 0) return { ok: false, adapter, reason: `${name} has no LoRA tensors (*.lora_a / *.lora_b).` };
  for (const target of adapter.targets) {
    const a = byName.get(`${target}.lora_a`)!;
    const b = byName.get(`${target}.lora_b`);
    if (!b) return { ok: false, adapter, reason: `${name}: ${target}.lora_a has no matching ${target}.lora_b.` };
    if (a.dims[1] !== b.dims[0])
      return { ok: false, adapter, reason: `${name}: ${target} has rank ${a.dims[1]} in lora_a but ${b.dims[0]} in lora_b.` };
  }
  for (const tensor of header.tensors) {
    if (tensor.name.endsWith('.lora_b') && !byName.has(`${tensor.name.slice(0, -'.lora_b'.length)}.lora_a`)) {
      return { ok: false, adapter, reason: `${name}: ${tensor.name} has no matching lora_a.` };
    }
  }
  return { ok: true, adapter };
}

/** Checks an adapter's own header (and that the file is complete), without a base model. */
export async function inspectAdapter(adapterPath: string): Promise<AdapterValidation> {
  try {
    return checkOwnHeader(basename(adapterPath), await readGgufHeader(adapterPath));
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}

/**
 * Checks that an adapter fits a base model: its own header, then the same architecture and, for
 * every `<t>.lora_a` [n_in, r] / `<t>.lora_b` [r, n_out], a base tensor `<t>` of [n_in, n_out] —
 * after both headers were read and checked for truncation, with the file names in the reason.
 */
export async function validateAdapter(adapterPath: string, baseModelPath: string): Promise<AdapterValidation> {
  const name = basename(adapterPath);
  let adapterHeader: GgufHeader;
  try {
    adapterHeader = await readGgufHeader(adapterPath);
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  const own = checkOwnHeader(name, adapterHeader);
  if (!own.ok) return own;
  let base: GgufHeader;
  try {
    base = await readGgufHeader(baseModelPath);
  } catch (error) {
    return { ok: false, adapter: own.adapter, reason: `The base model cannot be read: ${(error as Error).message}` };
  }
  const mismatch = compareAdapter(adapterHeader, base);
  if (mismatch) return { ok: false, adapter: own.adapter, reason: `${name} does not fit ${basename(baseModelPath)}: ${mismatch}.` };
  return own;
}

/** The pure part: an adapter's architecture and tensor shapes against a base model; the mismatch, or undefined. */
export function compareAdapter(adapter: Headers, base: Headers): string | undefined {
  const architecture = text(adapter, 'general.architecture');
  const baseArchitecture = text(base, 'general.architecture');
  if (architecture !== baseArchitecture) return `it was made for the "${architecture}" architecture, the model is "${baseArchitecture}"`;
  const baseTensors = new Map<string, GgufTensorInfo>(base.tensors.map((t) => [t.name, t]));
  const loraTensors = new Map<string, GgufTensorInfo>(adapter.tensors.map((t) => [t.name, t]));
  for (const [name, a] of loraTensors) {
    if (!name.endsWith('.lora_a')) continue;
    const target = name.slice(0, -'.lora_a'.length);
    const b = loraTensors.get(`${target}.lora_b`);
    if (!b) return `${name} has no matching ${target}.lora_b`;
    const baseTensor = baseTensors.get(target);
    if (!baseTensor) return `it adapts ${target}, which the model does not have`;
    const [nIn, nOut] = baseTensor.dims;
    const [aIn, aRank] = a.dims;
    const [bRank, bOut] = b.dims;
    if (aIn !== nIn || bOut !== nOut || aRank !== bRank) {
      return `${target} is [${nIn}, ${nOut}] in the model but the adapter's lora_a is [${aIn}, ${aRank}] and lora_b [${bRank}, ${bOut}] — it was trained for a different model size`;
    }
  }
  return undefined;
}
