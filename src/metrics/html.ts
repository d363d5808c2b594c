// The metrics dashboard's page: the chat's rules (strict CSP with a fresh nonce, local resources
// only, no inline script or style). Pure, so a test can check what VS Code shows.
import { escapeAttribute, webviewPageHead } from '../chat/html';

export interface DashboardResources {
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
}

export function renderDashboardHtml(r: DashboardResources): string {
  return `${webviewPageHead(r, 'Enclave Metrics')}<body>
<header class="toolbar" role="toolbar" aria-label="Metrics">
  <label>Range
    <select id="range">
      <option value="hour">Last hour</option>
      <option value="day" selected>Last 24 hours</option>
      <option value="week">Last 7 days</option>
      <option value="month">Last 30 days</option>
      <option value="all">Everything kept</option>
    </select>
  </label>
  <span class="spacer"></span>
  <button id="export-csv" class="secondary">Export CSV</button>
  <button id="export-json" class="secondary">Export JSON</button>
  <button id="run-benchmark">Benchmark This Machine</button>
  <button id="run-evaluate">Evaluate on This Repository</button>
  <button id="clear" class="secondary">Clear</button>
</header>
<div id="notice" role="status" hidden></div>
<main>
  <section aria-label="Completions"><h2>Completions</h2><div id="cards" class="cards"></div></section>
  <section aria-label="Charts" class="charts">
    <figure><figcaption>Shown and accepted</figcaption><div id="chart-activity" class="chart"></div></figure>
    <figure><figcaption>Latency p95 (ms) and the SLO</figcaption><div id="chart-latency" class="chart"></div></figure>
  </section>
  <section aria-label="By language, model and adapter"><h2>By language, model and adapter</h2><div id="groups"></div></section>
  <section id="benchmark" aria-label="Benchmark"><h2>Benchmark This Machine</h2><div id="benchmark-status" role="status"></div><div id="benchmark-body"></div><div id="chart-benchmark" class="chart"></div></section>
  <section id="evaluation" aria-label="Evaluation"><h2>Evaluate on This Repository</h2><div id="evaluation-status" role="status"></div><div id="evaluation-body"></div><div id="chart-evaluation" class="chart"></div></section>
</main>
<script nonce="${r.nonce}" src="${escapeAttribute(r.scriptUri)}"></script>
</body>
</html>`;
}
