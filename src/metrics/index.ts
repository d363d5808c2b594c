// Local metrics: the dashboard, clearing, "Benchmark This Machine" and "Evaluate on This Repository".
// The recorder (recorder.ts) is created by the composition root before the features, which it observes.
import * as os from 'node:os';
import * as path from 'node:path';

import * as vscode from 'vscode';

import { engineSettings } from '../backendChoice';
import type { EnclaveContext } from '../context';
import { EngineClient } from '../engine/client';
import type { Backend } from '../engine/protocol';
import { errorMessage } from '../util';
import { compareRuns, runBenchmark, validateBenchmarks, type BenchmarkRun } from './benchmark';
import { Dashboard, type DashboardSource } from './dashboard';
import { dashboardData, eventsToCsv, RANGES, type Progress } from './dashboardData';
import { validateEvaluations, type Evaluation } from './evaluate';
import { evaluateRepository } from './repository';
import type { MetricsRecorder } from './recorder';
import { RunsFile } from './runs';

/** `raw` is the backend without metering: the benchmark and the evaluation do not count as use. */
export function registerMetrics(ctx: EnclaveContext, recorder: MetricsRecorder, raw: Backend): vscode.Disposable {
  const log = ctx.log.for('metrics');
  const storage = ctx.extension.globalStorageUri.fsPath;
  const setAside = (what: string) => (result: { setAsidePath: string; reason: string }) =>
    void vscode.window.showWarningMessage(
      `Enclave could not read its ${what} (${result.reason}). It was kept as ${path.basename(result.setAsidePath)} and a new one started.`,
    );
  const benchmarks = new RunsFile<BenchmarkRun>(
    path.join(storage, 'benchmarks.json'),
    validateBenchmarks,
    20,
    setAside('benchmark results'),
  );
  const evaluations = new RunsFile<Evaluation>(
    path.join(storage, 'evaluations.json'),
    validateEvaluations,
    20,
    setAside('evaluation results'),
  );
  const changed = new vscode.EventEmitter<void>();
  const state: {
    benchmark?: { last: BenchmarkRun; previous?: BenchmarkRun };
    evaluation?: Evaluation;
    benchmarkProgress?: Progress;
    evaluationProgress?: Progress;
    running?: AbortController;
  } = {};
  const loadRuns = Promise.all([benchmarks.latest(), evaluations.latest()]).then(
    ([b, e]) => {
      if (b.last) state.benchmark = { last: b.last, previous: b.previous };
      state.evaluation = e.last;
      changed.fire();
    },
    (err: unknown) => log.warn(`kept results not read: ${errorMessage(err)}`),
  );
  const version = String((ctx.extension.extension?.packageJSON as { version?: string } | undefined)?.version ?? 'unknown');

  const source: DashboardSource = {
    data: (range) =>
      dashboardData(recorder.store, range, Date.now(), {
        enabled: ctx.config.metrics.enabled,
        slo: { completionP95Ms: ctx.config.metrics.completionP95Ms },
        benchmark: state.benchmark && {
          run: state.benchmark.last,
          comparison: compareRuns(state.benchmark.last, state.benchmark.previous),
          previous: state.benchmark.previous,
        },
        benchmarkProgress: state.benchmarkProgress,
        evaluation: state.evaluation,
        evaluationProgress: state.evaluationProgress,
      }),
    onDidChange: (listener) => vscode.Disposable.from(recorder.onDidChange(listener), changed.event(listener)),
    handle: async (message, range) => {
      if (message.type === 'export') return exportMetrics(message.format, range);
      const command = {
        benchmark: 'enclave.metrics.benchmark',
        evaluate: 'enclave.metrics.evaluate',
        clear: 'enclave.metrics.clear',
      } as const;
      if (message.command === 'cancel') return state.running?.abort();
      return vscode.commands.executeCommand(command[message.command]);
    },
  };
  const dashboard = new Dashboard(ctx.extension.extensionUri, source, log);

  async function exportMetrics(format: 'csv' | 'json', range: keyof typeof RANGES): Promise<void> {
    const from = Date.now() - RANGES[range];
    const target = await vscode.window.showSaveDialog({
      title: 'Export Enclave metrics',
      defaultUri: vscode.Uri.file(path.join(vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? storage, `enclave-metrics.${format}`)),
      filters: format === 'csv' ? { CSV: ['csv'] } : { JSON: ['json'] },
    });
    if (!target) return;
    const events = recorder.store.eventsBetween(from);
    const text =
      format === 'csv'
        ? eventsToCsv(events)
        : JSON.stringify(
            {
              exportedAt: new Date().toISOString(),
              range,
              summary: recorder.store.summary(from),
              events,
              benchmarks: await benchmarks.all(),
              evaluations: await evaluations.all(),
            },
            null,
            2,
          );
    await vscode.workspace.fs.writeFile(target, Buffer.from(text, 'utf8'));
    void vscode.window.showInformationMessage(`Enclave: metrics exported to ${target.fsPath}`);
  }

  /** Runs `work` with a cancellable notification; the dashboard shows its progress too. */
  async function withRun<T>(
    title: string,
    key: 'benchmarkProgress' | 'evaluationProgress',
    work: (signal: AbortSignal, progress: (p: Progress) => void) => Promise<T>,
  ): Promise<T | undefined> {
    if (state.running) {
      void vscode.window.showWarningMessage('Enclave: a benchmark or evaluation is already running.');
      return undefined;
    }
    const controller = new AbortController();
    state.running = controller;
    dashboard.show();
    try {
      return await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title, cancellable: true },
        (progress, token) => {
          token.onCancellationRequested(() => controller.abort());
          let reported = 0;
          return work(controller.signal, (p) => {
            state[key] = p;
            changed.fire();
            const percent = (p.done / Math.max(1, p.total)) * 100;
            progress.report({ message: p.label, increment: percent - reported });
            reported = percent;
          });
        },
      );
    } finally {
      state.running = undefined;
      state[key] = undefined;
      changed.fire();
    }
  }

  const commands: Record<string, () => Promise<unknown>> = {
    'enclave.metrics.show': async () => {
      dashboard.show();
      await loadRuns;
    },
    'enclave.metrics.clear': async () => {
      const choice = await vscode.window.showWarningMessage(
        "Clear all of Enclave's local metrics? Benchmark and evaluation results are kept.",
        { modal: true },
        'Clear',
      );
      if (choice !== 'Clear') return;
      await recorder.clear();
      void vscode.window.showInformationMessage('Enclave: metrics cleared.');
    },
    'enclave.metrics.benchmark': async () => {
      await loadRuns;
      const run = await withRun('Enclave: benchmarking this machine', 'benchmarkProgress', (signal, progress) =>
        runBenchmark(raw, { enclaveVersion: version, signal, onProgress: (done, total, label) => progress({ done, total, label }) }),
      );
      if (!run) return;
      const previous = state.benchmark?.last;
      await benchmarks.add(run);
      state.benchmark = { last: run, previous };
      changed.fire();
      log.info(`benchmark ${run.partial ? '(partial) ' : ''}: ${run.cases.length} cases`);
      if (run.partial)
        void vscode.window.showWarningMessage(
          `Enclave: the benchmark did not finish (${run.notes.join('; ')}). What was measured is kept, marked partial.`,
        );
    },
    'enclave.metrics.evaluate': async () => {
      await loadRuns;
      const folder = vscode.workspace.workspaceFolders?.[0];
      if (!folder) return void vscode.window.showInformationMessage('Enclave: open a folder to evaluate the model on its files.');
      const evaluation = await withRun('Enclave: evaluating on this repository', 'evaluationProgress', (signal, progress) =>
        evaluateRepository(raw, {
          root: folder.uri.fsPath,
          storage,
          adapterFolders: ctx.config.adapters.folders,
          trusted: ctx.trusted(),
          signal,
          onProgress: (done, total, label) => progress({ done, total, label }),
          openModel: (modelPath) => {
            // The other profile's model in an engine of its own, with this machine's engine settings.
            const choice = engineSettings(ctx.config.snapshot, {
              trusted: ctx.trusted(),
              workspaceFolders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
              cores: os.availableParallelism(),
            });
            const settings = { ...choice.local.completion, modelPath, draftModelPath: undefined, adapters: [] };
            return new EngineClient(settings, log, { workerPath: path.join(ctx.extension.extensionPath, 'dist', 'worker.js') });
          },
        }),
      );
      if (!evaluation) return;
      if ('noSources' in evaluation) return void vscode.window.showWarningMessage(`Enclave: ${evaluation.noSources}`);
      await evaluations.add(evaluation);
      state.evaluation = evaluation;
      changed.fire();
    },
  };
  return vscode.Disposable.from(
    dashboard,
    changed,
    ...Object.entries(commands).map(([id, handler]) =>
      vscode.commands.registerCommand(id, async () => {
        try {
          return await handler();
        } catch (err) {
          log.error(`${id}: ${errorMessage(err)}`);
          void vscode.window.showErrorMessage(`Enclave: ${errorMessage(err)}`);
          return undefined;
        }
      }),
    ),
  );
}
