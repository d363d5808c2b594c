import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { EngineError } from '../../src/engine/protocol';
import { Scheduler, type JobClass } from '../../src/engine/scheduler';

/** A job that runs until released, recording when it started. */
function gate() {
  let release!: (value: string) => void;
  const done = new Promise<string>((r) => (release = r));
  return { done, release };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Scheduler', () => {
  it('starts queued completions before chat and structured jobs', async () => {
    const scheduler = new Scheduler({ concurrency: 1 });
    const order: string[] = [];
    const first = gate();
    const blocker = scheduler.run('chat', () => first.done);
    const job = (cls: JobClass, name: string, key?: string) =>
      scheduler.run(
        cls,
        async () => {
          order.push(name);
          return name;
        },
        { key },
      );
    const jobs = [job('chat', 'chat-1'), job('structured', 'review-1'), job('completion', 'fim-1', 'a'), job('completion', 'fim-2', 'b')];
    first.release('x');
    await blocker;
    await Promise.all(jobs);
    assert.deepEqual(order.slice(0, 2), ['fim-1', 'fim-2']);
    assert.deepEqual(new Set(order.slice(2)), new Set(['chat-1', 'review-1']));
  });

  it('a newer completion for the same document cancels the queued and the running older one', async () => {
    const scheduler = new Scheduler({ concurrency: 1 });
    let runningAborted = false;
    const running = scheduler.run(
      'completion',
      (signal) =>
        new Promise<string>((_, reject) =>
          signal.addEventListener('abort', () => {
            runningAborted = true;
            reject(new Error('stopped'));
          }),
        ),
      { key: 'doc' },
    );
    await tick();
    const queuedOther = scheduler.run('completion', async () => 'other', { key: 'other-doc' });
    const newer = scheduler.run('completion', async () => 'newer', { key: 'doc' });
    await assert.rejects(running, (err: EngineError) => err.code === 'CANCELLED');
    assert.ok(runningAborted);
    assert.equal((await newer).value, 'newer');
    assert.equal((await queuedOther).value, 'other', 'other documents are not affected');

    const blocker = gate();
    const b = scheduler.run('chat', () => blocker.done);
    const queuedOld = scheduler.run('completion', async () => 'old', { key: 'doc' });
    const queuedNew = scheduler.run('completion', async () => 'new', { key: 'doc' });
    await assert.rejects(queuedOld, (err: EngineError) => err.code === 'CANCELLED');
    blocker.release('x');
    await b;
    assert.equal((await queuedNew).value, 'new');
  });

  it("hands a superseded completion's slot to its successor: the newer one starts only once the older has ended", async () => {
    const scheduler = new Scheduler({ concurrency: 4 });
    let olderEnded = false;
    let olderAbortSeen = false;
    const older = scheduler.run(
      'completion',
      (signal) =>
        new Promise<string>((_, reject) =>
          signal.addEventListener('abort', () => {
            olderAbortSeen = true;
            // The engine notices a cancel at its next decode step, a moment later.
            setTimeout(() => {
              olderEnded = true;
              reject(new Error('stopped'));
            }, 30);
          }),
        ),
      { key: 'doc' },
    );
    await tick();
    let newerStartedAfterOlderEnded: boolean | undefined;
    const newer = scheduler.run(
      'completion',
      async () => {
        newerStartedAfterOlderEnded = olderEnded;
        return 'newer';
      },
      { key: 'doc' },
    );
    const other = scheduler.run('completion', async () => olderEnded, { key: 'other-doc' });
    assert.equal((await other).value, false, 'another document starts at once in a free slot');
    assert.ok(olderAbortSeen);
    await assert.rejects(older, (err: EngineError) => err.code === 'CANCELLED');
    assert.equal((await newer).value, 'newer');
    assert.equal(newerStartedAfterOlderEnded, true, 'the successor waited for the superseded job to end');
  });

  it('chat and structured jobs take turns', async () => {
    const scheduler = new Scheduler({ concurrency: 1 });
    const order: string[] = [];
    const first = gate();
    const blocker = scheduler.run('completion', () => first.done);
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < 3; i++) jobs.push(scheduler.run('chat', async () => order.push('chat')));
    for (let i = 0; i < 3; i++) jobs.push(scheduler.run('structured', async () => order.push('structured')));
    first.release('x');
    await blocker;
    await Promise.all(jobs);
    for (let i = 1; i < order.length; i++)
      assert.notEqual(order[i], order[i - 1], `no class runs twice in a row while the other waits: ${order}`);
  });

  it('keeps one slot for completions while chat runs, and aged jobs are not starved by completions', async () => {
    let now = 0;
    const scheduler = new Scheduler({ concurrency: 2, agingMs: 1000, now: () => now });
    const chatGate = gate();
    const chat1 = scheduler.run('chat', () => chatGate.done);
    const chat2 = scheduler.run('chat', async () => 'chat-2');
    await tick();
    assert.equal(scheduler.active, 1, 'the second chat waits: one slot is reserved for completions');
    const fim = await scheduler.run('completion', async () => 'fim', { key: 'a' });
    assert.equal(fim.value, 'fim');
    assert.equal(scheduler.pending, 1);

    // A stream of completions fills both slots; once the chat has waited past agingMs it goes
    // before completions that are queued later.
    chatGate.release('done');
    await chat1;
    await chat2;
    await tick();
    const fimA = gate();
    const fimB = gate();
    const runningA = scheduler.run('completion', () => fimA.done, { key: 'x' });
    const runningB = scheduler.run('completion', () => fimB.done, { key: 'y' });
    const order: string[] = [];
    const chat3 = scheduler.run('chat', async () => order.push('chat'));
    now = 5000;
    const lateFim = scheduler.run('completion', async () => order.push('fim'), { key: 'z' });
    await tick();
    assert.deepEqual(order, [], 'both slots are busy');
    fimA.release('a');
    await runningA;
    await tick();
    assert.equal(order[0], 'chat', 'the aged chat took the freed slot before the newer completion');
    fimB.release('b');
    await Promise.all([runningB, chat3, lateFim]);
    assert.deepEqual(order, ['chat', 'fim']);
  });

  it('exclusive jobs wait for running jobs and run alone', async () => {
    const scheduler = new Scheduler({ concurrency: 3 });
    const g = gate();
    let exclusiveRanWith = -1;
    const a = scheduler.run('chat', () => g.done);
    const ex = scheduler.run('exclusive', async () => {
      exclusiveRanWith = scheduler.active;
    });
    const after = scheduler.run('completion', async () => scheduler.active, { key: 'k' });
    await tick();
    assert.equal(exclusiveRanWith, -1, 'waits while a job runs');
    g.release('x');
    await Promise.all([a, ex]);
    assert.equal(exclusiveRanWith, 1, 'only the exclusive job was running');
    assert.equal((await after).value, 1);
  });

  it('a caller abort rejects a queued job without running it, and cancelAll stops everything', async () => {
    const scheduler = new Scheduler({ concurrency: 1 });
    const g = gate();
    const running = scheduler.run(
      'chat',
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    );
    let ran = false;
    const controller = new AbortController();
    const queued = scheduler.run('structured', async () => (ran = true), { signal: controller.signal });
    controller.abort();
    await assert.rejects(queued, (err: EngineError) => err.code === 'CANCELLED');
    const another = scheduler.run('chat', () => g.done);
    scheduler.cancelAll(new EngineError('ENGINE_UNAVAILABLE', 'shutting down'));
    await assert.rejects(running, (err: EngineError) => err.code === 'ENGINE_UNAVAILABLE');
    await assert.rejects(another, (err: EngineError) => err.code === 'ENGINE_UNAVAILABLE');
    assert.equal(ran, false);
  });

  it('reports how long a job was queued', async () => {
    let now = 100;
    const scheduler = new Scheduler({ concurrency: 1, now: () => now });
    const g = gate();
    const first = scheduler.run('chat', () => g.done);
    const second = scheduler.run('chat', async () => 'x');
    now = 350;
    g.release('y');
    await first;
    assert.equal((await second).queuedMs, 250);
  });
});
