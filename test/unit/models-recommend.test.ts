import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { GiB, type ModelSize } from '../../src/models/catalog';
import { describeChoice, estimateMemory, recommend, type MachineMeasure } from '../../src/models/recommend';
import { findEntry } from '../../src/models/catalog';

function gpuMachine(vramGb: number[], ramGb = 32, cores = 12): MachineMeasure {
  const vram = vramGb.map((g) => g * GiB);
  return {
    gpu: 'cuda',
    gpuNames: vramGb.map(() => 'NVIDIA test GPU'),
    gpuVram: vram,
    vramTotal: vram.reduce((a, b) => a + b, 0),
    vramFree: vram.reduce((a, b) => a + b, 0) - 0.5 * GiB,
    ramTotal: ramGb * GiB,
    ramFree: ramGb * GiB * 0.7,
    cpuCores: cores,
    unifiedMemory: false,
  };
}

function appleMachine(ramGb: number): MachineMeasure {
  // Metal reports recommendedMaxWorkingSetSize as VRAM: about 2/3 of RAM (3/4 above 36 GB).
  const share = ramGb > 36 ? 0.75 : 2 / 3;
  return {
    gpu: 'metal',
    gpuNames: ['Apple M-series'],
    vramTotal: ramGb * GiB * share,
    vramFree: ramGb * GiB * share,
    ramTotal: ramGb * GiB,
    ramFree: ramGb * GiB * 0.5,
    cpuCores: 10,
    unifiedMemory: true,
  };
}

function cpuMachine(ramGb: number, cores: number): MachineMeasure {
  return {
    gpu: 'cpu',
    gpuNames: [],
    vramTotal: 0,
    vramFree: 0,
    ramTotal: ramGb * GiB,
    ramFree: ramGb * GiB * 0.6,
    cpuCores: cores,
    unifiedMemory: false,
  };
}

const table: { name: string; machine: MachineMeasure; size: ModelSize; capacity: RegExp }[] = [
  { name: '8 GB laptop GPU', machine: gpuMachine([8], 16, 8), size: '3B', capacity: /fits 8 GB VRAM/ },
  { name: '12 GB card', machine: gpuMachine([12]), size: '7B', capacity: /fits 12 GB VRAM/ },
  { name: '24 GB card', machine: gpuMachine([24], 64), size: '14B', capacity: /fits 24 GB VRAM/ },
  { name: '2×24 GB cards', machine: gpuMachine([24, 24], 128), size: '32B', capacity: /fits 2×24 GB VRAM/ },
  { name: '80 GB card', machine: gpuMachine([80], 256, 32), size: '32B', capacity: /fits 80 GB VRAM/ },
  { name: 'Apple 16 GB unified', machine: appleMachine(16), size: '7B', capacity: /16 GB unified memory/ },
  { name: 'Apple 64 GB unified', machine: appleMachine(64), size: '32B', capacity: /64 GB unified memory/ },
  { name: 'CPU only, 16 GB RAM, 8 cores', machine: cpuMachine(16, 8), size: '3B', capacity: /runs on the CPU in 16 GB RAM/ },
];

describe('recommend: a table of machines', () => {
  for (const row of table) {
    it(`${row.name} → ${row.size}`, () => {
      const r = recommend(row.machine);
      assert.equal(r.completion.size, row.size, r.reason);
      assert.equal(r.fits, true);
      assert.ok(r.estimate.total <= r.budget, 'the estimate fits the budget');
      assert.match(r.reason, row.capacity);
      assert.match(r.reason, new RegExp(`^${row.size} ${r.completion.quant}: .* with an 8k context, ~[\\d.]+ GB file`));
      assert.equal(r.completion.variant, 'base');
      assert.equal(r.chat.variant, 'instruct');
      assert.equal(r.chat.size, r.completion.size);
      if (r.larger) assert.equal(r.larger.fits && r.placement !== 'cpu', false, 'the next size up does not fit (or is too slow on CPU)');
      if (r.smaller) assert.equal(r.smaller.fits, true, 'the next size down fits');
    });
  }

  it('the rule of thumb: 7B Q4 needs a 12 GB card, 14B a 24 GB card, 32B more than one 24 GB card', () => {
    assert.notEqual(recommend(gpuMachine([8])).completion.size, '7B');
    assert.equal(recommend(gpuMachine([12])).completion.quant, 'Q4_K_M');
    assert.equal(recommend(gpuMachine([12])).larger?.entry.size, '14B');
    assert.equal(recommend(gpuMachine([12])).larger?.fits, false);
    assert.notEqual(recommend(gpuMachine([24])).completion.size, '32B');
  });

  it('leaves room for the KV cache: a longer context can push the choice down a size', () => {
    const machine = gpuMachine([12]);
    const short = recommend(machine, { contextSize: 8192 });
    const long = recommend(machine, { contextSize: 131072 });
    assert.ok(long.estimate.kvCache > short.estimate.kvCache * 10);
    assert.ok(modelRank(long.completion.size) < modelRank(short.completion.size));
    assert.match(long.reason, /128k context/);
  });

  it('leaves room for the draft model on 3B and larger', () => {
    const withDraft = estimateMemory(findEntry('7B', 'base', 'Q4_K_M'));
    const without = estimateMemory(findEntry('7B', 'base', 'Q4_K_M'), { withDraft: false });
    assert.ok(withDraft.draft > 0.5e9);
    assert.equal(without.draft, 0);
    assert.ok(withDraft.total > without.total);
    assert.equal(recommend(gpuMachine([12])).draft?.size, '0.5B');
    assert.equal(estimateMemory(findEntry('0.5B', 'base', 'Q8_0')).draft, 0, 'no draft for the smallest model');
  });

  it('says when the largest catalog model fits with room to spare', () => {
    const r = recommend(gpuMachine([80]));
    assert.equal(r.largestFitting?.size, '32B');
    assert.equal(r.larger, undefined);
    assert.ok(
      r.notes.some((n) => /largest model in the catalog/.test(n)),
      r.notes.join('\n'),
    );
  });

  it('on the CPU caps the size for speed and says what would fit in memory', () => {
    const r = recommend(cpuMachine(16, 4));
    assert.equal(r.completion.size, '1.5B');
    assert.equal(r.placement, 'cpu');
    assert.ok(r.largestFitting && modelRank(r.largestFitting.size) > modelRank('1.5B'));
    assert.ok(r.notes.some((n) => /too slow for inline completions/.test(n)));
  });

  it('a GPU too small for anything falls back to the smallest model and says it will be slow', () => {
    const r = recommend(gpuMachine([1.5], 8, 4));
    assert.equal(r.fits, false);
    assert.equal(r.completion.size, '0.5B');
    assert.match(r.reason, /does not fit/);
  });

  it('describes the alternatives in words', () => {
    const r = recommend(gpuMachine([12]));
    assert.ok(r.larger && r.smaller);
    assert.match(describeChoice(r.larger), /^14B Q4_K_M — needs ~\d+ GB, does not fit/);
    assert.match(describeChoice(r.smaller), /^3B Q8_0 — needs ~[\d.]+ GB, fits/);
  });
});

function modelRank(size: ModelSize): number {
  return ['0.5B', '1.5B', '3B', '7B', '14B', '32B'].indexOf(size);
}
