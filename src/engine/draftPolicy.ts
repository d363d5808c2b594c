// How long the next speculative draft is, and when drafting pauses — from what a document's drafts
// did so far. Pure (no node-llama-cpp): fimDecoding.ts feeds it each verify round's outcome.
//
// Cost model (test/bench/speculativeProfile.ts, 1 CPU thread, bench target 16 × 768 and draft
// 1 × 64, both Q8_0; issue 14): a plain step costs T (22 ms there); a round of k draft tokens costs
// k·D (draft steps) + V + k·P (one verify batch: its base V ≈ T plus P per extra position, much of
// it the 152k-wide output layer), and yields the accepted tokens plus the target's own next token.
// With D ≈ 0.12 T and P ≈ 0.17 T the ceiling is ≈ T / (D + P) ≈ 3.4× at 100 % agreement (f16
// weights: P ≈ 0.3 T, ≈ 2.2×); a round pays off only when it emits more than (V + k·(D + P)) / T
// tokens. Hence: draft exactly up to where a disagreement is expected (a wasted position costs
// D + P and a needless extra round costs V), and pause where rounds lose. V is not linear on every
// CPU: with AMX (sapphirerapids) a batch of 2 runs the 32-row tile kernel instead of the 1-row VNNI
// one, so V(2) ≈ 1.5 T, V(4) ≈ 1.7 T, V(8) ≈ 2.1 T, V(16) ≈ 3.4 T (speculativeProfile.ts).
import type { AdaptiveDraft } from './slots';

export interface DraftLimits {
  /** The longest draft proposed (verify batches grow with it). */
  maxDraft: number;
}

/** Per-request position in the document's agreement pattern. */
export interface RunState {
  /** Draft tokens agreed on since the last disagreement; −1 while unknown (a request starts mid-run). */
  run: number;
  /**
   * While `run` is unknown: the next disagreement is expected within this many tokens (the
   * document's run plus one, narrowed by each fully accepted probe); unset at a request's start.
   */
  window?: number;
}

/**
 * Tokens to draft next round. Disagreements recur at a document's typical spacing (the expected
 * run of agreement): the draft ends where the next one is expected — on it when the spacing has
 * been regular (the verify batch's own token then corrects it for free), one past it otherwise
 * (so the disagreement is seen and the spacing measured). No disagreement seen yet: doubling.
 * Where the run stands is unknown at a request's start (and after plain steps): the next
 * disagreement then lies anywhere in the next run + 1 tokens, and a probe of half that window
 * finds it with less waste on average than one drafting the whole window (a wasted position costs
 * D + P, a second probe V + its positions, and half the time the first probe already finds it).
 */
export function nextDraftLength(adapt: AdaptiveDraft, state: RunState, limits: DraftLimits): number {
  const expected = adapt.expectedRun;
  if (expected === undefined) return clamp(adapt.draftLength, limits);
  const runLength = Math.round(expected);
  if (state.run < 0)
    return adapt.regular ? Math.min(limits.maxDraft, probeLength(state.window ?? runLength + 1)) : clamp(runLength + 1, limits);
  const remaining = runLength - state.run;
  if (remaining >= 1) return clamp(adapt.regular ? remaining : remaining + 1, limits);
  // Longer than expected already: probe half a run ahead.
  return clamp(Math.max(2, Math.round(runLength / 2)), limits);
}

/** Learns from one verify round: `drafted` tokens proposed, the first `accepted` of them agreed. */
export function afterRound(adapt: AdaptiveDraft, state: RunState, drafted: number, accepted: number, limits: DraftLimits): void {
  if (accepted > 0) adapt.everAccepted = true;
  if (accepted < drafted) {
    if (state.run >= 0) {
      const observed = state.run + accepted;
      adapt.regular = adapt.lastRun === observed;
      adapt.lastRun = observed;
      adapt.expectedRun = adapt.expectedRun === undefined || adapt.regular ? observed : (adapt.expectedRun + observed) / 2;
    } else if (adapt.expectedRun === undefined) {
      // Only a lower bound (the run began before this request): keep growing until one is measured.
      adapt.draftLength = Math.max(2, Math.min(limits.maxDraft, (accepted + 1) * 2));
    }
    // The target's own token replaced the rejected one: a new run starts after it.
    state.run = 0;
    state.window = undefined;
    return;
  }
  if (adapt.expectedRun === undefined) adapt.draftLength = Math.min(limits.maxDraft, adapt.draftLength * 2);
  // A probe of an unknown phase that found no disagreement: the target's own token after it may
  // have been the disagreement, corrected unseen, so the phase stays unknown (the whole window).
  if (state.run < 0) {
    state.window = undefined;
    return;
  }
  state.run += accepted;
  const expected = adapt.expectedRun === undefined ? undefined : Math.round(adapt.expectedRun);
  // The verify batch's own token fell where the regular spacing puts a disagreement, or agreed.
  state.run = adapt.regular && state.run === expected ? 0 : state.run + 1;
}

/**
 * After a plain step (no draft): with a regular spacing the phase moves on by one token (a step
 * landing where a disagreement is due starts a new run); otherwise it is no longer known.
 */
export function afterPlainStep(adapt: AdaptiveDraft, state: RunState): void {
  const expected = adapt.expectedRun === undefined ? undefined : Math.round(adapt.expectedRun);
  if (!adapt.regular || expected === undefined) {
    state.run = -1;
    state.window = undefined;
  } else if (state.run >= 0) state.run = state.run >= expected ? 0 : state.run + 1;
  else {
    // The window's last token, when the step was that one, was the disagreement.
    const window = (state.window ?? expected + 1) - 1;
    if (window === 0) state.run = 0;
    state.window = window > 0 ? window : undefined;
  }
}

/**
 * A probe of `window` tokens (the next disagreement is in one of them): about half of it, but
 * never leaving a window of one token — the verify batch's own token covers the position after a
 * probe, so a probe of window − 1 settles the whole window instead.
 */
function probeLength(window: number): number {
  // A window of one: that token disagrees, and a plain step is cheaper than a doomed draft.
  if (window <= 1) return 0;
  const k = Math.ceil(window / 2);
  return window - k - 1 === 1 ? window - 1 : k;
}

/**
 * After a round of the draft model: pause drafting (for a stretch that grows each time) when the
 * round did not pay — nothing accepted, or rounds measured clearly slower per token than plain
 * steps (25 % margin: the two averages come from different moments of a shared machine). `probe`:
 * the round started where the run stood unknown (a request's first round, or after plain steps).
 */
export function backOff(adapt: AdaptiveDraft, accepted: number, probe = false): void {
  // A probe that met a disagreement at once, for a document whose drafts have agreed before, only
  // found where the run stands: the next round, from a known phase, tells whether drafts pay.
  if (probe && accepted === 0 && adapt.everAccepted) return;
  const slower =
    adapt.plainMsPerToken !== undefined && adapt.specMsPerToken !== undefined && adapt.specMsPerToken > adapt.plainMsPerToken * 1.25;
  if (accepted === 0) {
    // A document whose drafts have never agreed waits long before it tries again, and ever longer:
    // a probe costs about one plain step, so one per 1,024 tokens costs < 0.1 %.
    adapt.cooldown = adapt.everAccepted ? adapt.plainStretch : Math.max(64, adapt.plainStretch);
    adapt.plainStretch = Math.min(adapt.everAccepted ? 256 : 1024, adapt.plainStretch * 4);
  } else if (slower) {
    adapt.cooldown = Math.min(64, adapt.plainStretch);
    adapt.plainStretch = Math.min(256, adapt.plainStretch * 2);
  } else adapt.plainStretch = 4;
}

/** Measured speed-up of speculative rounds over plain steps (1 when either is unmeasured). */
export function measuredSpeedUp(adapt: AdaptiveDraft | undefined): number | undefined {
  if (adapt?.plainMsPerToken === undefined || adapt.specMsPerToken === undefined || adapt.specMsPerToken <= 0) return undefined;
  return adapt.plainMsPerToken / adapt.specMsPerToken;
}

function clamp(length: number, limits: DraftLimits): number {
  return Math.max(1, Math.min(limits.maxDraft, length));
}
