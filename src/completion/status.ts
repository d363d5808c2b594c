// What the status bar item says, from plain state (the vscode item in statusBar.ts only paints it).
import type { EngineMetrics, EngineState } from '../engine/protocol';

export interface StatusView {
  /** Undefined until the engine has been asked for anything (it starts on first use). */
  engine?: EngineState;
  modelName?: string;
  enabled: boolean;
  /** Whether completions are on for the active editor's language. */
  languageEnabled: boolean;
  languageId?: string;
  generating: boolean;
  lastLatencyMs?: number;
  tokensPerSecond?: number;
  /** The last completion error (e.g. a model without FIM tokens). */
  error?: string;
}

export interface StatusText {
  text: string;
  tooltip: string;
  severity: 'normal' | 'warning' | 'error';
}

function shorten(name: string, max = 40): string {
  return name.length <= max ? name : name.slice(0, max - 1) + '…';
}

export function formatStatus(view: StatusView): StatusText {
  const model = view.modelName ? shorten(view.modelName) : 'Enclave';
  const engine = view.engine;
  if (engine?.kind === 'error' || engine?.kind === 'crashed') {
    const restart =
      engine.kind === 'crashed' && engine.restartInMs !== undefined ? ` Restarting in ${Math.round(engine.restartInMs / 1000)} s.` : '';
    return { text: `$(error) Enclave: ${engine.kind}`, tooltip: `${engine.message}${restart}\nClick for the menu.`, severity: 'error' };
  }
  if (!view.enabled)
    return { text: '$(circle-slash) Enclave', tooltip: 'Inline completions are off. Click to turn them on.', severity: 'normal' };
  if (engine?.kind === 'starting')
    return { text: '$(loading~spin) Enclave: starting', tooltip: 'Starting the engine…', severity: 'normal' };
  if (engine?.kind === 'loading') {
    const percent = Math.round(Math.min(1, Math.max(0, engine.progress)) * 100);
    return { text: `$(loading~spin) Enclave: loading ${percent}%`, tooltip: `Loading ${engine.file}`, severity: 'normal' };
  }
  if (view.error) return { text: `$(warning) ${model}`, tooltip: view.error, severity: 'warning' };
  const language = view.languageId ? ` for ${view.languageId}` : '';
  if (!view.languageEnabled)
    return { text: `$(circle-slash) ${model}`, tooltip: `Inline completions are off${language}.`, severity: 'normal' };
  if (!engine || engine.kind === 'stopped')
    return { text: '$(sparkle) Enclave', tooltip: 'The engine starts when the first completion is needed.', severity: 'normal' };
  const icon = view.generating ? '$(loading~spin)' : '$(sparkle)';
  const parts = [`${icon} ${model}`];
  if (view.lastLatencyMs !== undefined) parts.push(`${Math.round(view.lastLatencyMs)} ms`);
  if (view.tokensPerSecond !== undefined && view.tokensPerSecond > 0) parts.push(`${view.tokensPerSecond.toFixed(0)} tok/s`);
  return {
    text: parts.join(' · '),
    tooltip: `${view.modelName ?? 'Model'} is ready${view.generating ? ' (generating)' : ''}. Click for the menu.`,
    severity: 'normal',
  };
}

/**
 * The status menu's line on speculative decoding: how many drafted tokens the model accepted and
 * the measured speed-up over plain decoding; undefined before anything was drafted.
 */
export function formatSpeculative(metrics: Pick<EngineMetrics, 'draftAccepted' | 'draftRejected' | 'draftSpeedUp'>): string | undefined {
  const drafted = metrics.draftAccepted + metrics.draftRejected;
  if (drafted === 0) return undefined;
  const percent = Math.round((metrics.draftAccepted / drafted) * 100);
  const speedUp = metrics.draftSpeedUp !== undefined ? `, ${metrics.draftSpeedUp.toFixed(2)}× plain decoding` : '';
  return `${percent} % of ${drafted} drafted tokens accepted${speedUp}`;
}
