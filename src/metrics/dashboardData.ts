// What the dashboard page shows, computed from the store as plain data (the page only draws it),
// the messages between page and host, and the CSV export.
import type { BenchmarkRun, CaseComparison } from './benchmark';
import type { Evaluation } from './evaluate';
import type { MetricEvent } from './events';
import { summarizeBy, timeline, type Summary, type TimelinePoint } from './stats';
import type { MetricsStore } from './store';

export const RANGES = { hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000, month: 30 * 86_400_000, all: Infinity } as const;
export type RangeId = keyof typeof RANGES;

export interface Progress {
  done: number;
  total: number;
  label: string;
}

export interface DashboardData {
  range: RangeId;
  from: number;
  to: number;
  /** Whether metrics are being recorded (enclave.metrics.enabled). */
  enabled: boolean;
  slo: { completionP95Ms: number };
  summary: Summary;
  byLanguage: Record<string, Summary>;
  byModel: Record<string, Summary>;
  byAdapter: Record<string, Summary>;
  timeline: TimelinePoint[];
  benchmark?: {
    run: BenchmarkRun;
    comparison: CaseComparison[];
    previous?: Pick<BenchmarkRun, 'at' | 'model' | 'adapter' | 'enclaveVersion'>;
  };
  benchmarkProgress?: Progress;
  evaluation?: Evaluation;
  evaluationProgress?: Progress;
}

export type PageMessage =
  | { type: 'ready' }
  | { type: 'range'; range: RangeId }
  | { type: 'export'; format: 'csv' | 'json' }
  | { type: 'command'; command: 'benchmark' | 'evaluate' | 'clear' | 'cancel' };

export type HostMessage = { type: 'data'; data: DashboardData };

/** The page's message, or undefined for anything else (the page is not trusted to post well-formed data). */
export function parsePageMessage(raw: unknown): PageMessage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  if (m.type === 'ready') return { type: 'ready' };
  if (m.type === 'range' && typeof m.range === 'string' && Object.hasOwn(RANGES, m.range))
    return { type: 'range', range: m.range as RangeId };
  if (m.type === 'export' && (m.format === 'csv' || m.format === 'json')) return { type: 'export', format: m.format };
  if (m.type === 'command' && ['benchmark', 'evaluate', 'clear', 'cancel'].includes(m.command as string))
    return { type: 'command', command: m.command as 'benchmark' };
  return undefined;
}

export function dashboardData(
  store: MetricsStore,
  range: RangeId,
  now: number,
  extra: Pick<DashboardData, 'enabled' | 'slo' | 'benchmark' | 'benchmarkProgress' | 'evaluation' | 'evaluationProgress'>,
): DashboardData {
  const events = store.eventsBetween(now - RANGES[range], Infinity);
  const oldest = store.eventsBetween()[0]?.t ?? now - RANGES.hour;
  const from = range === 'all' ? Math.min(oldest, now - RANGES.hour) : now - RANGES[range];
  return {
    range,
    from,
    to: now,
    summary: store.summary(range === 'all' ? -Infinity : from, Infinity),
    byLanguage: summarizeBy(events, 'language'),
    byModel: summarizeBy(events, 'model'),
    byAdapter: summarizeBy(events, 'adapter'),
    timeline: timeline(events, from, now + 1, 24),
    ...extra,
  };
}

const CSV_COLUMNS = [
  'time',
  'kind',
  'language',
  'model',
  'adapter',
  'source',
  'latencyMs',
  'firstTokenMs',
  'generatedTokens',
  'generationMs',
  'chars',
  'partial',
  'retained',
  'feature',
  'tokens',
  'ms',
  'what',
  'message',
] as const;

const csvCell = (value: unknown): string => {
  if (value === undefined || value === null) return '';
  const text = String(value);
  // Quote what would break a row; a leading =,+,-,@ is quoted too so a spreadsheet does not run it.
  return /[",\n\r]|^[=+\-@]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** Events as CSV, one row each, a header first. */
export function eventsToCsv(events: readonly MetricEvent[]): string {
  const rows = [CSV_COLUMNS.join(',')];
  for (const event of events) {
    const record = event as unknown as Record<string, unknown>;
    rows.push(CSV_COLUMNS.map((column) => csvCell(column === 'time' ? new Date(event.t).toISOString() : record[column])).join(','));
  }
  return rows.join('\n') + '\n';
}
