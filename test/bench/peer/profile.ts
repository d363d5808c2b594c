// Where Enclave's time goes per keystroke, measured in a side run of the engine in process
// (EngineRuntime, the code the engine process runs) on the same trace, with timestamps around
// node-llama-cpp's native calls: tokenize, batch decode (prompt vs one generated token), sampling
// over the vocabulary, detokenize; the rest of the engine's time is its own JavaScript and event-loop
// waits. The IPC hop and the core's own time come from the main run (enclaveBreakdownMs).
// Variants try context options as they would be set in runtime.ts createContexts — injected here
// through LlamaModel.prototype.createContext, nothing in src/ is changed.
import { join } from 'node:path';

import { CompletionCore, defaultCompletionSettings } from '../../../src/completion/core';
import { buildPrompt, CharsPerTokenEstimator, type WindowHint } from '../../../src/completion/prompt';
import { fimTemplate } from '../../../src/completion/templates';
import type { Backend, EngineSettings } from '../../../src/engine/protocol';
import { EngineRuntime, loadNodeLlamaCpp } from '../../../src/engine/runtime';
import { mean, percentile } from './stats';
import { makeTrace, sourceFiles } from './traces';

export interface ProfileOptions {
  root: string;
  modelPath: string;
  binary: string;
  keys: number;
  nPredict: number;
  context: number;
  ubatch: number;
}

interface Counters {
  tokenizeMs: number;
  tokenizeCalls: number;
  detokenizeMs: number;
  detokenizeCalls: number;
  promptDecodeMs: number;
  promptDecodeCalls: number;
  promptDecodeTokens: number;
  tokenDecodeMs: number;
  tokenDecodeCalls: number;
  sampleMs: number;
  sampleCalls: number;
  eraseMs: number;
}

const zero = (): Counters => ({
  tokenizeMs: 0,
  tokenizeCalls: 0,
  detokenizeMs: 0,
  detokenizeCalls: 0,
  promptDecodeMs: 0,
  promptDecodeCalls: 0,
  promptDecodeTokens: 0,
  tokenDecodeMs: 0,
  tokenDecodeCalls: 0,
  sampleMs: 0,
  sampleCalls: 0,
  eraseMs: 0,
});

type AnyFn = (...a: unknown[]) => unknown;

/** Replaces a method on one object (native objects' prototype methods are read-only: define, not assign). */
function patch(target: Record<string, AnyFn>, name: string, wrap: (original: AnyFn) => AnyFn): void {
  const original = (target[name] as AnyFn).bind(target);
  Object.defineProperty(target, name, { value: wrap(original), configurable: true, writable: true });
}

/** Wraps the native calls of the runtime's context and model with timers (scratch instrumentation). */
function instrument(runtime: EngineRuntime, c: Counters): void {
  const internals = runtime as unknown as {
    context: { _ctx: Record<string, AnyFn> };
    model: Record<string, AnyFn>;
    slots: { slots: Array<{ seq: Record<string, AnyFn> }> };
  };
  const addon = internals.context._ctx;
  let batchTokens = 0;
  patch(addon, 'initBatch', (initBatch) => (...a) => {
    batchTokens = 0;
    return initBatch(...a);
  });
  patch(addon, 'addToBatch', (addToBatch) => (...a) => {
    batchTokens += (a[2] as Uint32Array).length;
    return addToBatch(...a);
  });
  patch(addon, 'decodeBatch', (decodeBatch) => async (...a) => {
    const tokens = batchTokens;
    const started = performance.now();
    try {
      return await decodeBatch(...a);
    } finally {
      const ms = performance.now() - started;
      if (tokens > 1) {
        c.promptDecodeMs += ms;
        c.promptDecodeCalls++;
        c.promptDecodeTokens += tokens;
      } else {
        c.tokenDecodeMs += ms;
        c.tokenDecodeCalls++;
      }
    }
  });
  patch(addon, 'sampleToken', (sampleToken) => async (...a) => {
    const started = performance.now();
    try {
      return await sampleToken(...a);
    } finally {
      c.sampleMs += performance.now() - started;
      c.sampleCalls++;
    }
  });
  const model = internals.model;
  patch(model, 'tokenize', (tokenize) => (...a) => {
    const started = performance.now();
    try {
      return tokenize(...a);
    } finally {
      c.tokenizeMs += performance.now() - started;
      c.tokenizeCalls++;
    }
  });
  patch(model, 'detokenize', (detokenize) => (...a) => {
    const started = performance.now();
    try {
      return detokenize(...a);
    } finally {
      c.detokenizeMs += performance.now() - started;
      c.detokenizeCalls++;
    }
  });
  for (const slot of internals.slots.slots) {
    patch(slot.seq, 'eraseContextTokenRanges', (erase) => async (...a) => {
      const started = performance.now();
      try {
        return await erase(...a);
      } finally {
        c.eraseMs += performance.now() - started;
      }
    });
  }
}

function asBackend(runtime: EngineRuntime): Backend {
  return {
    kind: 'local',
    info: () => runtime.info(),
    completeFim: (r, o) => runtime.completeFim(r, o),
    chat: (r, o) => runtime.chat(r, o),
    generateStructured: (r, o) => runtime.generateStructured(r, o),
    countTokens: (t) => runtime.countTokens(t),
    setAdapters: (a) => runtime.setAdapters(a),
    metrics: () => runtime.metrics(),
    onState: () => () => {},
    dispose: () => runtime.dispose(),
  };
}

interface Variant {
  name: string;
  fix: string;
  context: Record<string, unknown>;
}

const variants: Variant[] = [
  { name: 'as shipped', fix: '-', context: {} },
  {
    name: 'dispatch decodes at once',
    fix: "runtime.ts createContexts: model.createContext({ ..., batching: { dispatchSchedule: (dispatch) => dispatch() } }) — node-llama-cpp's default 'nextCycle' waits a setImmediate before every decode, i.e. once per generated token",
    context: { batching: { dispatchSchedule: (dispatch: () => void) => dispatch() } },
  },
  {
    name: 'flash attention on',
    fix: 'runtime.ts createContexts: model.createContext({ ..., flashAttention: true })',
    context: { flashAttention: true },
  },
];

async function loadVariant(o: ProfileOptions, variant: Variant): Promise<EngineRuntime> {
  const nlc = await loadNodeLlamaCpp();
  const proto = nlc.LlamaModel.prototype as unknown as { createContext: (options: Record<string, unknown>) => unknown };
  const original = proto.createContext;
  proto.createContext = function (this: unknown, options: Record<string, unknown>) {
    return original.call(this, { ...options, ...variant.context });
  };
  const settings: EngineSettings = {
    modelPath: o.modelPath,
    speculative: 'off',
    contextSize: o.context,
    sequences: 4,
    threads: 1,
    batchSize: o.ubatch,
    gpu: 'cpu',
    adapters: [],
  };
  try {
    return await EngineRuntime.load(settings);
  } finally {
    proto.createContext = original;
  }
}

interface CallRecord {
  wallMs: number;
  engineMs: number;
  ttftMs: number;
  generated: number;
  evaluated: number;
  overheadMs: number;
}

/** All variants loaded side by side and driven keystroke by keystroke in rotating order (the machine's load hits all alike). */
async function runVariants(o: ProfileOptions) {
  const runs: Array<{
    variant: Variant;
    runtime: EngineRuntime;
    counters: Counters;
    warm?: Counters;
    core: CompletionCore;
    calls: CallRecord[];
  }> = [];
  try {
    for (const variant of variants) {
      const runtime = await loadVariant(o, variant);
      const counters = zero();
      instrument(runtime, counters);
      const backend = asBackend(runtime);
      const completion = {
        ...defaultCompletionSettings,
        maxTokens: o.nPredict,
        maxTimeMs: 60_000,
        debounceMs: 0,
        extraContext: false,
        speculative: 'off' as const,
      };
      runs.push({
        variant,
        runtime,
        counters,
        core: new CompletionCore({ backend: () => backend, settings: () => completion, prefetchAccepted: false }),
        calls: [],
      });
    }
    const file = sourceFiles(o.root)[0];
    const trace = makeTrace(file, o.keys + 1);
    for (const [i, key] of trace.keystrokes.entries()) {
      for (let j = 0; j < runs.length; j++) {
        const run = runs[(i + j) % runs.length];
        if (i === 1) run.warm = { ...run.counters };
        const started = performance.now();
        const outcome = await run.core.provide({
          text: key.text,
          offset: key.offset,
          languageId: file.languageId,
          uri: trace.uri,
          path: file.name,
          trigger: 'automatic',
        });
        const wallMs = performance.now() - started;
        if (i > 0 && outcome.source === 'model' && outcome.stats) {
          const st = outcome.stats;
          run.calls.push({
            wallMs,
            engineMs: st.totalMs,
            ttftMs: st.timeToFirstTokenMs,
            generated: st.generatedTokens,
            evaluated: st.evaluatedTokens,
            overheadMs: outcome.overheadMs,
          });
        }
      }
    }
    return runs.map(({ variant, counters, warm, calls }) => summarizeVariant(variant, counters, warm ?? zero(), calls));
  } finally {
    for (const run of runs) {
      run.core.dispose();
      await run.runtime.dispose();
    }
  }
}

function summarizeVariant(variant: Variant, counters: Counters, base: Counters, calls: CallRecord[]) {
  // Per warm model call (the cold first keystroke left out).
  const n = Math.max(1, calls.length);
  const per = (k: keyof Counters) => (counters[k] - base[k]) / n;
  const engineMs = mean(calls.map((c) => c.engineMs));
  const nativeMs =
    per('tokenizeMs') + per('detokenizeMs') + per('promptDecodeMs') + per('tokenDecodeMs') + per('sampleMs') + per('eraseMs');
  const generated = mean(calls.map((c) => c.generated));
  const tokenCalls = counters.tokenDecodeCalls - base.tokenDecodeCalls;
  const sampleCalls = counters.sampleCalls - base.sampleCalls;
  return {
    variant: variant.name,
    fix: variant.fix,
    modelCalls: calls.length,
    perKeystroke: {
      wallMedianMs: percentile(
        calls.map((c) => c.wallMs),
        50,
      ),
      wallP95Ms: percentile(
        calls.map((c) => c.wallMs),
        95,
      ),
      engineMeanMs: engineMs,
      engineMedianMs: percentile(
        calls.map((c) => c.engineMs),
        50,
      ),
      coreOverheadMs: mean(calls.map((c) => c.overheadMs)),
    },
    perModelCallMs: {
      tokenize: per('tokenizeMs'),
      promptDecode: per('promptDecodeMs'),
      promptDecodeTokens: per('promptDecodeTokens'),
      eraseKv: per('eraseMs'),
      tokenDecode: per('tokenDecodeMs'),
      sampling: per('sampleMs'),
      detokenize: per('detokenizeMs'),
      engineJsAndWaits: engineMs - nativeMs,
    },
    perGeneratedToken: {
      generated,
      decodeMs: tokenCalls > 0 ? (counters.tokenDecodeMs - base.tokenDecodeMs) / tokenCalls : NaN,
      sampleMs: sampleCalls > 0 ? (counters.sampleMs - base.sampleMs) / sampleCalls : NaN,
      detokenizeCallsPerToken: generated > 0 ? per('detokenizeCalls') / generated : NaN,
      engineMsAfterFirst: mean(calls.filter((c) => c.generated > 1).map((c) => (c.engineMs - c.ttftMs) / (c.generated - 1))),
    },
    evaluatedPerCall: mean(calls.map((c) => c.evaluated)),
    evaluatedMedianPerCall: percentile(
      calls.map((c) => c.evaluated),
      50,
    ),
  };
}

export async function profileEnclave(o: ProfileOptions) {
  console.log(`profile: ${variants.length} variants × ${o.keys} keystrokes, engine in process with timers around native calls`);
  const results = await runVariants(o);
  for (const r of results) {
    console.log(
      `  ${r.variant.padEnd(26)} wall p50 ${r.perKeystroke.wallMedianMs.toFixed(1)} ms, engine ${r.perKeystroke.engineMeanMs.toFixed(1)} ms: ` +
        Object.entries(r.perModelCallMs)
          .map(([k, v]) => `${k} ${v.toFixed(1)}`)
          .join(', '),
    );
  }
  return {
    method:
      'EngineRuntime in this process (same code as the engine process), CompletionCore on top, the first trace file, one character per keystroke, ' +
      `n_predict ${o.nPredict}, threads 1, debounce 0; timers wrap node-llama-cpp's native AddonContext.decodeBatch / sampleToken, LlamaModel.tokenize / detokenize and ` +
      "eraseContextTokenRanges (instance-level wrappers in this process only). 'engineJsAndWaits' = engine total minus all wrapped calls: the runtime's and node-llama-cpp's JavaScript and event-loop waits. " +
      'Variants inject context options through LlamaModel.prototype.createContext for their runtime load only; all variants are loaded side by side and each keystroke goes to each in rotating order, one at a time.',
    workerPath: join(o.root, 'dist', 'worker.js'),
    variants: results,
  };
}

/** The estimator before windows were kept per document: an average converging from 3.2 over the calls. */
class AveragingEstimator {
  ratio = 3.2;
  estimate(text: string): number {
    return Math.ceil(text.length / this.ratio);
  }
  calibrate(chars: number, tokens: number): void {
    if (chars < 200 || tokens <= 0) return;
    this.ratio = this.ratio * 0.8 + Math.min(8, Math.max(1.5, chars / tokens)) * 0.2;
  }
}

/**
 * Prompt-window experiment (measured on the engine directly): the same keystrokes with three ways of
 * building the prompt, each on its own KV sequence and estimator, in rotating order — before (an
 * averaging estimator calibrating after every call, no window hint: the windows move while it
 * converges), as shipped (windows kept per document while they fit; before its first prompt the
 * estimator takes the model's token count of a draft outright, later calls move it slowly), and as shipped with the lines typed since an anchor line kept after
 * <|fim_middle|> (so Enter only appends, too).
 */
export async function windowExperiment(o: ProfileOptions) {
  const runtime = await EngineRuntime.load({
    modelPath: o.modelPath,
    speculative: 'off',
    contextSize: o.context,
    sequences: 4,
    threads: 1,
    batchSize: o.ubatch,
    gpu: 'cpu',
    adapters: [],
  });
  const template = fimTemplate('qwen');
  const kinds = ['before (averaging, no hint)', 'as shipped', 'as shipped + anchored lines'] as const;
  const rows: Record<(typeof kinds)[number], Array<{ ms: number; evaluated: number }>> = {
    'before (averaging, no hint)': [],
    'as shipped': [],
    'as shipped + anchored lines': [],
  };
  try {
    for (const file of sourceFiles(o.root).slice(0, 4)) {
      const trace = makeTrace(file, o.keys + 1);
      const averaging = new AveragingEstimator();
      const shippedEstimator = new CharsPerTokenEstimator();
      let hint: WindowHint | undefined;
      let anchor = -1;
      for (const [i, key] of trace.keystrokes.entries()) {
        const doc = { text: key.text, offset: key.offset, languageId: file.languageId, path: file.name, repoName: 'myproject', files: [] };
        const budget = { contextTokens: defaultCompletionSettings.contextTokens, extraTokens: 0 };
        const before = buildPrompt(template, doc, budget, averaging);
        if (!shippedEstimator.calibrated) {
          // As the core does before its first call: one tokenize call sizes the windows.
          const draft = buildPrompt(template, doc, budget, shippedEstimator).prompt;
          shippedEstimator.calibrate(draft.length, await runtime.countTokens(draft));
        }
        const shipped = buildPrompt(template, doc, budget, shippedEstimator, hint);
        hint = { startLine: shipped.windowStartLine, suffixLines: shipped.suffixLines };
        const lineStart = key.text.lastIndexOf('\n', key.offset - 1) + 1;
        const windowStart = lineStart - shipped.prefix.length;
        if (anchor < windowStart || anchor > lineStart || key.text.slice(anchor, key.offset).split('\n').length > 8) anchor = lineStart;
        const anchored = `<|fim_prefix|>${key.text.slice(windowStart, anchor)}<|fim_suffix|>${shipped.suffix}<|fim_middle|>${key.text.slice(anchor, key.offset)}`;
        const prompts = {
          'before (averaging, no hint)': before.prompt,
          'as shipped': shipped.prompt,
          'as shipped + anchored lines': anchored,
        };
        for (let j = 0; j < kinds.length; j++) {
          const kind = kinds[(i + j) % kinds.length];
          const started = performance.now();
          const r = await runtime.completeFim({
            documentKey: `${kind}:${file.name}`,
            prompt: prompts[kind],
            maxTokens: o.nPredict,
            stop: [...template.stop],
          });
          const ms = performance.now() - started;
          if (kind === 'before (averaging, no hint)') averaging.calibrate(before.prompt.length, r.stats.promptTokens);
          if (kind === 'as shipped') shippedEstimator.calibrate(shipped.prompt.length, r.stats.promptTokens);
          if (i > 0) rows[kind].push({ ms, evaluated: r.stats.evaluatedTokens });
        }
      }
    }
  } finally {
    await runtime.dispose();
  }
  const results = kinds.map((kind) => {
    const r = rows[kind];
    return {
      prompt: kind,
      requests: r.length,
      medianMs: percentile(
        r.map((x) => x.ms),
        50,
      ),
      p95Ms: percentile(
        r.map((x) => x.ms),
        95,
      ),
      meanMs: mean(r.map((x) => x.ms)),
      evaluatedMean: mean(r.map((x) => x.evaluated)),
      over100: r.filter((x) => x.evaluated > 100).length,
    };
  });
  for (const r of results)
    console.log(
      `  window: ${r.prompt.padEnd(28)} p50 ${r.medianMs.toFixed(1)} ms, p95 ${r.p95Ms.toFixed(1)} ms, evaluated/request ${r.evaluatedMean.toFixed(1)}, >100 tokens: ${r.over100}`,
    );
  return {
    method:
      `EngineRuntime in process, ${o.keys} keystrokes × 4 files after the cold first one, n_predict ${o.nPredict}; each way of building the prompt on its own KV sequence, in rotating order; ` +
      'a fresh estimator per file (as a fresh CompletionCore has); the anchored variant uses the shipped windows and estimator.',
    results,
  };
}
