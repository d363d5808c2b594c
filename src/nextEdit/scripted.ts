// A predictor that follows a script instead of a model: for testing the presentation's mechanics
// (Tab, Escape, undo, invalidation) with edits known in advance. Selected only when the extension
// runs in development or test mode (never from an installed VSIX) and the test names a script.
import type { NextEditPredictor, NextEditRequest, NextEditSuggestion, Position } from './types';

export interface ScriptRule {
  /** The rule applies once the document contains this text (typically what the test just typed). */
  when: string;
  /** Text to replace: its first occurrence in the document. */
  find: string;
  replace: string;
}

export interface Script {
  rules: ScriptRule[];
  /** Simulated model latency (aborted like a real request). */
  delayMs?: number;
}

export function parseScript(json: string): Script {
  const value = JSON.parse(json) as Partial<Script>;
  const rules = Array.isArray(value.rules) ? value.rules : [];
  for (const rule of rules) {
    if (typeof rule?.when !== 'string' || typeof rule.find !== 'string' || typeof rule.replace !== 'string' || rule.find === '')
      throw new Error('a next-edit script rule needs the strings when, find (non-empty) and replace');
  }
  return { rules, delayMs: typeof value.delayMs === 'number' ? value.delayMs : 0 };
}

export class ScriptedPredictor implements NextEditPredictor {
  /** Every request, newest last (the in-host suite reads them). */
  readonly requests: NextEditRequest[] = [];
  recorded = 0;

  constructor(private readonly script: Script) {}

  recordChange(): void {
    this.recorded++;
  }

  async predict(request: NextEditRequest, signal: AbortSignal): Promise<NextEditSuggestion | undefined> {
    this.requests.push(request);
    if (this.script.delayMs) await abortableDelay(this.script.delayMs, signal);
    if (signal.aborted) return undefined;
    for (const rule of this.script.rules) {
      // Once the replacement is in the document the scripted edit is done: nothing to suggest.
      if (!request.text.includes(rule.when) || request.text.includes(rule.replace)) continue;
      const offset = request.text.indexOf(rule.find);
      if (offset < 0) continue;
      const start = positionAt(request.text, offset);
      const end = positionAt(request.text, offset + rule.find.length);
      return { uri: request.uri, version: request.version, edits: [{ range: { start, end }, newText: rule.replace }] };
    }
    return undefined;
  }

  dispose(): void {}
}

function positionAt(text: string, offset: number): Position {
  const before = text.slice(0, offset);
  const line = before.split('\n').length - 1;
  return { line, character: offset - (before.lastIndexOf('\n') + 1) };
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}
