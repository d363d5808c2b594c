// Local metrics: the dashboard, clearing, "Benchmark This Machine" and "Evaluate on This Repository".
// The recorder (recorder.ts) is created by the composition root before the features, which it observes.
import * as vscode from 'vscode';

import type { EnclaveContext } from '../context';
import type { Backend } from '../engine/protocol';
import type { MetricsRecorder } from './recorder';

/** `raw` is the backend without metering: the benchmark and the evaluation do not count as use. */
export function registerMetrics(ctx: EnclaveContext, recorder: MetricsRecorder, raw: Backend): vscode.Disposable {
  void raw;
  const commands: Record<string, () => unknown> = {
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
  };
  return vscode.Disposable.from(...Object.entries(commands).map(([id, handler]) => vscode.commands.registerCommand(id, handler)));
}
