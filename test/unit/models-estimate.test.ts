import assert from 'node:assert/strict';
import { cpus, totalmem } from 'node:os';
import { stat } from 'node:fs/promises';
import { describe, it } from 'node:test';

import { ensureFixtures } from '../fixtures/generate';
import { estimateModelFile } from '../../src/models/estimate';
import { machineFromProbe, measureMachine } from '../../src/models/measure';

describe('memory estimate of a file at hand (GgufInsights)', () => {
  it('reads the fixture model: layers, size, and a context cost that grows with the context', async () => {
    const { model } = await ensureFixtures();
    const small = await estimateModelFile(model, { contextSize: 1024, gpuLayers: 0 });
    const large = await estimateModelFile(model, { contextSize: 16384, gpuLayers: 0 });
    assert.equal(small.architecture, 'qwen2');
    assert.equal(small.totalLayers, 4 + 1, 'GgufInsights counts the output layer too');
    assert.equal(small.fileBytes, (await stat(model)).size);
    assert.ok(small.parameters > 0);
    assert.ok(small.model.ram > 0);
    assert.ok(large.context.ram > small.context.ram, `${large.context.ram} > ${small.context.ram}`);
    assert.equal(large.total.ram, large.model.ram + large.context.ram);
  });
});

describe('measuring this machine', () => {
  it('turns a probe into a measure: metal and unified VRAM mean unified memory, no GPU means cpu', () => {
    const os = { ramTotal: 16e9, ramFree: 8e9, cpuCores: 8 };
    const metal = machineFromProbe({ gpu: 'metal', gpuNames: ['Apple M2'], vram: { total: 10e9, free: 10e9, unifiedSize: 10e9 } }, os);
    assert.equal(metal.unifiedMemory, true);
    assert.equal(metal.vramTotal, 10e9);
    const cuda = machineFromProbe({ gpu: 'cuda', gpuNames: ['RTX'], vram: { total: 12e9, free: 11e9, unifiedSize: 0 } }, os);
    assert.equal(cuda.unifiedMemory, false);
    const none = machineFromProbe({ gpu: false, gpuNames: [], vram: { total: 0, free: 0, unifiedSize: 0 } }, os);
    assert.equal(none.gpu, 'cpu');
    assert.equal(machineFromProbe(undefined, os).gpu, 'cpu');
  });

  it('probes the real machine in a child process with node-llama-cpp', async () => {
    const { machine, probeError } = await measureMachine({ cwd: process.cwd() });
    assert.equal(probeError, undefined);
    assert.equal(machine.cpuCores, cpus().length);
    assert.equal(machine.ramTotal, totalmem());
    assert.equal(typeof machine.gpu, 'string');
    if (machine.gpu === 'cpu') assert.equal(machine.vramTotal, 0);
  });

  it('a failing probe falls back to CPU-only with the reason', async () => {
    const { machine, probeError } = await measureMachine({ cwd: '/' });
    assert.equal(machine.gpu, 'cpu');
    assert.match(probeError ?? '', /probe/);
  });
});
