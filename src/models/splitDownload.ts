// The larger quantisations come split into parts; node-llama-cpp's downloader resolves an `hf:` URI
// to its parts, downloads and joins them. Like the GPU probe (measure.ts) it runs in a short-lived
// Node child process: loading node-llama-cpp into the extension host is what the engine process
// exists to avoid. The child reports progress as JSON lines; aborting kills it (the partial files
// stay, so choosing the model again resumes).
import { spawn } from 'node:child_process';

export interface SplitDownloadProgress {
  downloadedBytes: number;
  totalBytes: number;
  bytesPerSecond: number;
}

export interface SplitDownloadOptions {
  /** `hf:<repo>:<quant>` */
  modelUri: string;
  directory: string;
  /** Folder whose node_modules holds node-llama-cpp (the extension's install folder). */
  cwd: string;
  signal?: AbortSignal;
  onProgress?: (progress: SplitDownloadProgress) => void;
}

const downloadScript = `
import('node-llama-cpp').then(async ({ createModelDownloader }) => {
  const [modelUri, dirPath] = process.argv.slice(1);
  const say = (message) => process.stdout.write(JSON.stringify(message) + '\\n');
  const downloader = await createModelDownloader({
    modelUri, dirPath, skipExisting: true, deleteTempFileOnCancel: false, showCliProgress: false,
    onProgress: (s) => say({ downloadedBytes: s.downloadedSize, totalBytes: s.totalSize, bytesPerSecond: s.averageSpeed ?? 0 }),
  });
  say({ path: await downloader.download() });
  process.exit(0);
}).catch((error) => { process.stderr.write(String((error && error.message) || error)); process.exit(1); });
`;

/** Downloads a split model; resolves with the path of its first part. */
export function downloadSplitModel(options: SplitDownloadOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    // Under VS Code's Electron, ELECTRON_RUN_AS_NODE makes process.execPath behave as plain Node.
    const child = spawn(process.execPath, ['-e', downloadScript, options.modelUri, options.directory], {
      cwd: options.cwd,
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: options.signal,
    });
    let path: string | undefined;
    let pending = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        let message: Partial<SplitDownloadProgress> & { path?: string };
        try {
          message = JSON.parse(line) as typeof message;
        } catch {
          continue; // not ours: a library's stray output
        }
        if (typeof message.path === 'string') path = message.path;
        else if (typeof message.downloadedBytes === 'number') options.onProgress?.(message as SplitDownloadProgress);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 && path) resolve(path);
      else if (!options.signal?.aborted)
        reject(new Error(`the download process exited with ${code}: ${stderr.trim().split('\n')[0] || 'no reason given'}`));
    });
  });
}
