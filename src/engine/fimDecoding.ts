// FIM decoding: Enclave's own greedy loop on a slot's sequence — only the part of the prompt not
// already in the KV cache is evaluated, text streams with stop strings held back, and speculative
// decoding (a draft model, or prompt lookup) proposes tokens that the target verifies in one batch,
// so the output is token-for-token what plain greedy decoding produces.
import type { LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp' with { 'resolution-mode': 'import' };

import { afterPlainStep, afterRound, backOff, measuredSpeedUp, nextDraftLength, type RunState } from './draftPolicy';
import { EngineError, type RequestStats, type SpeculativeMode } from './protocol';
import type { Slot } from './slots';

export interface GreedyOptions {
  maxTokens: number;
  /** Tokens evaluated per batch while bringing a sequence up to a prompt (a cancel is seen between). */
  batchSize: number;
  deadline: number;
  stop: string[];
  mode: SpeculativeMode;
  signal: AbortSignal;
  onText?: (chunk: string) => void;
}

export interface GreedyOutcome {
  text: string;
  tokens: Token[];
  evaluated: number;
  reused: number;
  draftAccepted: number;
  draftRejected: number;
  /** Verify batches (each checks one draft and adds the target's own next token). */
  draftRounds: number;
  /** Measured speed-up of the document's speculative rounds over its plain steps. */
  draftSpeedUp?: number;
  firstTokenAt: number;
  stopReason: RequestStats['stopReason'];
}

const MAX_DRAFT = { draft: 24, lookup: 10 } as const;
const greedyNext = { generateNext: { token: true } } as const;

/**
 * Makes `seq` hold the start of `tokens` (the divergent tail erased, only the missing tokens
 * evaluated, batch by batch so a cancel is noticed between batches) and returns how many were
 * reused plus the tokens left for the first generation step. Those are the last token alone
 * (`finalBatch` false: a warm-up) or the prompt's whole last batch, so that the first step
 * evaluates it and predicts the first token in one decode, as llama-server does, instead of a
 * decode of its own for the last token. Either way plain and speculative decoding see the prompt
 * evaluated in the same batches (llama.cpp's matmul results depend on the batch composition).
 */
export async function syncPrefix(
  seq: LlamaContextSequence,
  tokens: Token[],
  batchSize: number,
  signal: AbortSignal,
  finalBatch = true,
): Promise<{ reused: number; rest: Token[] }> {
  const held = seq.contextTokens;
  let common = 0;
  const limit = Math.min(held.length, tokens.length - 1);
  while (common < limit && held[common] === tokens[common]) common++;
  if (common < seq.nextTokenIndex) await seq.eraseContextTokenRanges([{ start: common, end: seq.nextTokenIndex }]);
  const missing = tokens.length - common;
  const left = finalBatch ? ((missing - 1) % batchSize) + 1 : 1;
  const end = tokens.length - left;
  for (let start = common; start < end; start += batchSize) {
    throwIfAborted(signal);
    await seq.evaluateWithoutGeneratingNewTokens(tokens.slice(start, Math.min(start + batchSize, end)));
  }
  return { reused: common, rest: tokens.slice(end) };
}

/** Greedy decoding of a FIM prompt on the slot's sequence, speculative when `o.mode` says so. */
export async function generateGreedy(model: LlamaModel, slot: Slot, prompt: Token[], o: GreedyOptions): Promise<GreedyOutcome> {
  const { seq } = slot;
  const { reused, rest } = await syncPrefix(seq, prompt, o.batchSize, o.signal, o.maxTokens > 0);
  const all = prompt.slice();
  const generated: Token[] = [];
  const out: GreedyOutcome = {
    text: '',
    tokens: generated,
    evaluated: prompt.length - reused,
    reused,
    draftAccepted: 0,
    draftRejected: 0,
    draftRounds: 0,
    firstTokenAt: 0,
    stopReason: 'maxTokens',
  };
  /** Tokens not yet in the KV cache; the next decode evaluates them and predicts what follows. */
  let pending: Token[] = rest;
  let emitted = 0;
  let done = false;
  const maxHold = Math.max(0, ...o.stop.map((s) => s.length - 1));
  // Nothing to generate: the prompt is in the cache (all but its last token, as for every request).
  if (o.maxTokens <= 0) return out;

  /** Takes one generated token; returns false when generation is over. */
  const take = (token: Token): boolean => {
    if (done) return false;
    if (!out.firstTokenAt) out.firstTokenAt = performance.now();
    if (model.isEogToken(token) || model.isSpecialToken(token)) {
      out.stopReason = 'eos';
      done = true;
      return false;
    }
    generated.push(token);
    all.push(token);
    let text = model.detokenize(generated, false);
    let stopAt = -1;
    for (const s of o.stop) {
      if (!s) continue;
      const at = text.indexOf(s, Math.max(0, emitted - s.length));
      if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
    }
    if (stopAt >= 0) {
      text = text.slice(0, stopAt);
      out.stopReason = 'stop';
      done = true;
    } else if (generated.length >= o.maxTokens) {
      out.stopReason = 'maxTokens';
      done = true;
    } else if (performance.now() >= o.deadline) {
      out.stopReason = 'maxTime';
      done = true;
    }
    out.text = text;
    if (o.onText && !o.signal.aborted) {
      let safe = done ? text.length : text.length - holdBack(text, o.stop, maxHold);
      if (!done && text.endsWith('\uFFFD')) safe = Math.min(safe, text.length - 1);
      if (safe > emitted) {
        o.onText(text.slice(emitted, safe));
        emitted = safe;
      }
    }
    return !done;
  };

  // Every LlamaSampler node-llama-cpp creates (one per evaluate() generator and per
  // controlledEvaluate call) allocates a vocabulary-sized candidate array: ~9 ms of page faults
  // for a 152k vocabulary here, as much as a small model's whole decode step. So plain steps and
  // drafting each run on ONE generator for the whole request (fed the next tokens through
  // next(tokens), which evaluates them at the sequence's current end), and only the verify batch
  // pays for a sampler of its own.
  const mode = o.mode;
  // The state lives on the slot, so a document whose drafts keep failing starts its next
  // request already backed off.
  // A document's first draft request starts with a few plain steps: their measured cost is what
  // speculative rounds must beat.
  const adapt = (slot.adaptive[mode === 'lookup' ? 'lookup' : 'draft'] ??= {
    draftLength: mode === 'lookup' ? 6 : 4,
    cooldown: mode === 'lookup' ? 0 : 3,
    plainStretch: 4,
  });
  const target = new Stepper(seq);
  const drafter = mode === 'draft' && slot.draft ? draftStepper(slot.draft) : undefined;

  const limits = { maxDraft: MAX_DRAFT[mode === 'lookup' ? 'lookup' : 'draft'] };
  const runState: RunState = { run: -1 };

  const spec = async (): Promise<boolean> => {
    const room = o.maxTokens - generated.length - 1;
    const k = Math.min(nextDraftLength(adapt, runState, limits), room);
    if (k <= 0) return false;
    const roundStart = performance.now();
    const draft = mode === 'lookup' ? lookupDraft(all, k) : drafter ? await drafter.draft(model, all, k) : [];
    if (draft.length === 0) return false;
    throwIfAborted(o.signal);
    const head = pending.length - 1;
    const results = await seq.controlledEvaluate([
      ...pending.slice(0, head),
      [pending[head], greedyNext],
      ...draft.map((t) => [t, greedyNext] as [Token, typeof greedyNext]),
    ]);
    let accepted = 0;
    while (accepted < draft.length && results[head + accepted]?.next.token === draft[accepted]) accepted++;
    const next = results[head + accepted]?.next.token;
    if (accepted < draft.length) {
      const end = seq.nextTokenIndex;
      await seq.eraseContextTokenRanges([{ start: end - (draft.length - accepted), end }]);
    }
    out.draftAccepted += accepted;
    out.draftRejected += draft.length - accepted;
    out.draftRounds++;
    const probe = runState.run < 0;
    afterRound(adapt, runState, draft.length, accepted, limits);
    // A request's first round also brings the draft sequence up to the prompt: not counted.
    if (out.draftRounds > 1) adapt.specMsPerToken = average(adapt.specMsPerToken, (performance.now() - roundStart) / (accepted + 1));
    if (mode === 'draft') backOff(adapt, accepted, probe);
    for (let i = 0; i < accepted; i++) if (!take(draft[i])) return true;
    if (next === undefined || next === null) {
      out.stopReason = 'eos';
      done = true;
      return true;
    }
    if (!take(next)) return true;
    pending = [next];
    return true;
  };

  try {
    if (pending.length > 1) {
      // The prompt's last batch predicts the first token (the same decode in every mode); a lone
      // last token instead goes into the first verify batch when speculating.
      throwIfAborted(o.signal);
      const first = await target.step(pending);
      if (first === undefined) {
        out.stopReason = 'eos';
        done = true;
      } else if (take(first)) pending = [first];
    }
    while (!done) {
      throwIfAborted(o.signal);
      if (mode !== 'off' && (mode === 'lookup' || adapt.cooldown <= 0)) {
        if (await spec()) continue;
      }
      // Plain steps on the request's one generator; they stop as soon as prompt lookup has a
      // proposal or the draft cooldown is over.
      while (!done) {
        const stepStart = performance.now();
        const warm = target.started;
        const token = await target.step(pending);
        if (token === undefined) {
          out.stopReason = 'eos';
          done = true;
          break;
        }
        if (!take(token) || o.signal.aborted) break;
        pending = [token];
        afterPlainStep(adapt, runState);
        if (mode !== 'lookup' && warm) adapt.plainMsPerToken = average(adapt.plainMsPerToken, performance.now() - stepStart);
        if (mode === 'draft' && --adapt.cooldown <= 0) break;
        if (mode === 'lookup' && lookupDraft(all, 1).length > 0) break;
      }
      if (o.signal.aborted) break;
    }
  } finally {
    await target.close();
  }
  throwIfAborted(o.signal);
  if (mode !== 'off') out.draftSpeedUp = measuredSpeedUp(adapt);
  return out;
}

/** A moving average that follows changes in load within a few samples. */
function average(previous: number | undefined, sample: number): number {
  return previous === undefined ? sample : previous * 0.7 + sample * 0.3;
}

/**
 * The draft sequence's generator outlives requests (only this loop evaluates on a draft
 * sequence), so a draft costs no new sampler per request.
 */
const draftSteppers = new WeakMap<LlamaContextSequence, Stepper>();
function draftStepper(seq: LlamaContextSequence): Stepper {
  let stepper = draftSteppers.get(seq);
  if (!stepper) draftSteppers.set(seq, (stepper = new Stepper(seq)));
  return stepper;
}

/**
 * One evaluate() generator kept for a whole request: `step(tokens)` evaluates `tokens` at the
 * sequence's current end and returns the greedy next token, without a new sampler per call.
 * Between steps the generator holds no lock, so verify batches and erasures may run in between.
 */
class Stepper {
  private iterator?: AsyncGenerator<Token, void, Token | Token[] | undefined>;

  constructor(readonly seq: LlamaContextSequence) {}

  get started(): boolean {
    return this.iterator !== undefined;
  }

  async step(tokens: Token[]): Promise<Token | undefined> {
    let result: IteratorResult<Token, void>;
    try {
      if (!this.iterator) {
        this.iterator = this.seq.evaluate(tokens, { temperature: 0, yieldEogToken: true });
        result = await this.iterator.next();
      } else result = await this.iterator.next(tokens.slice());
    } catch (err) {
      this.iterator = undefined; // a generator that threw is finished: the next step starts another
      throw err;
    }
    if (result.done) {
      this.iterator = undefined;
      return undefined;
    }
    return result.value;
  }

  /** Drafts up to k tokens after `all`, keeping the draft sequence in step with it (KV reuse). */
  async draft(model: LlamaModel, all: Token[], k: number): Promise<Token[]> {
    const held = this.seq.contextTokens;
    let common = 0;
    const limit = Math.min(held.length, all.length - 1);
    while (common < limit && held[common] === all[common]) common++;
    if (common < this.seq.nextTokenIndex) await this.seq.eraseContextTokenRanges([{ start: common, end: this.seq.nextTokenIndex }]);
    const draft: Token[] = [];
    let feed = all.slice(common);
    while (draft.length < k) {
      const token = await this.step(feed);
      if (token === undefined || model.isEogToken(token) || model.isSpecialToken(token)) break;
      draft.push(token);
      feed = [token];
    }
    return draft;
  }

  async close(): Promise<void> {
    const iterator = this.iterator;
    this.iterator = undefined;
    await iterator?.return(undefined);
  }
}

/** Prompt lookup: the continuation after the latest earlier occurrence of the last n tokens. */
export function lookupDraft(tokens: readonly Token[], k: number, maxNgram = 4, minNgram = 2): Token[] {
  const n = tokens.length;
  for (let size = Math.min(maxNgram, n - 1); size >= minNgram; size--) {
    const start = n - size;
    for (let i = start - 1; i >= 0; i--) {
      let match = true;
      for (let j = 0; j < size; j++) {
        if (tokens[i + j] !== tokens[start + j]) {
          match = false;
          break;
        }
      }
      if (match && i + size < n) return tokens.slice(i + size, Math.min(n, i + size + k)) as Token[];
    }
  }
  return [];
}

/** Characters at the end of `text` that could be the start of a stop string. */
function holdBack(text: string, stops: string[], maxHold: number): number {
  for (let len = Math.min(maxHold, text.length); len > 0; len--) {
    const tail = text.slice(text.length - len);
    if (stops.some((s) => s.startsWith(tail))) return len;
  }
  return 0;
}

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new EngineError('CANCELLED', 'Request cancelled.');
}
