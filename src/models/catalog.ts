// The Qwen2.5-Coder GGUFs Enclave knows how to recommend and fetch: sizes, quantisations, file
// sizes and the shape numbers that decide the KV cache. Pure data; no vscode, no node-llama-cpp.
//
// File sizes are those of the published GGUFs (rounded to 10 MB; the downloader refuses an answer
// far from them). Architecture numbers come from the models' config.json. A sha256 is left
// undefined where it was not checked by hand: the downloader then checks the file against Hugging
// Face's own record of it (X-Linked-Etag, the sha256 of an LFS file, and X-Linked-Size).

export type ModelSize = '0.5B' | '1.5B' | '3B' | '7B' | '14B' | '32B';
export type ModelVariant = 'base' | 'instruct';
export type Quant = 'Q4_K_M' | 'Q5_K_M' | 'Q8_0' | 'F16';

export const modelSizes: readonly ModelSize[] = ['0.5B', '1.5B', '3B', '7B', '14B', '32B'];
export const quants: readonly Quant[] = ['Q4_K_M', 'Q5_K_M', 'Q8_0', 'F16'];

export interface ModelArchitecture {
  parameters: number;
  layers: number;
  embedding: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  trainContext: number;
  vocab: number;
}

export interface ModelSource {
  /** node-llama-cpp / llama.cpp style URI, e.g. `hf:Qwen/Qwen2.5-Coder-7B-Instruct-GGUF:Q4_K_M`. */
  hf: string;
  /** Direct https URL of a single-file GGUF, when the published file is not split into parts. */
  url?: string;
  sha256?: string;
}

export interface CatalogEntry {
  /** Stable id, e.g. `qwen2.5-coder-7b-instruct-q4_k_m`. */
  id: string;
  /** Human name, e.g. `Qwen2.5-Coder 7B Instruct Q4_K_M`. */
  name: string;
  size: ModelSize;
  variant: ModelVariant;
  quant: Quant;
  fileName: string;
  fileBytes: number;
  arch: ModelArchitecture;
  /** Undefined: no single published file we know of — import a local GGUF instead. */
  source?: ModelSource;
}

const GB = 1e9;

const architectures: Record<ModelSize, ModelArchitecture> = {
  '0.5B': { parameters: 0.49e9, layers: 24, embedding: 896, heads: 14, kvHeads: 2, headDim: 64, trainContext: 32768, vocab: 151936 },
  '1.5B': { parameters: 1.54e9, layers: 28, embedding: 1536, heads: 12, kvHeads: 2, headDim: 128, trainContext: 32768, vocab: 151936 },
  '3B': { parameters: 3.09e9, layers: 36, embedding: 2048, heads: 16, kvHeads: 2, headDim: 128, trainContext: 32768, vocab: 151936 },
  '7B': { parameters: 7.61e9, layers: 28, embedding: 3584, heads: 28, kvHeads: 4, headDim: 128, trainContext: 32768, vocab: 152064 },
  '14B': { parameters: 14.7e9, layers: 48, embedding: 5120, heads: 40, kvHeads: 8, headDim: 128, trainContext: 32768, vocab: 152064 },
  '32B': { parameters: 32.8e9, layers: 64, embedding: 5120, heads: 40, kvHeads: 8, headDim: 128, trainContext: 32768, vocab: 152064 },
};

/** Published file sizes in GB (the instruct and base files of one size differ by a few MB). */
const fileSizesGb: Record<ModelSize, Record<Quant, number>> = {
  '0.5B': { Q4_K_M: 0.4, Q5_K_M: 0.42, Q8_0: 0.53, F16: 0.99 },
  '1.5B': { Q4_K_M: 0.99, Q5_K_M: 1.13, Q8_0: 1.65, F16: 3.09 },
  '3B': { Q4_K_M: 1.93, Q5_K_M: 2.22, Q8_0: 3.29, F16: 6.18 },
  '7B': { Q4_K_M: 4.68, Q5_K_M: 5.44, Q8_0: 8.1, F16: 15.24 },
  '14B': { Q4_K_M: 8.99, Q5_K_M: 10.51, Q8_0: 15.7, F16: 29.55 },
  '32B': { Q4_K_M: 19.85, Q5_K_M: 23.26, Q8_0: 34.82, F16: 65.54 },
};

/**
 * Qwen publishes the instruct GGUFs (Q4_K_M, Q5_K_M, Q8_0) in `Qwen/Qwen2.5-Coder-<N>B-Instruct-GGUF`;
 * from 14B on the larger quantisations are split into parts, so only the `hf:` URI (which
 * node-llama-cpp resolves, parts included) is given there. The base models (best for FIM) are
 * published by ggml-org as Q8_0 single files for 0.5B–7B (the files llama.vscode uses).
 */
function sourceFor(size: ModelSize, variant: ModelVariant, quant: Quant, fileName: string): ModelSource | undefined {
  if (variant === 'instruct') {
    if (quant === 'F16') return undefined;
    const repo = `Qwen/Qwen2.5-Coder-${size}-Instruct-GGUF`;
    const singleFile = fileSizesGb[size][quant] < 8;
    return {
      hf: `hf:${repo}:${quant}`,
      url: singleFile ? `https://huggingface.co/${repo}/resolve/main/${fileName}` : undefined,
    };
  }
  if (quant === 'Q8_0' && ['0.5B', '1.5B', '3B', '7B'].includes(size)) {
    const repo = `ggml-org/Qwen2.5-Coder-${size}-Q8_0-GGUF`;
    return { hf: `hf:${repo}:Q8_0`, url: `https://huggingface.co/${repo}/resolve/main/${fileName}` };
  }
  return undefined;
}

function entry(size: ModelSize, variant: ModelVariant, quant: Quant): CatalogEntry {
  const sizeTag = size.toLowerCase();
  const variantTag = variant === 'instruct' ? '-instruct' : '';
  const quantTag = quant === 'F16' ? 'fp16' : quant.toLowerCase();
  const fileName = `qwen2.5-coder-${sizeTag}${variantTag}-${quantTag}.gguf`;
  return {
    id: `qwen2.5-coder-${sizeTag}${variantTag}-${quant.toLowerCase()}`,
    name: `Qwen2.5-Coder ${size}${variant === 'instruct' ? ' Instruct' : ''} ${quant}`,
    size,
    variant,
    quant,
    fileName,
    fileBytes: Math.round(fileSizesGb[size][quant] * GB),
    arch: architectures[size],
    source: sourceFor(size, variant, quant, fileName),
  };
}

export const catalog: readonly CatalogEntry[] = modelSizes.flatMap((size) =>
  (['base', 'instruct'] as const).flatMap((variant) => quants.map((quant) => entry(size, variant, quant))),
);

export function findEntry(size: ModelSize, variant: ModelVariant, quant: Quant): CatalogEntry {
  const found = catalog.find((e) => e.size === size && e.variant === variant && e.quant === quant);
  if (!found) throw new Error(`No catalog entry for ${size} ${variant} ${quant}`);
  return found;
}

export function entryById(id: string): CatalogEntry | undefined {
  return catalog.find((e) => e.id === id);
}

/** Bytes of F16 KV cache per token of context: K and V, every layer, every KV head. */
export function kvBytesPerToken(arch: ModelArchitecture, bytesPerElement = 2): number {
  return 2 * arch.layers * arch.kvHeads * arch.headDim * bytesPerElement;
}

/** File sizes in decimal units, as the model hubs show them: `4.7 GB`. */
export function formatFileSize(bytes: number): string {
  if (bytes >= GB) return `${(bytes / GB).toFixed(bytes >= 10 * GB ? 0 : 1)} GB`;
  return `${Math.round(bytes / 1e6)} MB`;
}

export const GiB = 1024 ** 3;

/** Memory in binary units labelled GB, as card makers and OS tools do: a 12 GB card is 12 GiB. */
export function formatMemory(bytes: number): string {
  const gib = bytes / GiB;
  return `${gib >= 10 || Number.isInteger(gib) ? Math.round(gib) : gib.toFixed(1)} GB`;
}
