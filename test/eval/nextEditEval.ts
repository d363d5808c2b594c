// Next-edit evaluation from a git repository's history, and its scores. A commit's change to a file
// is split into hunks (applied top to bottom, as a sequence of edits); each hunk after the first is
// a case: the hunks before it are the edit history, the file with them applied is the current text,
// the cursor sits at the end of the previous hunk, and the hunk itself is the expected next edit
// (only hunks within the editable region's reach of that cursor). Scores:
// - exact-lines match: the prediction changes exactly the lines the expected edit changes;
// - delta-chrF: chrF (character 1–6-grams, β = 2) between the predicted and the expected change
//   written as removed/added lines — 100 when both are empty;
// - would-undo share: of the predictions made, those with a change the expected edit does not make
//   (the user would have had to take it back).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { diffLines, structuredPatch } from 'diff';

import type { Position } from '../../src/nextEdit/types';

const run = promisify(execFile);

export interface EvalCase {
  id: string;
  path: string;
  /** The file before the commit, then after each earlier hunk; the last one is the current text. */
  steps: string[];
  cursor: Position;
  expected: string;
}

export interface CaseOptions {
  /** The cursor line's reach: the expected hunk must start within [cursor - above, cursor + below]. */
  above?: number;
  below?: number;
  /** Hunks with more changed lines than this are not cases (and end the file's sequence). */
  maxHunkLines?: number;
}

/** The cases one file's change gives. */
export function casesFromChange(id: string, path: string, before: string, after: string, options: CaseOptions = {}): EvalCase[] {
  const above = options.above ?? 5;
  const below = options.below ?? 10;
  const maxHunkLines = options.maxHunkLines ?? 12;
  const patch = structuredPatch(path, path, before, after, '', '', { context: 0 });
  const cases: EvalCase[] = [];
  const steps = [before];
  let lines = before.split('\n');
  let shift = 0; // lines added minus removed by the hunks applied so far
  let cursor: Position | undefined;
  for (const [k, hunk] of patch.hunks.entries()) {
    const removed = hunk.lines.filter((l) => l.startsWith('-')).map((l) => l.slice(1));
    const added = hunk.lines.filter((l) => l.startsWith('+')).map((l) => l.slice(1));
    if (removed.length + added.length > maxHunkLines) break;
    // jsdiff's oldStart is 1-based, also for an insertion (the line it goes before).
    const at = hunk.oldStart - 1 + shift;
    const next = [...lines.slice(0, at), ...added, ...lines.slice(at + removed.length)];
    if (cursor && at >= cursor.line - above && at <= cursor.line + below) {
      cases.push({ id: `${id}#${k}`, path, steps: steps.slice(), cursor, expected: next.join('\n') });
    }
    lines = next;
    shift += added.length - removed.length;
    steps.push(lines.join('\n'));
    const lastLine = added.length > 0 ? at + added.length - 1 : Math.max(0, at - 1);
    cursor = { line: lastLine, character: (lines[lastLine] ?? '').length };
  }
  return cases;
}

const CODE = /\.(ts|tsx|js|mjs|cjs|jsx|py|rs|go|java|kt|c|h|cc|cpp|hpp|cs|rb|php|swift|scala|lua|sh|css|scss|vue|svelte)$/;

/** Cases from the newest commits of a repository (non-merge commits, modified code files). */
export async function casesFromRepo(repo: string, options: CaseOptions & { maxCases: number; maxCommits?: number }): Promise<EvalCase[]> {
  const git = async (...args: string[]) => (await run('git', ['-C', repo, ...args], { maxBuffer: 64 * 1024 * 1024 })).stdout;
  const commits = (await git('log', '--no-merges', '--format=%H', '-n', String(options.maxCommits ?? 300))).split('\n').filter(Boolean);
  const cases: EvalCase[] = [];
  for (const commit of commits) {
    const files = (await git('diff-tree', '--no-commit-id', '-r', '--diff-filter=M', '--name-only', `${commit}^`, commit).catch(() => ''))
      .split('\n')
      .filter((p) => CODE.test(p));
    for (const path of files) {
      const [before, after] = await Promise.all([git('show', `${commit}^:${path}`), git('show', `${commit}:${path}`)]).catch(() => [
        '',
        '',
      ]);
      if (!before || before.length > 200_000 || after.length > 200_000 || before.includes('\0')) continue;
      cases.push(...casesFromChange(`${commit.slice(0, 10)}:${path}`, path, before, after, options));
      if (cases.length >= options.maxCases) return cases.slice(0, options.maxCases);
    }
  }
  return cases;
}

/** The lines a change removes and adds (trailing whitespace ignored), in order. */
export function changedLines(from: string, to: string): { removed: string[]; added: string[] } {
  const removed: string[] = [];
  const added: string[] = [];
  for (const part of diffLines(from, to)) {
    if (!part.added && !part.removed) continue;
    const lines = part.value.replace(/\n$/, '').split('\n');
    (part.added ? added : removed).push(...lines.map((l) => l.trimEnd()));
  }
  return { removed, added };
}

const deltaText = (d: { removed: string[]; added: string[] }) =>
  [...d.removed.map((l) => `-${l}`), ...d.added.map((l) => `+${l}`)].join('\n');

export function exactLinesMatch(current: string, expected: string, predicted: string): boolean {
  return deltaText(changedLines(current, expected)) === deltaText(changedLines(current, predicted));
}

/** chrF (0–100) of a hypothesis against a reference: character n-grams 1–6, whitespace removed, β = 2. */
export function chrF(hypothesis: string, reference: string, maxN = 6, beta = 2): number {
  const hyp = hypothesis.replace(/\s+/g, '');
  const ref = reference.replace(/\s+/g, '');
  if (hyp.length === 0 && ref.length === 0) return 100;
  if (hyp.length === 0 || ref.length === 0) return 0;
  let precision = 0;
  let recall = 0;
  let orders = 0;
  for (let n = 1; n <= maxN; n++) {
    const h = ngrams(hyp, n);
    const r = ngrams(ref, n);
    const hTotal = hyp.length - n + 1;
    const rTotal = ref.length - n + 1;
    if (hTotal <= 0 || rTotal <= 0) break;
    let match = 0;
    for (const [gram, count] of h) match += Math.min(count, r.get(gram) ?? 0);
    precision += match / hTotal;
    recall += match / rTotal;
    orders++;
  }
  precision /= orders;
  recall /= orders;
  if (precision + recall === 0) return 0;
  return (100 * (1 + beta * beta) * precision * recall) / (beta * beta * precision + recall);
}

function ngrams(text: string, n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= text.length; i++) {
    const gram = text.slice(i, i + n);
    counts.set(gram, (counts.get(gram) ?? 0) + 1);
  }
  return counts;
}

export function deltaChrF(current: string, expected: string, predicted: string): number {
  return chrF(deltaText(changedLines(current, predicted)), deltaText(changedLines(current, expected)));
}

/** Whether a prediction makes a change (a removed or added line) that the expected edit does not. */
export function wouldUndo(current: string, expected: string, predicted: string): boolean {
  const want = changedLines(current, expected);
  const got = changedLines(current, predicted);
  const missing = (lines: string[], pool: string[]) => {
    const left = [...pool];
    return lines.some((l) => {
      const at = left.indexOf(l);
      if (at < 0) return true;
      left.splice(at, 1);
      return false;
    });
  };
  return missing(got.removed, want.removed) || missing(got.added, want.added);
}

export interface CaseScore {
  id: string;
  suggested: boolean;
  exact: boolean;
  deltaChrF: number;
  undo: boolean;
  latencyMs: number;
}

export function score(id: string, current: string, expected: string, predicted: string | undefined, latencyMs: number): CaseScore {
  const text = predicted ?? current;
  return {
    id,
    suggested: predicted !== undefined && predicted !== current,
    exact: exactLinesMatch(current, expected, text),
    deltaChrF: deltaChrF(current, expected, text),
    undo: predicted !== undefined && wouldUndo(current, expected, text),
    latencyMs,
  };
}

export function summarize(scores: CaseScore[]) {
  const n = Math.max(1, scores.length);
  const suggested = scores.filter((s) => s.suggested);
  const latencies = scores.map((s) => s.latencyMs).sort((a, b) => a - b);
  return {
    cases: scores.length,
    suggestions: suggested.length,
    exactLinesMatch: scores.filter((s) => s.exact).length / n,
    deltaChrF: scores.reduce((t, s) => t + s.deltaChrF, 0) / n,
    wouldUndoShare: suggested.length ? suggested.filter((s) => s.undo).length / suggested.length : 0,
    latencyMsP50: latencies[Math.floor(latencies.length / 2)] ?? 0,
  };
}
