import assert from 'node:assert/strict';
import { cpus, totalmem } from 'node:os';
import { describe, it } from 'node:test';

import { machineFromProbe, measureMachine } from '../../src/models/measure';

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
