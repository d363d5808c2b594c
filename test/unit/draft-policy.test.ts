// The speculative draft-length policy (src/engine/draftPolicy.ts) against simulated drafts whose
// disagreements follow a known pattern, and the status menu's line on speculative decoding.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatSpeculative } from '../../src/completion/status';
import { afterPlainStep, afterRound, backOff, measuredSpeedUp, nextDraftLength, type RunState } from '../../src/engine/draftPolicy';
import type { AdaptiveDraft } from '../../src/engine/slots';

const limits = { maxDraft: 24 };
const fresh = (): AdaptiveDraft => ({ draftLength: 4, cooldown: 0, plainStretch: 4 });

/**
 * Runs the policy over a draft that agrees except at every `period`-th token (from `offset`), as
 * the wide-margin bench drafts do, the way fimDecoding.ts drives it (plain steps while cooling
 * down or when no draft is worth it); returns the verify rounds, the plain steps, the drafted
 * tokens rejected and the draft lengths.
 */
function simulate(
  period: number,
  tokens: number,
  offset = 3,
  adapt = fresh(),
): { rounds: number; plain: number; wasted: number; lengths: number[] } {
  const disagrees = (position: number) => (position + offset) % period === period - 1;
  const state: RunState = { run: -1 };
  let position = 0;
  let rounds = 0;
  let plain = 0;
  let wasted = 0;
  const lengths: number[] = [];
  while (position < tokens) {
    const k = adapt.cooldown > 0 ? 0 : nextDraftLength(adapt, state, limits);
    if (k === 0) {
      afterPlainStep(adapt, state);
      adapt.cooldown--;
      position++;
      plain++;
      continue;
    }
    lengths.push(k);
    let accepted = 0;
    while (accepted < k && !disagrees(position + accepted)) accepted++;
    wasted += k - accepted;
    const probe = state.run < 0;
    afterRound(adapt, state, k, accepted, limits);
    backOff(adapt, accepted, probe);
    position += accepted + 1; // the accepted tokens and the target's own
    rounds++;
  }
  return { rounds, plain, wasted, lengths };
}

test('a regular spacing of disagreements is learned: one round per run of agreement, no wasted draft', () => {
  for (const period of [10, 4, 2]) {
    const { lengths } = simulate(period, 400);
    const settled = lengths.slice(-20);
    assert.deepEqual(new Set(settled), new Set([period - 1]), `period ${period}: drafts of ${settled.join(',')}`);
    // Settled rounds emit a whole period each: the draft ends just before the disagreement.
    const tail = simulate(period, 400);
    assert.ok(tail.rounds <= 400 / period + 8, `period ${period}: ${tail.rounds} rounds`);
    assert.ok(tail.wasted <= 16, `period ${period}: ${tail.wasted} drafted tokens wasted`);
  }
});

test('a request starting where the run stands unknown probes half of it, whatever the phase, and never backs off for it', () => {
  for (const period of [10, 4]) {
    const adapt = fresh();
    simulate(period, 400, 3, adapt); // the spacing is learned
    for (let offset = 0; offset < period; offset++) {
      const request = simulate(period, 40, offset, adapt);
      // Half the window (run + 1 tokens), or all but its last token when half would leave one.
      assert.equal(request.lengths[0], period === 10 ? 5 : 3, `period ${period}, offset ${offset}: ${request.lengths.join(',')}`);
      // Only the probe can waste tokens: once the phase is found, drafts end at each disagreement.
      assert.ok(request.wasted <= request.lengths[0], `period ${period}, offset ${offset}: ${request.wasted} wasted`);
      // A probe that meets the disagreement at once found the phase: no plain stretch follows.
      assert.ok(request.plain <= 2, `period ${period}, offset ${offset}: ${request.plain} plain steps`);
      assert.ok(request.rounds <= 40 / period + 3, `period ${period}, offset ${offset}: ${request.rounds} rounds`);
    }
  }
});

test('plain steps keep a regular phase: one landing where a disagreement is due starts a new run', () => {
  const adapt = fresh();
  simulate(4, 400, 3, adapt);
  assert.equal(adapt.regular, true);
  const state: RunState = { run: 2 };
  afterPlainStep(adapt, state);
  assert.equal(state.run, 3);
  afterPlainStep(adapt, state);
  assert.equal(state.run, 0);
  assert.equal(nextDraftLength(adapt, state, limits), 3);
  // Without a regular spacing a plain step says nothing about where the run stands.
  const irregular: AdaptiveDraft = { ...adapt, regular: false };
  afterPlainStep(irregular, state);
  assert.equal(state.run, -1);
});

test('a draft that always agrees doubles up to the longest draft', () => {
  const { lengths } = simulate(10_000, 300);
  assert.deepEqual(lengths.slice(0, 4), [4, 8, 16, 24]);
  assert.equal(lengths.at(-1), 24);
});

test('drafts that never agree back off for long stretches, growing each time', () => {
  const adapt = fresh();
  afterRound(adapt, { run: -1 }, 4, 0, limits);
  backOff(adapt, 0);
  assert.ok(adapt.cooldown >= 64, `cooldown ${adapt.cooldown}`);
  const first = adapt.plainStretch;
  backOff(adapt, 0);
  assert.ok(adapt.plainStretch > first);
});

test('a document whose drafts never agreed probes ever more rarely (1 in 1,024 tokens); one that agreed once, at most 1 in 256', () => {
  const never = fresh();
  for (let i = 0; i < 8; i++) backOff(never, 0);
  assert.equal(never.cooldown, 1024);
  const once: AdaptiveDraft = { ...fresh(), everAccepted: true };
  for (let i = 0; i < 8; i++) backOff(once, 0);
  assert.equal(once.cooldown, 256);
});

test('rounds measured clearly slower than plain steps pause drafting; comparable ones do not', () => {
  const adapt: AdaptiveDraft = { ...fresh(), everAccepted: true, plainMsPerToken: 10, specMsPerToken: 11 };
  backOff(adapt, 3);
  assert.equal(adapt.cooldown, 0);
  adapt.specMsPerToken = 20;
  backOff(adapt, 3);
  assert.ok(adapt.cooldown > 0);
  assert.equal(measuredSpeedUp(adapt), 0.5);
  assert.equal(measuredSpeedUp(fresh()), undefined);
});

test('the status menu states acceptance and the measured speed-up, nothing before a draft', () => {
  assert.equal(formatSpeculative({ draftAccepted: 0, draftRejected: 0 }), undefined);
  const line = formatSpeculative({ draftAccepted: 90, draftRejected: 10, draftSpeedUp: 1.734 });
  assert.match(line ?? '', /90 %/);
  assert.match(line ?? '', /100/);
  assert.match(line ?? '', /1\.73×/);
  assert.doesNotMatch(formatSpeculative({ draftAccepted: 1, draftRejected: 3 }) ?? '', /×/);
});
