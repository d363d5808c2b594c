// Retrieval queries with known answers, made from a real corpus without any model: each documented
// declaration defined in exactly one file gives two queries — its name, and its doc comment's first
// sentence — whose answer is that file. Shared by the retrieval test and the index benchmark.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Query {
  kind: 'identifier' | 'doc';
  text: string;
  /** The workspace-relative path of the file that defines it. */
  answer: string;
}

const DECLARATION =
  /\/\*\*((?:[^*]|\*(?!\/))*)\*\/\s*\n\s*(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(?:function\*?|class|interface|type|enum|const|let|var)\s+([A-Za-z_$][\w$]*)/g;

/** The first sentence of a doc comment, without its stars and tags. */
function firstSentence(doc: string): string {
  const prose = doc
    .split('\n')
    .map((l) => l.replace(/^\s*\*\s?/, '').trim())
    .filter((l) => l && !l.startsWith('@'))
    .join(' ');
  const end = prose.search(/[.!?](\s|$)/);
  return (end === -1 ? prose : prose.slice(0, end)).replace(/\{@\w+\s+([^}]*)\}/g, '$1').trim();
}

export function makeQueries(files: ReadonlyMap<string, string>, limit = 200): Query[] {
  const definers = new Map<string, Set<string>>();
  const found: Array<{ name: string; doc: string; path: string }> = [];
  for (const [path, text] of files) {
    for (const match of text.matchAll(DECLARATION)) {
      const name = match[2];
      if (name.length < 4) continue;
      if (!definers.has(name)) definers.set(name, new Set());
      definers.get(name)!.add(path);
      found.push({ name, doc: firstSentence(match[1]), path });
    }
  }
  const unique = found.filter((d) => definers.get(d.name)!.size === 1);
  const seenNames = new Set<string>();
  const queries: Query[] = [];
  // Every k-th definition: spread over the corpus, the same set on every run.
  const step = Math.max(1, Math.floor(unique.length / limit));
  for (let i = 0; i < unique.length && queries.length < limit * 2; i += step) {
    const d = unique[i];
    if (seenNames.has(d.name)) continue;
    seenNames.add(d.name);
    queries.push({ kind: 'identifier', text: d.name, answer: d.path });
    if (d.doc.split(/\s+/).length >= 4) queries.push({ kind: 'doc', text: d.doc, answer: d.path });
  }
  return queries;
}

/** Source files under `dir` (relative paths → text), at most `max`, in a stable order. */
export function readCorpus(dir: string, max: number, extensions = /\.(ts|js|mjs|cjs)$/): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (folder: string) => {
    if (out.size >= max) return;
    for (const name of readdirSync(folder).sort()) {
      if (out.size >= max) return;
      const full = join(folder, name);
      const stat = statSync(full, { throwIfNoEntry: false });
      if (!stat) continue;
      if (stat.isDirectory()) visit(full);
      else if (extensions.test(name) && !name.endsWith('.min.js') && stat.size <= 1_000_000 && stat.size > 0)
        out.set(relative(dir, full).split('\\').join('/'), readFileSync(full, 'utf8'));
    }
  };
  visit(dir);
  return out;
}

/** Share of queries whose answer is among the first `k` distinct files returned. */
export function recallAt(
  k: number,
  queries: readonly Query[],
  search: (text: string) => string[],
): { recall: number; byKind: Record<string, number> } {
  const hits: Record<string, [number, number]> = {};
  for (const q of queries) {
    const files = [...new Set(search(q.text))].slice(0, k);
    const entry = (hits[q.kind] ??= [0, 0]);
    entry[1]++;
    if (files.includes(q.answer)) entry[0]++;
  }
  const total = Object.values(hits).reduce((s, [h, n]) => [s[0] + h, s[1] + n], [0, 0]);
  return {
    recall: total[1] ? total[0] / total[1] : 0,
    byKind: Object.fromEntries(Object.entries(hits).map(([kind, [h, n]]) => [kind, h / n])),
  };
}
