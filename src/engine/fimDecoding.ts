// FIM decoding: Enclave's own greedy loop on a slot's sequence — only the part of the prompt not
// already in the KV cache is evaluated, text streams with stop strings held back, and speculative
// decoding (a draft model, or prompt lookup) proposes tokens that the target verifies in one batch,
// so the output is token-for-token what plain greedy decoding produces.
import type { LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp' with { 'resolution-mode': 'import' };

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
  firstTokenAt: number;
  stopReason: RequestStats['stopReason'];
}

const MAX_DRAFT = { draft: 8, lookup: 10 } as const;
const greedyNext = { generateNext: { token: true } } as const;

/**
 * Makes `seq` hold every token of `tokens` but the last (the divergent tail erased, only the
 * missing tokens evaluated, batch by batch so a cancel is noticed between batches) and returns
 * how many were reused plus the tokens left for the first generation step (the last one).
 * The prompt is always evaluated apart from generation so that plain and speculative decoding
 * see bit-identical KV states (llama.cpp's matmul results depend on the batch composition).
 */
export async function syncPrefix(seq: LlamaContextSequence, tokens: Token[], batchSize: number, signal: AbortSignal): Promise<{ reused: number; rest: Token[] }> {
  const held = seq.contextTokens;
  let common = 0;
  const last = tokens.length - 1;
  const limit = Math.min(held.length, last);
  while (common < limit && held[common] === tokens[common]) common++;
  if (common < seq.nextTokenIndex) await seq.eraseContextTokenRanges([{ start: common, end: seq.nextTokenIndex }]);
  for (let start = common; start < last; start += batchSize) {
    throwIfAborted(signal);
    await seq.evaluateWithoutGeneratingNewTokens(tokens.slice(start, Math.min(start + batchSize, last)));
  }
  return { reused: common, rest: tokens.slice(last) };
}

/** Greedy decoding of a FIM prompt on the slot's sequence, speculative when `o.mode` says so. */
export async function generateGreedy(model: LlamaModel, slot: Slot, prompt: Token[], o: GreedyOptions): Promise<GreedyOutcome> {
  const { seq } = slot;
  const { reused, rest } = await syncPrefix(seq, prompt, o.batchSize, o.signal);
  const all = prompt.slice();
  const generated: Token[] = [];
  const out: GreedyOutcome = {
    text: '',
    tokens: generated,
    evaluated: prompt.length - reused,
    reused,
    draftAccepted: 0,
    draftRejected: 0,
    firstTokenAt: 0,
    stopReason: 'maxTokens',
  };
  /** Tokens not yet in the KV cache; the next decode evaluates them and predicts what follows. */
  let pending: Token[] = rest;
  let emitted = 0;
  let done = false;
  const maxHold = Math.max(0, ...o.stop.map((s) => s.length - 1));

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

  // Adaptive draft length: grows while drafts are accepted, backs off (plain decoding for a
  // growing stretch) while they are not, so a poor draft costs little.
  const mode = o.mode;
  // The state lives on the slot, so a document whose drafts keep failing starts its next
  // request already backed off.
  const adapt = (slot.adaptive[mode === 'lookup' ? 'lookup' : 'draft'] ??= { draftLength: mode === 'draft' ? 4 : 6, cooldown: 0, plainStretch: 4 });

  const spec = async (): Promise<boolean> => {
    const room = o.maxTokens - generated.length - 1;
    const k = Math.min(adapt.draftLength, room);
    if (k <= 0) return false;
    const draft = mode === 'lookup' ? lookupDraft(all, k) : await draftTokens(model, slot, all, k, o.batchSize, o.signal);
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
    if (accepted === draft.length) adapt.draftLength = Math.min(MAX_DRAFT[mode === 'lookup' ? 'lookup' : 'draft'], adapt.draftLength + 2);
    else adapt.draftLength = Math.max(2, accepted + 1);
    if (mode === 'draft') {
      if (accepted === 0) {
        adapt.cooldown = adapt.plainStretch;
        adapt.plainStretch = Math.min(128, adapt.plainStretch * 2);
      } else adapt.plainStretch = 4;
    }
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

  while (!done) {
    throwIfAborted(o.signal);
    if (mode !== 'off' && (mode === 'lookup' || adapt.cooldown <= 0)) {
      if (await spec()) continue;
    }
    // A plain stretch on node-llama-cpp's evaluate loop (one sampler, no per-token setup); it
    // breaks out as soon as prompt lookup has a proposal or the draft cooldown is over.
    const iterator = seq.evaluate(pending, { temperature: 0 });
    let last: Token | undefined;
    for await (const token of iterator) {
      last = token;
      if (!take(token) || o.signal.aborted) break;
      pending = [token];
      if (mode === 'draft' && --adapt.cooldown <= 0) break;
      if (mode === 'lookup' && lookupDraft(all, 1).length > 0) break;
    }
    if (last === undefined) {
      out.stopReason = 'eos';
      done = true;
    }
    if (o.signal.aborted) break;
  }
  throwIfAborted(o.signal);
  return out;
}

/** Drafts up to k tokens after `all` with the draft model, keeping its sequence in step (KV reuse). */
async function draftTokens(model: LlamaModel, slot: Slot, all: Token[], k: number, batchSize: number, signal: AbortSignal): Promise<Token[]> {
  const seq = slot.draft;
  if (!seq) return [];
  const { rest } = await syncPrefix(seq, all, batchSize, signal);
  const draft: Token[] = [];
  for await (const token of seq.evaluate(rest, { temperature: 0 })) {
    if (model.isEogToken(token)) break;
    draft.push(token);
    if (draft.length >= k) break;
  }
  return draft;
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
