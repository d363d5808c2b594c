// Statistics over recorded events: totals that add up (per day, per language/model/adapter) and
// the rates and percentiles the dashboard shows. Exact percentiles come from events; the daily
// rollups (kept after old events leave the ring) hold latency as a histogram.
import type { Dimension, Dimensions, MetricEvent } from './events';

/** Upper bounds (ms) of the latency histogram's buckets; the last bucket has none. */
export const LATENCY_BOUNDS_MS = [5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 20000];

export interface Totals {
  /** Suggestions shown (from the model or the cache; typing along one does not show a new one). */
  shown: number;
  fromCache: number;
  typedThrough: number;
  accepted: number;
  partlyAccepted: number;
  acceptedChars: number;
  /** Characters of acceptances checked for retention, and how many of them were still there. */
  retentionChecked: number;
  retainedChars: number;
  /** Model-served completions: generated tokens and generation time. */
  generatedTokens: number;
  generationMs: number;
  draftAccepted: number;
  draftRejected: number;
  chatRequests: number;
  chatTokens: number;
  chatMs: number;
  reviewRequests: number;
  reviewTokens: number;
  reviewMs: number;
  restarts: number;
  errors: number;
  /** Counts per LATENCY_BOUNDS_MS bucket (length bounds + 1). */
  latencyHistogram: number[];
  firstTokenHistogram: number[];
}

export function emptyTotals(): Totals {
  return {
    shown: 0,
    fromCache: 0,
    typedThrough: 0,
    accepted: 0,
    partlyAccepted: 0,
    acceptedChars: 0,
    retentionChecked: 0,
    retainedChars: 0,
    generatedTokens: 0,
    generationMs: 0,
    draftAccepted: 0,
    draftRejected: 0,
    chatRequests: 0,
    chatTokens: 0,
    chatMs: 0,
    reviewRequests: 0,
    reviewTokens: 0,
    reviewMs: 0,
    restarts: 0,
    errors: 0,
    latencyHistogram: new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0),
    firstTokenHistogram: new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0),
  };
}

export function bucketOf(ms: number): number {
  const index = LATENCY_BOUNDS_MS.findIndex((bound) => ms <= bound);
  return index === -1 ? LATENCY_BOUNDS_MS.length : index;
}

/** Adds one event to `totals` (in place). */
export function addEvent(totals: Totals, event: MetricEvent): void {
  switch (event.kind) {
    case 'shown':
      if (event.source === 'typeThrough') {
        totals.typedThrough++;
        return;
      }
      totals.shown++;
      if (event.source === 'cache') totals.fromCache++;
      totals.latencyHistogram[bucketOf(event.latencyMs)]++;
      if (event.firstTokenMs !== undefined) totals.firstTokenHistogram[bucketOf(event.firstTokenMs)]++;
      totals.generatedTokens += event.generatedTokens ?? 0;
      totals.generationMs += event.generationMs ?? 0;
      totals.draftAccepted += event.draft?.accepted ?? 0;
      totals.draftRejected += event.draft?.rejected ?? 0;
      return;
    case 'accepted':
      if (event.partial) totals.partlyAccepted++;
      else totals.accepted++;
      totals.acceptedChars += event.chars;
      return;
    case 'retained':
      totals.retentionChecked += event.chars;
      totals.retainedChars += Math.min(event.retained, event.chars);
      return;
    case 'generation':
      if (event.feature === 'chat') {
        totals.chatRequests++;
        totals.chatTokens += event.tokens;
        totals.chatMs += event.ms;
      } else {
        totals.reviewRequests++;
        totals.reviewTokens += event.tokens;
        totals.reviewMs += event.ms;
      }
      return;
    case 'engine':
      if (event.what === 'restart') totals.restarts++;
      else totals.errors++;
      return;
  }
}

/** a + b (a new object). */
export function mergeTotals(a: Totals, b: Totals): Totals {
  const merged = emptyTotals();
  for (const key of Object.keys(merged) as Array<keyof Totals>) {
    const left = a[key];
    const right = b[key];
    if (Array.isArray(left) && Array.isArray(right)) (merged[key] as number[]) = left.map((v, i) => v + (right[i] ?? 0));
    else (merged[key] as number) = (left as number) + (right as number);
  }
  return merged;
}

/** The nearest-rank percentile (p in 0..100) of `values`; undefined for none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((x, y) => x - y);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/** The percentile from a histogram: the upper bound of the bucket the rank falls in (an upper estimate). */
export function histogramPercentile(histogram: readonly number[], p: number): number | undefined {
  const count = histogram.reduce((sum, n) => sum + n, 0);
  if (count === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * count));
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i];
    if (seen >= rank) return LATENCY_BOUNDS_MS[Math.min(i, LATENCY_BOUNDS_MS.length - 1)];
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1];
}

const ratio = (part: number, whole: number): number | undefined => (whole > 0 ? part / whole : undefined);

export interface Summary {
  shown: number;
  accepted: number;
  partlyAccepted: number;
  /** Fully accepted / shown. */
  acceptanceRate?: number;
  /** Fully or partly accepted / shown. */
  anyAcceptanceRate?: number;
  /** Characters still present 30 s after acceptance / characters checked. */
  retention?: number;
  cacheShare?: number;
  latencyP50?: number;
  latencyP95?: number;
  firstTokenP50?: number;
  firstTokenP95?: number;
  tokensPerSecond?: number;
  draftAcceptance?: number;
  chatRequests: number;
  chatTokensPerSecond?: number;
  reviewRequests: number;
  reviewTokensPerSecond?: number;
  restarts: number;
  errors: number;
  /** Percentiles are exact (from events) or bucket upper bounds (from daily rollups). */
  exact: boolean;
}

export function summarizeTotals(t: Totals, exact?: { latency: number[]; firstToken: number[] }): Summary {
  const pick = (values: number[] | undefined, histogram: number[], p: number) =>
    values ? percentile(values, p) : histogramPercentile(histogram, p);
  return {
    shown: t.shown,
    accepted: t.accepted,
    partlyAccepted: t.partlyAccepted,
    acceptanceRate: ratio(t.accepted, t.shown),
    anyAcceptanceRate: ratio(t.accepted + t.partlyAccepted, t.shown),
    retention: ratio(t.retainedChars, t.retentionChecked),
    cacheShare: ratio(t.fromCache, t.shown),
    latencyP50: pick(exact?.latency, t.latencyHistogram, 50),
    latencyP95: pick(exact?.latency, t.latencyHistogram, 95),
    firstTokenP50: pick(exact?.firstToken, t.firstTokenHistogram, 50),
    firstTokenP95: pick(exact?.firstToken, t.firstTokenHistogram, 95),
    tokensPerSecond: t.generationMs > 0 ? (t.generatedTokens * 1000) / t.generationMs : undefined,
    draftAcceptance: ratio(t.draftAccepted, t.draftAccepted + t.draftRejected),
    chatRequests: t.chatRequests,
    chatTokensPerSecond: t.chatMs > 0 ? (t.chatTokens * 1000) / t.chatMs : undefined,
    reviewRequests: t.reviewRequests,
    reviewTokensPerSecond: t.reviewMs > 0 ? (t.reviewTokens * 1000) / t.reviewMs : undefined,
    restarts: t.restarts,
    errors: t.errors,
    exact: exact !== undefined,
  };
}

/** The summary of an event log, with exact percentiles. */
export function summarize(events: readonly MetricEvent[]): Summary {
  const totals = emptyTotals();
  const latency: number[] = [];
  const firstToken: number[] = [];
  for (const event of events) {
    addEvent(totals, event);
    if (event.kind === 'shown' && event.source !== 'typeThrough') {
      latency.push(event.latencyMs);
      if (event.firstTokenMs !== undefined) firstToken.push(event.firstTokenMs);
    }
  }
  return summarizeTotals(totals, { latency, firstToken });
}

/** One summary per value of `dimension` (events without one, e.g. engine events by language, are left out). */
export function summarizeBy(events: readonly MetricEvent[], dimension: Dimension): Record<string, Summary> {
  const groups = new Map<string, MetricEvent[]>();
  for (const event of events) {
    const value = event[dimension];
    if (value === '' && dimension !== 'adapter') continue;
    const key = value === '' ? '(none)' : value;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push(event);
  }
  return Object.fromEntries([...groups].map(([key, group]) => [key, summarize(group)]));
}

export interface TimelinePoint {
  /** Start of the bucket, epoch ms. */
  t: number;
  shown: number;
  accepted: number;
  latencyP95?: number;
  tokensPerSecond?: number;
}

/** Events in [from, to) cut into `buckets` equal intervals, each summarized. */
export function timeline(events: readonly MetricEvent[], from: number, to: number, buckets: number): TimelinePoint[] {
  const width = Math.max(1, (to - from) / buckets);
  const groups: MetricEvent[][] = Array.from({ length: buckets }, () => []);
  for (const event of events) {
    if (event.t < from || event.t >= to) continue;
    groups[Math.min(buckets - 1, Math.floor((event.t - from) / width))].push(event);
  }
  return groups.map((group, i) => {
    const s = summarize(group);
    return {
      t: from + i * width,
      shown: s.shown,
      accepted: s.accepted + s.partlyAccepted,
      latencyP95: s.latencyP95,
      tokensPerSecond: s.tokensPerSecond,
    };
  });
}

export type { Dimensions };
