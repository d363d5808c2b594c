// Memory estimate for a GGUF file at hand, from node-llama-cpp's GgufInsights (the same
// arithmetic llama.cpp uses when loading) instead of the catalog's figures. Reads only the header.
import { stat } from 'node:fs/promises';

type NodeLlamaCpp = typeof import('node-llama-cpp', { with: { 'resolution-mode': 'import' } });
let nodeLlamaCpp: Promise<NodeLlamaCpp> | undefined;
function loadNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  return (nodeLlamaCpp ??= import('node-llama-cpp'));
}

export interface FileEstimate {
  name?: string;
  architecture?: string;
  fileBytes: number;
  parameters: number;
  totalLayers: number;
  trainContextSize?: number;
  /** Weights, with every layer on the GPU (or all in RAM when gpuLayers is 0). */
  model: { vram: number; ram: number };
  /** KV cache and compute buffers for the requested context. */
  context: { vram: number; ram: number };
  total: { vram: number; ram: number };
}

export interface FileEstimateOptions {
  contextSize?: number;
  batchSize?: number;
  sequences?: number;
  /** Layers offloaded to the GPU; default all of them. 0 = CPU only. */
  gpuLayers?: number;
}

export async function estimateModelFile(path: string, options: FileEstimateOptions = {}): Promise<FileEstimate> {
  const { readGgufFileInfo, GgufInsights } = await loadNodeLlamaCpp();
  const fileBytes = (await stat(path)).size;
  const info = await readGgufFileInfo(path, { logWarnings: false, ignoreKeys: ['tokenizer.ggml.merges'] });
  // Without a Llama instance GgufInsights uses a slim one that never touches the GPU.
  const insights = await GgufInsights.from(info);
  const gpuLayers = options.gpuLayers ?? insights.totalLayers;
  const model = await insights.estimateModelResourceRequirementsV2({ gpuLayers });
  const context = await insights.estimateContextResourceRequirementsV2({
    contextSize: options.contextSize ?? 8192,
    batchSize: options.batchSize ?? 512,
    sequences: options.sequences ?? 1,
    modelGpuLayers: gpuLayers,
  });
  const general = info.metadata.general as { name?: string; architecture?: string } | undefined;
  return {
    name: general?.name,
    architecture: general?.architecture,
    fileBytes,
    parameters: insights.totalParameters,
    totalLayers: insights.totalLayers,
    trainContextSize: insights.trainContextSize,
    model: { vram: model.gpuVram, ram: model.cpuRam },
    context: { vram: context.gpuVram, ram: context.cpuRam },
    total: { vram: model.gpuVram + context.gpuVram, ram: model.cpuRam + context.cpuRam },
  };
}
