// The metrics store: recent events in a bounded ring, and daily rollups per language, model and
// adapter that keep the totals after events leave the ring. Plain data in and out (toJSON /
// fromData); metricsFile.ts and the vscode shell persist it.
import { EVENT_KINDS, type Dimensions, type MetricEvent } from './events';
import { addEvent, emptyTotals, mergeTotals, summarize, summarizeTotals, type Summary, type Totals } from './stats';

export const METRICS_FORMAT = 1;

export interface Rollup extends Dimensions {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  totals: Totals;
}

export interface MetricsData {
  version: typeof METRICS_FORMAT;
  events: MetricEvent[];
  rollups: Rollup[];
  /** The time of the newest event the ring has dropped, 0 when none (older ranges are summarized from rollups). */
  droppedUntil: number;
}

export interface MetricsLimits {
  maxEvents: number;
  maxDays: number;
  /** The serialized store stays under this (oldest events go first). */
  maxBytes: number;
}

export const DEFAULT_LIMITS: MetricsLimits = { maxEvents: 15_000, maxDays: 400, maxBytes: 5 * 1024 * 1024 };

export const dayOf = (t: number): string => new Date(t).toISOString().slice(0, 10);

export class MetricsStore {
  private events: MetricEvent[];
  private rollups = new Map<string, Rollup>();
  private droppedUntil: number;
  private readonly listeners = new Set<() => void>();

  constructor(
    data?: MetricsData,
    private readonly limits: MetricsLimits = DEFAULT_LIMITS,
  ) {
    this.events = data ? [...data.events] : [];
    this.droppedUntil = data?.droppedUntil ?? 0;
    for (const rollup of data?.rollups ?? []) this.rollups.set(rollupKey(rollup.day, rollup), rollup);
  }

  record(event: MetricEvent): void {
    this.events.push(event);
    const day = dayOf(event.t);
    const key = rollupKey(day, event);
    let rollup = this.rollups.get(key);
    if (!rollup) {
      rollup = { day, language: event.language, model: event.model, adapter: event.adapter, totals: emptyTotals() };
      this.rollups.set(key, rollup);
    }
    addEvent(rollup.totals, event);
    this.trim();
    for (const listener of this.listeners) listener();
  }

  onDidChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events with from <= t < to. */
  eventsBetween(from = -Infinity, to = Infinity): MetricEvent[] {
    return this.events.filter((e) => e.t >= from && e.t < to);
  }

  get eventCount(): number {
    return this.events.length;
  }

  /**
   * The summary of [from, to): exact, from events, when the ring still holds everything since
   * `from`; else from the daily rollups of the days the range touches (whole days).
   */
  summary(from: number, to = Infinity, filter?: Partial<Dimensions>): Summary {
    const matches = (d: Dimensions) =>
      !filter || (Object.keys(filter) as Array<keyof Dimensions>).every((k) => filter[k] === undefined || d[k] === filter[k]);
    // droppedUntil 0: the ring has never dropped anything (events start long after 1970).
    if (this.droppedUntil === 0 || from > this.droppedUntil) return summarize(this.eventsBetween(from, to).filter(matches));
    const firstDay = dayOf(from === -Infinity ? 0 : from);
    const lastDay = to === Infinity ? '9999-12-31' : dayOf(to - 1);
    let totals = emptyTotals();
    for (const rollup of this.rollups.values())
      if (rollup.day >= firstDay && rollup.day <= lastDay && matches(rollup)) totals = mergeTotals(totals, rollup.totals);
    return summarizeTotals(totals);
  }

  clear(): void {
    this.events = [];
    this.rollups.clear();
    this.droppedUntil = 0;
    for (const listener of this.listeners) listener();
  }

  toJSON(): MetricsData {
    return { version: METRICS_FORMAT, events: this.events, rollups: [...this.rollups.values()], droppedUntil: this.droppedUntil };
  }

  /** Keeps the ring, the rollups and the serialized size within the limits. */
  private trim(): void {
    if (this.events.length > this.limits.maxEvents) this.drop(this.events.length - this.limits.maxEvents);
    const days = [...new Set([...this.rollups.values()].map((r) => r.day))].sort();
    if (days.length > this.limits.maxDays) {
      const keep = days[days.length - this.limits.maxDays];
      for (const [key, rollup] of this.rollups) if (rollup.day < keep) this.rollups.delete(key);
    }
    // Checking the size costs a serialization: only when the ring is near the point it could matter.
    if (this.events.length % 500 === 0)
      while (JSON.stringify(this.toJSON()).length > this.limits.maxBytes && this.events.length > 0)
        this.drop(Math.max(1, Math.ceil(this.events.length / 10)));
  }

  private drop(count: number): void {
    const dropped = this.events.splice(0, count);
    this.droppedUntil = Math.max(this.droppedUntil, ...dropped.map((e) => e.t));
  }
}

function rollupKey(day: string, d: Dimensions): string {
  return JSON.stringify([day, d.language, d.model, d.adapter]);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks a parsed metrics file (version already checked); throws on a structure it cannot use. */
export function validateMetrics(value: Record<string, unknown>): MetricsData {
  const { events, rollups, droppedUntil } = value;
  if (!Array.isArray(events) || !Array.isArray(rollups)) throw new Error('events or rollups missing');
  const dimensionsOk = (d: Record<string, unknown>) => isString(d.language) && isString(d.model) && isString(d.adapter);
  for (const e of events as Array<Record<string, unknown>>)
    if (typeof e !== 'object' || e === null || !EVENT_KINDS.includes(e.kind as MetricEvent['kind']) || !isNumber(e.t) || !dimensionsOk(e))
      throw new Error('an event is malformed');
  const template = emptyTotals();
  for (const r of rollups as Array<Record<string, unknown>>) {
    if (typeof r !== 'object' || r === null || !isString(r.day) || !dimensionsOk(r) || typeof r.totals !== 'object' || r.totals === null)
      throw new Error('a daily rollup is malformed');
    const totals = r.totals as Record<string, unknown>;
    for (const [key, empty] of Object.entries(template)) {
      const ok = Array.isArray(empty)
        ? Array.isArray(totals[key]) && (totals[key] as unknown[]).length === empty.length && (totals[key] as unknown[]).every(isNumber)
        : isNumber(totals[key]);
      if (!ok) throw new Error(`a daily rollup's ${key} is malformed`);
    }
  }
  return {
    version: METRICS_FORMAT,
    events: events as MetricEvent[],
    rollups: rollups as Rollup[],
    droppedUntil: isNumber(droppedUntil) ? droppedUntil : 0,
  };
}
