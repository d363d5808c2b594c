// Extra context for the prompt: a small ring of chunks from other open and recently edited files.
// The ring changes rarely (file switches, saves), and only ever by appending at its end or
// replacing a chunk in place, because every change to it moves the start of the prompt.
import type { FileChunk } from './templates';

export interface ContextChunk extends FileChunk {
  /** The document the chunk came from (chunks of the current document are left out of its prompt). */
  uri: string;
}

interface StoredChunk extends ContextChunk {
  lineSet: Set<string>;
}

export interface RingOptions {
  /** Most chunks kept. */
  capacity?: number;
  /** Lines per chunk. */
  chunkLines?: number;
  /** Chunks at least this similar (Jaccard on their sets of lines) count as duplicates. */
  similarity?: number;
}

function lineSet(text: string): Set<string> {
  const set = new Set<string>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed) set.add(trimmed);
  }
  return set;
}

/** |a ∩ b| / |a ∪ b| of two line sets; 1 for two empty sets. */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let common = 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const item of small) if (large.has(item)) common++;
  return common / (a.size + b.size - common);
}

export class ExtraContextRing {
  private readonly ring: StoredChunk[] = [];
  private readonly capacity: number;
  private readonly chunkLines: number;
  private readonly similarity: number;
  /** Bumped on every change, so callers can tell whether the prompt's head moved. */
  version = 0;

  constructor(options: RingOptions = {}) {
    this.capacity = options.capacity ?? 8;
    this.chunkLines = options.chunkLines ?? 48;
    this.similarity = options.similarity ?? 0.8;
  }

  /** Adds a chunk unless a near-duplicate is there; a near-duplicate from the same file is replaced in place. */
  add(chunk: ContextChunk): boolean {
    const lines = lineSet(chunk.text);
    if (lines.size < 3) return false;
    for (let i = 0; i < this.ring.length; i++) {
      const existing = this.ring[i];
      if (jaccard(existing.lineSet, lines) < this.similarity) continue;
      if (existing.uri !== chunk.uri || existing.text === chunk.text) return false;
      this.ring[i] = { ...chunk, lineSet: lines };
      this.version++;
      return true;
    }
    if (this.ring.length >= this.capacity) this.ring.shift();
    this.ring.push({ ...chunk, lineSet: lines });
    this.version++;
    return true;
  }

  /** Adds the chunk of `text` centred on `line` (e.g. where the user just was in a file being left). */
  addAround(uri: string, path: string, text: string, line: number): boolean {
    const lines = text.split('\n');
    const first = Math.max(0, Math.min(line - Math.floor(this.chunkLines / 2), lines.length - this.chunkLines));
    const chunk = lines.slice(first, first + this.chunkLines).join('\n');
    return this.add({ uri, path, text: chunk });
  }

  removeUri(uri: string): void {
    const before = this.ring.length;
    for (let i = this.ring.length - 1; i >= 0; i--) if (this.ring[i].uri === uri) this.ring.splice(i, 1);
    if (this.ring.length !== before) this.version++;
  }

  /** The chunks in ring order (oldest first), leaving out those of `excludeUri`. */
  chunks(excludeUri?: string): ContextChunk[] {
    return this.ring.filter((c) => c.uri !== excludeUri).map(({ uri, path, text }) => ({ uri, path, text }));
  }

  get size(): number {
    return this.ring.length;
  }
}
