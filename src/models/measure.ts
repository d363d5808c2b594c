// Measures this machine for the recommendation: GPU type and names, VRAM, RAM, cores. node-llama-cpp
// answers the GPU questions, but loading its native binding into the extension host is what the
// engine process exists to avoid, so a short-lived Node child process asks and prints JSON.
import { spawn } from 'node:child_process';
import { cpus, totalmem, freemem } from 'node:os';

import type { MachineMeasure } from './recommend';

export interface LlamaProbe {
  gpu: string | false;
  gpuNames: string[];
  vram: { total: number; free: number; unifiedSize: number };
  ram?: { total: number; free: number };
  cpuMathCores?: number;
}

/** The probe the child runs: ESM import, `gpu: "auto"` with prebuilt binaries only (no compiling). */
const probeScript = `
import('node-llama-cpp').then(async ({ getLlama }) => {
  const llama = await getLlama({ gpu: 'auto', build: 'never', progressLogs: false, logLevel: 'error' });
  const vram = await llama.getVramState();
  const out = { gpu: llama.gpu, gpuNames: await llama.getGpuDeviceNames().catch(() => []), vram: { total: vram.total, free: vram.free, unifiedSize: vram.unifiedSize ?? 0 }, cpuMathCores: llama.cpuMathCores };
  process.stdout.write(JSON.stringify(out));
  await llama.dispose();
  process.exit(0);
}).catch((error) => { process.stderr.write(String(error && error.stack || error)); process.exit(1); });
`;

export function machineFromProbe(
  probe: LlamaProbe | undefined,
  os: { ramTotal: number; ramFree: number; cpuCores: number },
): MachineMeasure {
  const gpu = probe && probe.gpu ? probe.gpu : 'cpu';
  const hasGpu = gpu !== 'cpu';
  return {
    gpu,
    gpuNames: probe?.gpuNames ?? [],
    vramTotal: hasGpu ? (probe?.vram.total ?? 0) : 0,
    vramFree: hasGpu ? (probe?.vram.free ?? 0) : 0,
    ramTotal: os.ramTotal,
    ramFree: os.ramFree,
    cpuCores: os.cpuCores,
    unifiedMemory: hasGpu && (gpu === 'metal' || (probe?.vram.unifiedSize ?? 0) > 0),
  };
}

export interface MeasureOptions {
  /** Folder whose node_modules holds node-llama-cpp (the extension's install folder). */
  cwd: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Runs the probe; on any failure the machine is measured as CPU-only from the OS's numbers. */
export async function measureMachine(options: MeasureOptions): Promise<{ machine: MachineMeasure; probeError?: string }> {
  const os = { ramTotal: totalmem(), ramFree: freemem(), cpuCores: cpus().length };
  try {
    const probe = await runProbe(options);
    return { machine: machineFromProbe(probe, os) };
  } catch (error) {
    return { machine: machineFromProbe(undefined, os), probeError: (error as Error).message };
  }
}

function runProbe(options: MeasureOptions): Promise<LlamaProbe> {
  return new Promise((resolve, reject) => {
    // Under VS Code's Electron, ELECTRON_RUN_AS_NODE makes process.execPath behave as plain Node.
    const child = spawn(process.execPath, ['-e', probeScript], {
      cwd: options.cwd,
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: options.signal,
      timeout: options.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`GPU probe exited with ${code}: ${stderr.trim().split('\n')[0] ?? ''}`));
      try {
        resolve(JSON.parse(stdout) as LlamaProbe);
      } catch {
        reject(new Error(`GPU probe printed no JSON: ${stdout.slice(0, 200)}`));
      }
    });
  });
}
