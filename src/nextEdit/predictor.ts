import type { Backend } from '../engine/protocol';
import type { NextEditPredictor } from './types';

/**
 * The predictor the editor uses: edit history, the model's prompt format, the engine, and the
 * model's rewrite turned into minimal edits. (Placeholder until the prediction core lands: it never
 * suggests anything.)
 */
export function createNextEditPredictor(_backend: () => Backend): NextEditPredictor {
  return {
    recordChange: () => undefined,
    predict: async () => undefined,
    dispose: () => undefined,
  };
}
