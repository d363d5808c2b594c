import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { EditorFirstGate } from '../../src/engine/editorFirst';

const settled = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

describe('EditorFirstGate', () => {
  it('lets work through at once while no editor completion runs', async () => {
    assert.equal(await settled(new EditorFirstGate().wait()), true);
  });

  it('holds work while a completion runs and releases it when the last one leaves', async () => {
    const gate = new EditorFirstGate(60_000);
    const leaveA = gate.enter();
    const leaveB = gate.enter();
    const waiting = gate.wait();
    assert.equal(await settled(waiting), false);
    leaveA();
    leaveA(); // leaving twice counts once
    assert.equal(await settled(waiting), false, 'one completion still runs');
    leaveB();
    assert.equal(await settled(waiting), true);
    assert.equal(gate.closed, false);
  });

  it('never holds longer than its limit, and an abort releases the waiter', async () => {
    const gate = new EditorFirstGate(20);
    gate.enter();
    const started = performance.now();
    await gate.wait();
    assert.ok(performance.now() - started >= 15);
    const controller = new AbortController();
    const waiting = new EditorFirstGate(60_000);
    waiting.enter();
    const held = waiting.wait(controller.signal);
    assert.equal(await settled(held), false);
    controller.abort();
    assert.equal(await settled(held), true);
  });
});
