// From what the model said to what the editor shows: findings are checked against the lines the
// change touched, clamped to the file, moved onto the current file's lines, de-duplicated and
// sorted in one stable order.
import type { LineRange } from './diff';
import { SEVERITIES, type RawFinding } from './schema';

export interface Finding extends RawFinding {
  /** Stable for the same file, lines and message (used by the comment threads and dismissals). */
  id: string;
  /** True when the finding lies beyond the changed lines (kept only with `outside: 'flag'`). */
  outsideChange: boolean;
}

export interface PlacementContext {
  /** The file the request was about; findings naming another file are dropped. */
  path: string;
  /** Changed lines of the reviewed version. */
  changed: readonly LineRange[];
  /** Line count of the reviewed version. */
  lineCount: number;
  /** How many lines beyond a change a finding may start or end and still count as on it. */
  tolerance: number;
  /**
   * Reviewed-version line → current-file line, undefined where the line no longer exists (a
   * staged or branch review whose file was edited since). Absent: the reviewed version is current.
   */
  mapLine?: (line: number) => number | undefined;
  /** What to do with findings outside the changed lines. */
  outside: 'drop' | 'flag';
}

export interface Placement {
  findings: Finding[];
  /** How many findings were dropped, and why. */
  dropped: { emptyMessage: number; otherFile: number; outsideChange: number; lineGone: number };
}

export function placeFindings(raw: readonly RawFinding[], ctx: PlacementContext): Placement {
  const dropped = { emptyMessage: 0, otherFile: 0, outsideChange: 0, lineGone: 0 };
  const findings: Finding[] = [];
  for (const f of raw) {
    const message = f.message.trim();
    if (!message) {
      dropped.emptyMessage++;
      continue;
    }
    if (normalizePath(f.file) !== normalizePath(ctx.path)) {
      dropped.otherFile++;
      continue;
    }
    const last = Math.max(1, ctx.lineCount);
    let start = clamp(Math.min(f.startLine, f.endLine), 1, last);
    let end = clamp(Math.max(f.startLine, f.endLine), 1, last);
    const outsideChange = !ctx.changed.some((r) => start <= r.end + ctx.tolerance && end >= r.start - ctx.tolerance);
    if (outsideChange && ctx.outside === 'drop') {
      dropped.outsideChange++;
      continue;
    }
    let replacement = f.replacement;
    if (ctx.mapLine) {
      const mapped = mapRange(start, end, ctx.mapLine);
      if (!mapped) {
        dropped.lineGone++;
        continue;
      }
      // The lines changed since the review: a replacement written for them would be wrong now.
      if (mapped.end - mapped.start !== end - start || mapped.exact === false) replacement = null;
      start = mapped.start;
      end = mapped.end;
    }
    findings.push({
      ...f,
      file: ctx.path,
      startLine: start,
      endLine: end,
      message,
      replacement,
      outsideChange,
      id: findingId(ctx.path, start, end, message),
    });
  }
  return { findings, dropped };
}

function mapRange(
  start: number,
  end: number,
  mapLine: (line: number) => number | undefined,
): { start: number; end: number; exact: boolean } | undefined {
  const mapped: number[] = [];
  for (let n = start; n <= end; n++) {
    const m = mapLine(n);
    if (m !== undefined) mapped.push(m);
  }
  if (!mapped.length) return undefined;
  return { start: Math.min(...mapped), end: Math.max(...mapped), exact: mapped.length === end - start + 1 };
}

/** Drops findings that repeat another on overlapping lines of the same file; keeps the more severe. */
export function dedupeFindings(findings: readonly Finding[]): Finding[] {
  const kept: Finding[] = [];
  for (const f of sortFindings(findings).sort((a, b) => severityRank(a) - severityRank(b))) {
    const twin = kept.find(
      (k) => k.file === f.file && k.startLine <= f.endLine && f.startLine <= k.endLine && similarMessages(k.message, f.message),
    );
    if (!twin) kept.push(f);
  }
  return sortFindings(kept);
}

/** File, then lines, then severity, then the rest — the same order for the same findings. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      compare(a.file, b.file) ||
      a.startLine - b.startLine ||
      a.endLine - b.endLine ||
      severityRank(a) - severityRank(b) ||
      compare(a.category, b.category) ||
      compare(a.message, b.message) ||
      compare(a.replacement ?? '', b.replacement ?? ''),
  );
}

/** Messages that say the same thing: equal once normalised, one inside the other, or most words shared. */
export function similarMessages(a: string, b: string): boolean {
  const na = normalizeMessage(a);
  const nb = normalizeMessage(b);
  if (na === nb || (na.length >= 12 && nb.includes(na)) || (nb.length >= 12 && na.includes(nb))) return true;
  const wa = new Set(na.split(' ').filter(Boolean));
  const wb = new Set(nb.split(' ').filter(Boolean));
  if (wa.size < 3 || wb.size < 3) return false;
  let shared = 0;
  for (const w of wa) if (wb.has(w)) shared++;
  return shared / (wa.size + wb.size - shared) >= 0.6;
}

function normalizeMessage(message: string): string {
  return message
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

export function countBySeverity(findings: readonly Finding[]): Record<(typeof SEVERITIES)[number], number> {
  const counts = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return counts;
}

function severityRank(f: Pick<Finding, 'severity'>): number {
  return SEVERITIES.indexOf(f.severity);
}

function findingId(path: string, start: number, end: number, message: string): string {
  // FNV-1a: short, stable, and enough to tell findings of one review apart.
  let hash = 0x811c9dc5;
  for (const ch of `${path}\n${start}\n${end}\n${message}`) {
    hash ^= ch.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${path}:${start}-${end}:${hash.toString(16)}`;
}

function normalizePath(path: string): string {
  return path.replace(/\\/g, '/').replace(/^\.\//, '');
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
