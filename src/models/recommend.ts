// Which model suits this machine: plain data in (what was measured), a recommendation with its
// reason in words out. The rule of thumb it reproduces: a 7B model at 4-bit needs a 12 GB card,
// 13–14B a 24 GB card, 70B two 24 GB cards or one 80 GB card (the catalog stops at 32B).
import {
  GiB,
  findEntry,
  formatFileSize,
  formatMemory,
  kvBytesPerToken,
  modelSizes,
  type CatalogEntry,
  type ModelSize,
  type Quant,
} from './catalog';

export interface MachineMeasure {
  /** 'cuda' | 'vulkan' | 'metal' | 'cpu' (node-llama-cpp's `llama.gpu`, `false` → 'cpu'). */
  gpu: string;
  gpuNames: string[];
  /** Total VRAM of each GPU device in bytes, when known; else `vramTotal` is one device. */
  gpuVram?: number[];
  vramTotal: number;
  vramFree: number;
  ramTotal: number;
  ramFree: number;
  cpuCores: number;
  /** GPU and CPU share the memory (Apple silicon; some integrated GPUs). */
  unifiedMemory: boolean;
}

export interface RecommendOptions {
  /** Context size in tokens (the engine's `enclave.engine.contextSize`). */
  contextSize?: number;
  /** Reserve room for a draft model for speculative decoding (default true). */
  withDraft?: boolean;
  /** Prompt evaluation batch size (drives the logits buffer). */
  batchSize?: number;
}

export interface MemoryEstimate {
  weights: number;
  kvCache: number;
  compute: number;
  draft: number;
  /** Everything above plus a 10 % safety margin. */
  total: number;
}

export interface SizedChoice {
  entry: CatalogEntry;
  estimate: MemoryEstimate;
  fits: boolean;
}

export type Placement = 'gpu' | 'unified' | 'cpu';

export interface Recommendation {
  /** The completion (FIM) model: a base model. */
  completion: CatalogEntry;
  /** The chat model: the instruct model of the same size and quantisation. */
  chat: CatalogEntry;
  /** Whether the chat model fits next to the completion model (else one model serves both). */
  chatFitsAlongside: boolean;
  draft?: CatalogEntry;
  contextSize: number;
  placement: Placement;
  /** Memory the model may use: VRAM, or the GPU's share of unified memory, or RAM. */
  budget: number;
  estimate: MemoryEstimate;
  fits: boolean;
  larger?: SizedChoice;
  smaller?: SizedChoice;
  /** The largest catalog size that fits the memory at all (ignoring the CPU speed cap). */
  largestFitting?: CatalogEntry;
  reason: string;
  notes: string[];
}

const MARGIN = 1.1;
const GRAPH_OVERHEAD = 256 * 1024 ** 2;
/** What the OS, the desktop, the editor and a browser keep in RAM on a shared-memory machine. */
const SYSTEM_RAM_RESERVE = 6 * GiB;
const DRAFT_BATCH = 128;

function draftEntry(): CatalogEntry {
  return findEntry('0.5B', 'base', 'Q8_0');
}

function modelMemory(entry: CatalogEntry, contextSize: number, batchSize: number): number {
  const logits = batchSize * entry.arch.vocab * 4;
  return entry.fileBytes + kvBytesPerToken(entry.arch) * contextSize + logits + GRAPH_OVERHEAD;
}

/** Estimate from catalog figures: weights, F16 KV cache for the whole context, compute buffers. */
export function estimateMemory(entry: CatalogEntry, options: RecommendOptions = {}): MemoryEstimate {
  const contextSize = options.contextSize ?? 8192;
  const batchSize = options.batchSize ?? 512;
  const withDraft = (options.withDraft ?? true) && needsDraft(entry.size);
  const kvCache = kvBytesPerToken(entry.arch) * contextSize;
  const compute = batchSize * entry.arch.vocab * 4 + GRAPH_OVERHEAD;
  const draft = withDraft ? modelMemory(draftEntry(), contextSize, DRAFT_BATCH) : 0;
  const total = (entry.fileBytes + kvCache + compute + draft) * MARGIN;
  return { weights: entry.fileBytes, kvCache, compute, draft, total };
}

/** A draft model only pays off when the target is several times its size. */
function needsDraft(size: ModelSize): boolean {
  return size !== '0.5B' && size !== '1.5B';
}

/** Small models lose more to 4-bit quantisation and are cheap at 8-bit; big ones are memory-bound. */
function preferredQuants(size: ModelSize): Quant[] {
  return ['0.5B', '1.5B', '3B'].includes(size) ? ['Q8_0', 'Q5_K_M', 'Q4_K_M'] : ['Q4_K_M'];
}

interface Budget {
  placement: Placement;
  bytes: number;
  /** "12 GB VRAM", "2×24 GB VRAM", "16 GB unified memory", "16 GB RAM". */
  capacity: string;
}

export function memoryBudget(machine: MachineMeasure): Budget {
  const hasGpu = machine.gpu !== 'cpu' && machine.gpu !== '' && machine.vramTotal > 0;
  if (hasGpu && (machine.unifiedMemory || machine.gpu === 'metal')) {
    // macOS lets the GPU wire about 2/3 of memory (3/4 above 36 GB); the rest of the system needs room too.
    const gpuShare = machine.vramTotal > 0 ? machine.vramTotal : machine.ramTotal * (machine.ramTotal > 36 * GiB ? 0.75 : 2 / 3);
    const bytes = Math.max(0, Math.min(gpuShare, machine.ramTotal - SYSTEM_RAM_RESERVE));
    return { placement: 'unified', bytes, capacity: `${formatMemory(machine.ramTotal)} unified memory` };
  }
  if (hasGpu) {
    const devices = machine.gpuVram && machine.gpuVram.length > 0 ? machine.gpuVram : [machine.vramTotal];
    // The first GPU usually drives the display: the compositor, the editor and a browser live there.
    const bytes = devices.reduce((sum, total, i) => sum + Math.max(0, total - (i === 0 ? Math.max(1.5 * GiB, total * 0.1) : 0.5 * GiB)), 0);
    const sizes = new Set(devices.map(formatMemory));
    const capacity =
      devices.length > 1 && sizes.size === 1
        ? `${devices.length}×${formatMemory(devices[0])} VRAM`
        : `${formatMemory(devices.reduce((a, b) => a + b, 0))} VRAM`;
    return { placement: 'gpu', bytes, capacity };
  }
  return { placement: 'cpu', bytes: Math.max(0, machine.ramTotal - SYSTEM_RAM_RESERVE), capacity: `${formatMemory(machine.ramTotal)} RAM` };
}

/** On the CPU, inline completions must stay fast: token speed falls with model size. */
function cpuSizeCap(cores: number): ModelSize {
  return cores >= 8 ? '3B' : '1.5B';
}

function bestQuantThatFits(size: ModelSize, budget: number, options: RecommendOptions): SizedChoice {
  const candidates = preferredQuants(size).map((quant) => {
    const entry = findEntry(size, 'base', quant);
    const estimate = estimateMemory(entry, options);
    return { entry, estimate, fits: estimate.total <= budget };
  });
  return candidates.find((c) => c.fits) ?? candidates[candidates.length - 1];
}

function contextLabel(tokens: number): string {
  return tokens % 1024 === 0 ? `${tokens / 1024}k` : `${tokens}-token`;
}

export function recommend(machine: MachineMeasure, options: RecommendOptions = {}): Recommendation {
  const contextSize = options.contextSize ?? 8192;
  const opts = { ...options, contextSize };
  const budget = memoryBudget(machine);
  const choices = modelSizes.map((size) => bestQuantThatFits(size, budget.bytes, opts));
  const fittingIndexes = choices.map((c, i) => (c.fits ? i : -1)).filter((i) => i >= 0);
  const largestFittingIndex = fittingIndexes.length > 0 ? fittingIndexes[fittingIndexes.length - 1] : -1;
  const capIndex = budget.placement === 'cpu' ? modelSizes.indexOf(cpuSizeCap(machine.cpuCores)) : modelSizes.length - 1;
  const chosenIndex = Math.max(0, Math.min(largestFittingIndex, capIndex));
  const chosen = choices[chosenIndex];
  const completion = chosen.entry;
  const chat = findEntry(completion.size, 'instruct', completion.quant);
  const chatFitsAlongside = chosen.estimate.total + chat.fileBytes * MARGIN <= budget.bytes;
  const draft = chosen.estimate.draft > 0 ? draftEntry() : undefined;

  const notes: string[] = [];
  const ctx = contextLabel(contextSize);
  let reason: string;
  if (!chosen.fits) {
    reason =
      `${completion.size} ${completion.quant}: even the smallest model does not fit ${budget.capacity} with an ${ctx} context ` +
      `(~${formatFileSize(completion.fileBytes)} file); it will run partly from system memory and be slow.`;
  } else {
    const where = budget.placement === 'cpu' ? `runs on the CPU in ${budget.capacity}` : `fits ${budget.capacity}`;
    reason = `${completion.size} ${completion.quant}: ${where} with an ${ctx} context, ~${formatFileSize(completion.fileBytes)} file`;
    if (draft) reason += `, plus the ${draft.size} draft model for faster completions`;
    reason += '.';
  }
  if (budget.placement === 'cpu' && largestFittingIndex > chosenIndex) {
    notes.push(
      `No GPU found: ${choices[largestFittingIndex].entry.size} would fit in memory, but on ${machine.cpuCores} CPU cores it is too slow for inline completions.`,
    );
  }
  if (budget.placement === 'unified') {
    notes.push(
      `About ${formatMemory(budget.bytes)} of the ${formatMemory(machine.ramTotal)} can be used by the GPU while leaving the system room.`,
    );
  }
  if (largestFittingIndex === modelSizes.length - 1 && chosenIndex === largestFittingIndex) {
    const spare = budget.bytes - chosen.estimate.total;
    notes.push(
      `${completion.size} is the largest model in the catalog and leaves ~${formatMemory(spare)} spare: a higher-quality quantisation or a longer context fits too.`,
    );
  }
  if (!chatFitsAlongside) {
    notes.push(`A separate ${chat.name} for chat does not fit next to it; one model serves completions and chat.`);
  }
  if (machine.vramFree > 0 && budget.placement === 'gpu' && machine.vramFree < chosen.estimate.total) {
    notes.push(`Only ${formatMemory(machine.vramFree)} of VRAM is free right now; close other GPU programs before loading.`);
  }

  const larger = chosenIndex + 1 < choices.length ? choices[chosenIndex + 1] : undefined;
  const smaller = chosenIndex > 0 ? choices[chosenIndex - 1] : undefined;
  return {
    completion,
    chat,
    chatFitsAlongside,
    draft,
    contextSize,
    placement: budget.placement,
    budget: budget.bytes,
    estimate: chosen.estimate,
    fits: chosen.fits,
    larger,
    smaller,
    largestFitting: largestFittingIndex >= 0 ? choices[largestFittingIndex].entry : undefined,
    reason,
    notes,
  };
}

/** One line per alternative for a picker: "14B Q4_K_M — needs ~12 GB, does not fit". */
export function describeChoice(choice: SizedChoice): string {
  const needs = `needs ~${formatMemory(choice.estimate.total)}`;
  return `${choice.entry.size} ${choice.entry.quant} — ${needs}, ${choice.fits ? 'fits' : 'does not fit'} (${formatFileSize(choice.entry.fileBytes)} file)`;
}
