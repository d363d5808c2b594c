// Completions already computed, keyed by what changes the answer: the model (and its adapters) and
// the text around the cursor. Type-through: a user typing the start of a suggestion gets the rest
// of it at once, looked up under the key of the position where the suggestion was made.
import { LRUCache } from 'lru-cache';

export interface CacheKeyOptions {
  /** Characters before the cursor that are part of the key. */
  prefixChars?: number;
  /** Characters after the cursor that are part of the key. */
  suffixChars?: number;
}

export interface CacheHit {
  /** The completions still to insert at the cursor (first = best). */
  texts: string[];
  /** Characters the user typed along the cached suggestion (0 = exact hit). */
  typed: number;
}

export class CompletionCache {
  private readonly lru: LRUCache<string, string[]>;
  private readonly prefixChars: number;
  private readonly suffixChars: number;

  constructor(max = 256, options: CacheKeyOptions = {}) {
    this.lru = new LRUCache({ max });
    this.prefixChars = options.prefixChars ?? 1024;
    this.suffixChars = options.suffixChars ?? 256;
  }

  /** The key of a completion at `offset` whose text after the cursor starts at `suffixFrom`. */
  key(model: string, text: string, offset: number, suffixFrom = offset): string {
    return `${model}\u0000${text.slice(Math.max(0, offset - this.prefixChars), offset)}\u0000${text.slice(suffixFrom, suffixFrom + this.suffixChars)}`;
  }

  set(key: string, texts: readonly string[]): void {
    const useful = texts.filter((t) => t.length > 0);
    if (useful.length > 0) this.lru.set(key, useful);
  }

  /**
   * A cached answer for the cursor at `offset`: an exact hit, or a suggestion made up to
   * `maxTyped` characters earlier whose start is exactly what the user has typed since.
   */
  lookup(model: string, text: string, offset: number, maxTyped = 64): CacheHit | undefined {
    const exact = this.lru.get(this.key(model, text, offset));
    if (exact) return { texts: exact, typed: 0 };
    const limit = Math.min(maxTyped, offset);
    for (let typed = 1; typed <= limit; typed++) {
      const texts = this.lru.get(this.key(model, text, offset - typed, offset));
      if (!texts) continue;
      const typedText = text.slice(offset - typed, offset);
      const rest = texts.filter((t) => t.length > typed && t.startsWith(typedText)).map((t) => t.slice(typed));
      if (rest.length > 0) return { texts: rest, typed };
    }
    return undefined;
  }

  has(key: string): boolean {
    return this.lru.has(key);
  }

  get size(): number {
    return this.lru.size;
  }

  clear(): void {
    this.lru.clear();
  }
}
