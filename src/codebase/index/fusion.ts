// Reciprocal rank fusion: several rankings of the same kind of item made into one, each item scored
// Σ 1 / (k + rank) over the rankings that hold it (rank from 1). It needs no comparable scores —
// BM25's and cosine similarity's scales have nothing in common — only the orders (Cormack et al. 2009, k = 60).

export interface Fused<T> {
  item: T;
  score: number;
}

/**
 * The items of `rankings` (each best first) in fused order, best first; an item is identified by
 * `key` and kept as it first appeared in the earliest ranking holding it. Ties keep that order.
 */
export function reciprocalRankFusion<T>(rankings: readonly (readonly T[])[], key: (item: T) => string, k = 60): Fused<T>[] {
  const fused = new Map<string, Fused<T> & { order: number }>();
  for (const ranking of rankings) {
    const seen = new Set<string>();
    for (const [i, item] of ranking.entries()) {
      const id = key(item);
      // An item listed twice in one ranking counts once, at its better rank.
      if (seen.has(id)) continue;
      seen.add(id);
      const entry = fused.get(id);
      if (entry) entry.score += 1 / (k + i + 1);
      else fused.set(id, { item, score: 1 / (k + i + 1), order: fused.size });
    }
  }
  return [...fused.values()].sort((a, b) => b.score - a.score || a.order - b.order).map(({ item, score }) => ({ item, score }));
}
