// The metrics dashboard page: draws what the host sends (cards, uPlot charts, tables) and posts
// the user's choices back (range, export, benchmark, evaluation). All text goes in by textContent.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './metrics.css';

import type { DashboardData, PageMessage, RangeId } from '../../src/metrics/dashboardData';
import type { Summary } from '../../src/metrics/stats';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const post = (message: PageMessage) => vscode.postMessage(message);
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const el = (tag: string, text?: string, attrs: Record<string, string> = {}): HTMLElement => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
};

const pct = (x: number | undefined) => (x === undefined ? '–' : `${(x * 100).toFixed(1)} %`);
const ms = (x: number | undefined) => (x === undefined ? '–' : `${Math.round(x)} ms`);
const rate = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(1)} tok/s`);

const charts = new Map<string, uPlot>();
function chart(id: string, options: Omit<uPlot.Options, 'width' | 'height'>, data: uPlot.AlignedData): void {
  charts.get(id)?.destroy();
  const target = $(id);
  target.replaceChildren();
  const width = Math.max(280, target.clientWidth || 560);
  const style = getComputedStyle(document.body);
  const color = style.getPropertyValue('--vscode-foreground') || '#ccc';
  const axes = (options.axes ?? [{}, {}]).map((a) => ({ stroke: color, grid: { stroke: 'rgba(128,128,128,0.2)' }, ...a }));
  charts.set(id, new uPlot({ ...options, axes, width, height: 220 }, data, target));
}

function cards(s: Summary): void {
  const items: Array<[string, string, string]> = [
    ['shown', 'Shown', String(s.shown)],
    ['accepted', 'Accepted', String(s.accepted)],
    ['partlyAccepted', 'Partly accepted', String(s.partlyAccepted)],
    ['acceptanceRate', 'Acceptance', pct(s.acceptanceRate)],
    ['retention', 'Still there after 30 s', pct(s.retention)],
    ['latencyP50', 'Latency p50', ms(s.latencyP50)],
    ['latencyP95', 'Latency p95', ms(s.latencyP95)],
    ['firstTokenP95', 'First token p95', ms(s.firstTokenP95)],
    ['tokensPerSecond', 'Tokens/s', rate(s.tokensPerSecond)],
    ['cacheShare', 'From cache', pct(s.cacheShare)],
    ['draftAcceptance', 'Draft tokens accepted', pct(s.draftAcceptance)],
    ['chat', 'Chat', `${s.chatRequests} · ${rate(s.chatTokensPerSecond)}`],
    ['review', 'Review', `${s.reviewRequests} · ${rate(s.reviewTokensPerSecond)}`],
    ['restarts', 'Engine restarts', String(s.restarts)],
    ['errors', 'Errors', String(s.errors)],
  ];
  $('cards').replaceChildren(
    ...items.map(([key, label, value]) => {
      const card = el('div', undefined, { class: 'card' });
      card.append(el('div', value, { class: 'value', 'data-metric': key }), el('div', label, { class: 'label' }));
      return card;
    }),
  );
}

function table(headers: string[], rows: string[][], attrs: Record<string, string> = {}): HTMLElement {
  const t = el('table', undefined, attrs);
  const head = el('tr');
  head.append(...headers.map((h) => el('th', h)));
  t.append(head);
  for (const row of rows) {
    const tr = el('tr');
    tr.append(...row.map((cell) => el('td', cell)));
    t.append(tr);
  }
  return t;
}

function groups(data: DashboardData): void {
  const section = $('groups');
  section.replaceChildren();
  for (const [title, group] of [
    ['Language', data.byLanguage],
    ['Model', data.byModel],
    ['Adapter', data.byAdapter],
  ] as const) {
    const rows = Object.entries(group).map(([name, s]) => [
      name,
      String(s.shown),
      pct(s.acceptanceRate),
      pct(s.retention),
      ms(s.latencyP50),
      ms(s.latencyP95),
      rate(s.tokensPerSecond),
    ]);
    if (rows.length === 0) continue;
    section.append(
      table([title, 'Shown', 'Acceptance', 'Retained', 'p50', 'p95', 'Tokens/s'], rows, { 'data-group': title.toLowerCase() }),
    );
  }
  if (!section.hasChildNodes()) section.append(el('p', 'Nothing recorded in this range yet.'));
}

const bars = uPlot.paths.bars!({ size: [0.6, 60] });

function categorical(id: string, labels: string[], series: Array<{ label: string; values: Array<number | null>; stroke: string }>): void {
  chart(
    id,
    {
      scales: { x: { time: false, range: [-0.5, labels.length - 0.5] } },
      axes: [{ values: (_u, ticks) => ticks.map((t) => labels[Math.round(t)] ?? ''), incrs: [1] }, {}],
      series: [
        {},
        ...series.map((s) => ({ label: s.label, stroke: s.stroke, fill: s.stroke + '66', paths: bars, points: { show: false } })),
      ],
    },
    [labels.map((_, i) => i), ...series.map((s) => s.values)],
  );
}

function benchmark(data: DashboardData): void {
  const status = $('benchmark-status');
  const p = data.benchmarkProgress;
  status.textContent = p ? `Running: ${p.label} (${p.done + 1} of ${p.total})… ` : '';
  if (p) status.append(cancelButton());
  const body = $('benchmark-body');
  body.replaceChildren();
  const b = data.benchmark;
  if (!b) {
    body.append(el('p', 'No benchmark yet. "Benchmark This Machine" measures the configured model here.'));
    return;
  }
  const run = b.run;
  const head = `${run.model}${run.adapter ? ` + ${run.adapter}` : ''} · ${run.backend} · context ${run.contextSize} · Enclave ${run.enclaveVersion} · ${new Date(run.at).toLocaleString()}`;
  body.append(el('p', head));
  if (run.partial)
    body.append(
      el('p', 'Partial: the run did not finish; only the cases below were measured.', { class: 'warning', 'data-partial': 'true' }),
    );
  for (const note of run.notes) body.append(el('p', note, { class: 'note' }));
  const compare = b.previous ? `vs ${new Date(b.previous.at).toLocaleString()}` : 'vs last run';
  const rows = run.cases.map((c) => {
    const cmp = b.comparison.find((x) => x.id === c.id);
    return [
      c.label,
      c.promptTokens === undefined ? '–' : String(c.promptTokens),
      rate(c.promptTokensPerSecond),
      ms(c.firstTokenMs),
      rate(c.decodeTokensPerSecond),
      ms(c.latencyMs),
      rate(c.aggregateTokensPerSecond),
      c.draftAccepted === undefined ? '–' : `${c.draftAccepted}/${c.draftAccepted + (c.draftRejected ?? 0)}`,
      cmp?.ratio === undefined ? '–' : `${cmp.ratio >= 1 ? '+' : ''}${((cmp.ratio - 1) * 100).toFixed(0)} %`,
      c.note ?? '',
    ];
  });
  body.append(
    table(
      ['Case', 'Prompt tokens', 'Prompt tok/s', 'First token', 'Decode tok/s', 'Latency', 'Total tok/s', 'Draft accepted', compare, 'Note'],
      rows,
      { id: 'benchmark-table' },
    ),
  );
  const values = b.comparison.map((c) => c.current ?? null);
  categorical(
    'chart-benchmark',
    b.comparison.map((c) => c.label),
    [
      { label: 'This run (tok/s)', values, stroke: '#3794ff' },
      { label: 'Last run (tok/s)', values: b.comparison.map((c) => c.previous ?? null), stroke: '#888888' },
    ],
  );
}

function evaluation(data: DashboardData): void {
  const status = $('evaluation-status');
  const p = data.evaluationProgress;
  status.textContent = p ? `Running: ${p.label} (${p.done + 1} of ${p.total})… ` : '';
  if (p) status.append(cancelButton());
  const body = $('evaluation-body');
  body.replaceChildren();
  const e = data.evaluation;
  if (!e) {
    body.append(
      el('p', 'No evaluation yet. "Evaluate on This Repository" compares the model with and without each adapter on your own files.'),
    );
    return;
  }
  body.append(
    el(
      'p',
      `${e.model} · ${e.cases} cases (${e.byKind.line} line, ${e.byKind.span} span, ${e.byKind.block} block) from ${e.files} files · seed ${e.seed} · ${new Date(e.at).toLocaleString()}`,
    ),
  );
  body.append(el('p', e.verdict, { class: 'verdict', id: 'evaluation-verdict' }));
  if (e.partial) body.append(el('p', 'Partial: the evaluation did not finish.', { class: 'warning', 'data-partial': 'true' }));
  for (const note of e.notes) body.append(el('p', note, { class: 'note' }));
  const rows = e.scores.map((s) => [
    s.label,
    String(s.cases),
    pct(s.exactMatch),
    pct(s.similarity),
    ms(s.latencyP50),
    ms(s.latencyP95),
    String(s.failed),
  ]);
  body.append(
    table(['Configuration', 'Cases', 'Exact match', 'Edit similarity', 'Latency p50', 'Latency p95', 'Failed'], rows, {
      id: 'evaluation-table',
    }),
  );
  categorical(
    'chart-evaluation',
    e.scores.map((s) => s.label),
    [
      { label: 'Exact match %', values: e.scores.map((s) => s.exactMatch * 100), stroke: '#3794ff' },
      { label: 'Edit similarity %', values: e.scores.map((s) => s.similarity * 100), stroke: '#89d185' },
    ],
  );
}

function cancelButton(): HTMLElement {
  const button = el('button', 'Cancel', { class: 'secondary' });
  button.addEventListener('click', () => post({ type: 'command', command: 'cancel' }));
  return button;
}

function render(data: DashboardData): void {
  ($('range') as HTMLSelectElement).value = data.range;
  const notice = $('notice');
  notice.hidden = data.enabled;
  notice.textContent = data.enabled ? '' : 'Recording is off (enclave.metrics.enabled): what is shown was recorded before.';
  cards(data.summary);
  const x = data.timeline.map((p) => p.t / 1000);
  chart('chart-activity', { series: [{}, { label: 'Shown', stroke: '#3794ff' }, { label: 'Accepted', stroke: '#89d185' }] }, [
    x,
    data.timeline.map((p) => p.shown),
    data.timeline.map((p) => p.accepted),
  ]);
  chart(
    'chart-latency',
    {
      series: [
        {},
        { label: 'p95', stroke: '#cca700', spanGaps: true },
        { label: `SLO ${data.slo.completionP95Ms} ms`, stroke: '#f14c4c', dash: [6, 4], points: { show: false } },
      ],
    },
    [x, data.timeline.map((p) => p.latencyP95 ?? null), x.map(() => data.slo.completionP95Ms)],
  );
  groups(data);
  benchmark(data);
  evaluation(data);
  document.body.dataset.rendered = String(Date.now());
}

window.addEventListener('message', (event: MessageEvent) => {
  const message = event.data as { type?: string; data?: DashboardData };
  if (message?.type === 'data' && message.data) render(message.data);
});
$('range').addEventListener('change', () => post({ type: 'range', range: ($('range') as HTMLSelectElement).value as RangeId }));
$('export-csv').addEventListener('click', () => post({ type: 'export', format: 'csv' }));
$('export-json').addEventListener('click', () => post({ type: 'export', format: 'json' }));
$('run-benchmark').addEventListener('click', () => post({ type: 'command', command: 'benchmark' }));
$('run-evaluate').addEventListener('click', () => post({ type: 'command', command: 'evaluate' }));
$('clear').addEventListener('click', () => post({ type: 'command', command: 'clear' }));
post({ type: 'ready' });
