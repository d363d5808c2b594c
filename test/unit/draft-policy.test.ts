// The speculative draft-length policy (src/engine/draftPolicy.ts) against simulated drafts whose
// disagreements follow a known pattern, and the status menu's line on speculative decoding.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatSpeculative } from '../../src/completion/status';
import { afterRound, backOff, measuredSpeedUp, nextDraftLength, type RunState } from '../../src/engine/draftPolicy';
import type { AdaptiveDraft } from '../../src/engine/slots';

const limits = { maxDraft: 24 };
const fresh = (): AdaptiveDraft => ({ draftLength: 4, cooldown: 0, plainStretch: 4 });

/**
 * Runs the policy over a draft that agrees except at every `period`-th token (from `offset`), as
 * the wide-margin bench drafts do; returns the verify rounds and the tokens they emitted.
 */
function simulate(period: number, tokens: number, offset = 3, adapt = fresh()): { rounds: number; wasted: number; lengths: number[] } {
  const disagrees = (position: number) => (position + offset) % period === period - 1;
  const state: RunState = { run: -1 };
  let position = 0;
  let rounds = 0;
  let wasted = 0;
  const lengths: number[] = [];
  while (position < tokens) {
    const k = nextDraftLength(adapt, state, limits);
    lengths.push(k);
    let accepted = 0;
    while (accepted < k && !disagrees(position + accepted)) accepted++;
    wasted += k - accepted;
    afterRound(adapt, state, k, accepted, limits);
    position += accepted + 1; // the accepted tokens and the target's own
    rounds++;
  }
  return { rounds, wasted, lengths };
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
