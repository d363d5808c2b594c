// "Evaluate on This Repository": fill-in-the-middle cases cut from the user's own files (a line's
// rest, a span inside a line, a block body at indentation boundaries), sampled deterministically
// from a seed, run with each configuration (no adapter, each adapter, …); exact match, edit
// similarity and latency per configuration, and which is better by how much. Pure: no vscode.
import { distance } from 'fastest-levenshtein';

import type { AdapterSpec, Backend } from '../engine/protocol';
import type { FimTemplate } from '../completion/templates';
import { errorMessage } from '../util';
import { percentile } from './stats';

export type FimCaseKind = 'line' | 'span' | 'block';

export interface FimCase {
  id: string;
  path: string;
  kind: FimCaseKind;
  prefix: string;
  middle: string;
  suffix: string;
}

export interface SourceFile {
  path: string;
  text: string;
}

/** mulberry32: a tiny seeded generator, so the same seed cuts the same cases from the same files. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const indentOf = (line: string) => line.length - line.trimStart().length;

/** Where each line starts in `text`. */
function lineStarts(lines: readonly string[]): number[] {
  const starts: number[] = [];
  let offset = 0;
  for (const line of lines) {
    starts.push(offset);
    offset += line.length + 1;
  }
  return starts;
}

/** The body of the block `opener` opens: the following lines indented deeper, at most `maxLines`. */
function blockBody(lines: readonly string[], opener: number, maxLines: number): [number, number] | undefined {
  if (!/[{:([]\s*$/.test(lines[opener])) return undefined;
  const base = indentOf(lines[opener]);
  let end = opener + 1;
  while (end < lines.length && end - opener <= maxLines && (lines[end].trim() === '' || indentOf(lines[end]) > base)) end++;
  while (end > opener + 1 && lines[end - 1].trim() === '') end--;
  if (end === opener + 1 || end - opener > maxLines) return undefined;
  return [opener + 1, end];
}

/** One case of `kind` from `file`, or undefined when the line drawn does not fit that kind. */
function cutOne(
  file: SourceFile,
  lines: string[],
  starts: number[],
  kind: FimCaseKind,
  line: number,
  random: () => number,
): Omit<FimCase, 'id'> | undefined {
  const text = file.text;
  const content = lines[line].trim();
  let start: number;
  let end: number;
  if (kind === 'block') {
    const body = blockBody(lines, line, 8);
    if (!body) return undefined;
    start = starts[body[0]];
    end = starts[body[1] - 1] + lines[body[1] - 1].length;
  } else {
    if (content.length < 6) return undefined;
    const indent = indentOf(lines[line]);
    const lineEnd = starts[line] + lines[line].length;
    if (kind === 'line') {
      // The rest of the line from a point in its first half, as when typing it.
      start = starts[line] + indent + Math.floor(random() * Math.max(1, content.length / 2));
      end = lineEnd;
    } else {
      if (content.length < 12) return undefined;
      const length = 3 + Math.floor(random() * Math.min(20, content.length / 3));
      start = starts[line] + indent + Math.floor(random() * (content.length - length));
      end = start + length;
    }
  }
  const middle = text.slice(start, end);
  if (middle.trim().length < 2) return undefined;
  let prefix = text.slice(0, start);
  if (prefix.length > 4000) prefix = prefix.slice(prefix.indexOf('\n', prefix.length - 4000) + 1);
  let suffix = text.slice(end);
  if (suffix.length > 1500) suffix = suffix.slice(0, Math.max(0, suffix.lastIndexOf('\n', 1500)));
  return { path: file.path, kind, prefix, middle, suffix };
}

/** Up to `max` cases from `files` (sorted by path first), the same ones for the same seed and files. */
export function cutCases(files: readonly SourceFile[], options: { seed: number; max: number; perFile?: number }): FimCase[] {
  const random = seededRandom(options.seed);
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const perFile = options.perFile ?? 3;
  const kinds: FimCaseKind[] = ['line', 'span', 'block'];
  const cases: FimCase[] = [];
  let visit = 0;
  // Round-robin over the files so a few big files do not take every case.
  for (let round = 0; round < perFile && cases.length < options.max; round++) {
    for (const file of sorted) {
      if (cases.length >= options.max) break;
      const lines = file.text.split('\n');
      if (lines.length < 3) continue;
      const starts = lineStarts(lines);
      const kind = kinds[visit++ % kinds.length];
      for (let attempt = 0; attempt < 12; attempt++) {
        const cut = cutOne(file, lines, starts, kind, Math.floor(random() * lines.length), random);
        if (!cut || cases.some((c) => c.path === cut.path && c.prefix.length === cut.prefix.length)) continue;
        cases.push({ id: `${cases.length + 1}`, ...cut });
        break;
      }
    }
  }
  return cases;
}

/** Trailing whitespace and blank lines at the end do not count. */
const normalize = (s: string) => s.replace(/[ \t]+$/gm, '').replace(/\s+$/, '');

/** 1 − Levenshtein distance / the longer length: 1 is identical, 0 nothing in common. */
export function editSimilarity(expected: string, actual: string): number {
  const a = normalize(expected);
  const b = normalize(actual);
  const longer = Math.max(a.length, b.length);
  return longer === 0 ? 1 : 1 - distance(a, b) / longer;
}

export function exactMatch(expected: string, actual: string): boolean {
  return normalize(expected) === normalize(actual);
}

export interface EvalConfig {
  id: string;
  label: string;
  adapters: AdapterSpec[];
}

export interface ConfigScore {
  id: string;
  label: string;
  cases: number;
  failed: number;
  exactMatch: number;
  similarity: number;
  latencyP50?: number;
  latencyP95?: number;
}

export interface Evaluation {
  at: number;
  model: string;
  seed: number;
  files: number;
  cases: number;
  byKind: Record<FimCaseKind, number>;
  scores: ConfigScore[];
  /** Which configuration is better and by how much, in words. */
  verdict: string;
  partial: boolean;
  notes: string[];
}

export interface EvaluateOptions {
  template: FimTemplate;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, label: string) => void;
  now?: () => number;
  languageOf?: (path: string) => string;
}

/** Runs every case with every configuration (adapters switched in between). */
export async function evaluate(
  backend: Backend,
  cases: readonly FimCase[],
  configs: readonly EvalConfig[],
  options: EvaluateOptions,
): Promise<{ scores: ConfigScore[]; partial: boolean; notes: string[] }> {
  const now = options.now ?? Date.now;
  const notes: string[] = [];
  const scores: ConfigScore[] = [];
  let partial = false;
  const total = cases.length * configs.length;
  outer: for (const [c, config] of configs.entries()) {
    try {
      await backend.setAdapters(config.adapters);
    } catch (err) {
      // An adapter that does not fit the model: its row says so, the others still run.
      notes.push(`${config.label}: not evaluated (${errorMessage(err)})`);
      scores.push({ id: config.id, label: config.label, cases: 0, failed: cases.length, exactMatch: 0, similarity: 0 });
      continue;
    }
    const latencies: number[] = [];
    let exact = 0;
    let similarity = 0;
    let failed = 0;
    let ran = 0;
    for (const [i, fim] of cases.entries()) {
      if (options.signal?.aborted) {
        partial = true;
        notes.push('cancelled');
        break outer;
      }
      options.onProgress?.(c * cases.length + i, total, `${config.label}: case ${i + 1} of ${cases.length}`);
      const cut = fim.prefix.lastIndexOf('\n') + 1;
      const prompt = options.template.build({
        prefix: fim.prefix.slice(0, cut),
        linePrefix: fim.prefix.slice(cut),
        suffix: fim.suffix,
        files: [],
        path: fim.path,
        repoName: '',
        languageId: options.languageOf?.(fim.path) ?? '',
      });
      const oneLine = fim.kind !== 'block';
      const started = now();
      try {
        const result = await backend.completeFim(
          {
            documentKey: `enclave-eval:${config.id}:${fim.id}`,
            prompt,
            maxTokens: oneLine ? 48 : 160,
            stop: [...options.template.stop, ...(oneLine ? ['\n'] : [])],
            speculative: 'off',
          },
          { signal: options.signal },
        );
        latencies.push(now() - started);
        if (exactMatch(fim.middle, result.text)) exact++;
        similarity += editSimilarity(fim.middle, result.text);
      } catch (err) {
        if (options.signal?.aborted) continue;
        failed++;
        if (failed === 1) notes.push(`${config.label}: ${errorMessage(err)}`);
      }
      ran++;
    }
    scores.push({
      id: config.id,
      label: config.label,
      cases: ran,
      failed,
      exactMatch: ran ? exact / ran : 0,
      similarity: ran ? similarity / ran : 0,
      latencyP50: percentile(latencies, 50),
      latencyP95: percentile(latencies, 95),
    });
  }
  return { scores, partial, notes };
}

const points = (x: number) => `${(x * 100).toFixed(1)}`;

/** Which configuration scored best against the first (the baseline), by how much. */
export function verdict(scores: readonly ConfigScore[]): string {
  if (scores.length === 0) return 'Nothing was evaluated.';
  if (scores.length === 1)
    return `${scores[0].label}: ${points(scores[0].exactMatch)} % exact, similarity ${points(scores[0].similarity)} %.`;
  const [baseline, ...rest] = scores;
  const others = rest.filter((s) => s.cases > 0);
  if (others.length === 0)
    return `Only ${baseline.label} could be evaluated: ${points(baseline.exactMatch)} % exact, similarity ${points(baseline.similarity)} %.`;
  const best = [...others].sort((a, b) => b.similarity - a.similarity || b.exactMatch - a.exactMatch)[0];
  const gain = best.similarity - baseline.similarity;
  const exact = best.exactMatch - baseline.exactMatch;
  const sign = (x: number) => (x >= 0 ? '+' : '−') + points(Math.abs(x));
  if (Math.abs(gain) < 0.005 && Math.abs(exact) < 0.005)
    return `${best.label} and ${baseline.label} score the same (similarity ${points(best.similarity)} %).`;
  const better = gain > 0 || (gain === 0 && exact > 0);
  return better
    ? `${best.label} is better than ${baseline.label}: similarity ${sign(gain)} points, exact match ${sign(exact)} points.`
    : `${baseline.label} is better than every other configuration; the closest, ${best.label}, scores similarity ${sign(gain)} points, exact match ${sign(exact)} points.`;
}

/** The kept evaluations (newest last), checked after loading. */
export function validateEvaluations(value: Record<string, unknown>): { version: number; runs: Evaluation[] } {
  const runs = value.runs;
  if (!Array.isArray(runs)) throw new Error('runs missing');
  for (const r of runs as Array<Record<string, unknown>>)
    if (typeof r !== 'object' || r === null || typeof r.at !== 'number' || !Array.isArray(r.scores))
      throw new Error('an evaluation is malformed');
  return { version: 1, runs: runs as Evaluation[] };
}
