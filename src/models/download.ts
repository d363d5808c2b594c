// Resumable model download: HTTP(S) with Range requests, progress events, AbortSignal cancel,
// size and sha256 verification. Bytes go to `<name>.partial` next to the final file and are
// renamed into place only once verified, so nothing half-written ever carries the final name.
// Plain Node (fetch follows the hubs' redirects to their CDNs); no vscode.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';

export interface DownloadProgress {
  /** Bytes of the file on disk so far (resumed bytes included). */
  receivedBytes: number;
  totalBytes?: number;
  /** Bytes that were already in the partial file when this download started. */
  resumedFrom: number;
  bytesPerSecond: number;
}

export interface DownloadOptions {
  url: string;
  /** The models folder; created when missing. */
  directory: string;
  fileName: string;
  expectedSize?: number;
  /** Lower-case hex; when given, a file with another hash is refused. */
  sha256?: string;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  /** Minimum milliseconds between progress events (the last one always fires). */
  progressIntervalMs?: number;
  headers?: Record<string, string>;
}

export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  /** Bytes reused from an earlier partial download (0 when it started from scratch). */
  resumedFrom: number;
  /** The final file was already there and verified; nothing was fetched. */
  alreadyPresent: boolean;
}

export type DownloadErrorCode = 'CANCELLED' | 'HTTP' | 'SIZE_MISMATCH' | 'CHECKSUM_MISMATCH' | 'NETWORK';

export class DownloadError extends Error {
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

export function partialPath(directory: string, fileName: string): string {
  return join(directory, `${fileName}.partial`);
}

/** The partial's ETag / Last-Modified, sent back as If-Range so a changed file restarts instead of mixing versions. */
function validatorPath(partial: string): string {
  return `${partial}.validator`;
}

function strongValidator(response: Response): string | undefined {
  const etag = response.headers.get('etag');
  if (etag && !etag.startsWith('W/')) return etag;
  return response.headers.get('last-modified') ?? undefined;
}

async function fileSize(path: string): Promise<number | undefined> {
  return stat(path).then(
    (s) => s.size,
    () => undefined,
  );
}

async function hashInto(hash: Hash, path: string): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await hashInto(hash, path);
  return hash.digest('hex');
}

function cancelled(fileName: string): DownloadError {
  return new DownloadError('CANCELLED', `Download of ${fileName} was cancelled; the partial file is kept so it can resume.`);
}

// Parses `bytes START-END/TOTAL` or `bytes */TOTAL` (416 answers).
function parseContentRange(header: string | null): { start?: number; total?: number } {
  const match = header ? /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/i.exec(header.trim()) : null;
  if (!match) return {};
  return { start: match[1] === undefined ? undefined : Number(match[1]), total: match[2] === '*' ? undefined : Number(match[2]) };
}

async function verify(path: string, size: number, digest: string, options: DownloadOptions): Promise<void> {
  const name = options.fileName;
  if (options.expectedSize !== undefined && size !== options.expectedSize) {
    throw new DownloadError('SIZE_MISMATCH', `${name} is ${size} bytes but ${options.expectedSize} were expected; the download was refused and removed.`);
  }
  if (options.sha256 && digest !== options.sha256.toLowerCase()) {
    throw new DownloadError(
      'CHECKSUM_MISMATCH',
      `${name} has sha256 ${digest} but ${options.sha256.toLowerCase()} was expected; the download was refused and removed (${basename(path)}).`,
    );
  }
}

export async function downloadFile(options: DownloadOptions): Promise<DownloadResult> {
  const { directory, fileName, signal } = options;
  await mkdir(directory, { recursive: true });
  const finalPath = join(directory, fileName);
  const partial = partialPath(directory, fileName);

  const existingSize = await fileSize(finalPath);
  if (existingSize !== undefined) {
    const digest = await sha256File(finalPath);
    await verify(finalPath, existingSize, digest, options);
    return { path: finalPath, size: existingSize, sha256: digest, resumedFrom: 0, alreadyPresent: true };
  }

  if (signal?.aborted) throw cancelled(fileName);
  let resumeFrom = (await fileSize(partial)) ?? 0;
  if (options.expectedSize !== undefined && resumeFrom > options.expectedSize) {
    await rm(partial, { force: true });
    resumeFrom = 0;
  }
  const validator = resumeFrom > 0 ? await readFile(validatorPath(partial), 'utf8').catch(() => undefined) : undefined;
  const rangeHeaders: Record<string, string> = resumeFrom > 0 ? { Range: `bytes=${resumeFrom}-`, ...(validator ? { 'If-Range': validator } : {}) } : {};

  let response: Response;
  try {
    response = await fetch(options.url, {
      headers: { ...options.headers, ...rangeHeaders },
      signal,
      redirect: 'follow',
    });
  } catch (error) {
    if (signal?.aborted) throw cancelled(fileName);
    throw new DownloadError('NETWORK', `Could not reach ${new URL(options.url).host}: ${(error as Error).message}`);
  }

  let totalBytes: number | undefined;
  let offset = 0;
  if (response.status === 416 && resumeFrom > 0) {
    // The partial file already holds every byte the server has.
    await response.body?.cancel();
    const { total } = parseContentRange(response.headers.get('content-range'));
    if (total !== resumeFrom) {
      await rm(partial, { force: true });
      await rm(validatorPath(partial), { force: true });
      return downloadFile(options);
    }
    offset = resumeFrom;
    totalBytes = total;
  } else if (response.status === 206 && resumeFrom > 0) {
    const range = parseContentRange(response.headers.get('content-range'));
    if (range.start !== resumeFrom) {
      await response.body?.cancel();
      await rm(partial, { force: true });
      throw new DownloadError('HTTP', `The server answered a different range (${response.headers.get('content-range')}); the partial file was removed, try again.`);
    }
    offset = resumeFrom;
    totalBytes = range.total;
  } else if (response.status === 200) {
    // A server that ignores Range sends the whole file again: start over.
    offset = 0;
    const length = Number(response.headers.get('content-length'));
    totalBytes = Number.isFinite(length) && length > 0 ? length : undefined;
  } else {
    await response.body?.cancel();
    throw new DownloadError('HTTP', `Downloading ${fileName} failed: HTTP ${response.status} ${response.statusText}`.trim());
  }
  if (totalBytes === undefined && response.status === 206) {
    const length = Number(response.headers.get('content-length'));
    if (Number.isFinite(length)) totalBytes = offset + length;
  }
  totalBytes ??= options.expectedSize;

  const hash = createHash('sha256');
  if (offset > 0) await hashInto(hash, partial);
  else {
    const fresh = strongValidator(response);
    if (fresh) await writeFile(validatorPath(partial), fresh);
    else await rm(validatorPath(partial), { force: true });
  }
  const handle: FileHandle = await open(partial, offset > 0 ? 'a' : 'w');
  let received = offset;
  const started = performance.now();
  let lastEmit = 0;
  const interval = options.progressIntervalMs ?? 100;
  const emit = (force: boolean) => {
    const now = performance.now();
    if (!options.onProgress || (!force && now - lastEmit < interval)) return;
    lastEmit = now;
    const seconds = Math.max((now - started) / 1000, 1e-3);
    options.onProgress({ receivedBytes: received, totalBytes, resumedFrom: offset, bytesPerSecond: (received - offset) / seconds });
  };

  try {
    if (response.status !== 416 && response.body) {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        await handle.write(chunk);
        hash.update(chunk);
        received += chunk.byteLength;
        emit(false);
      }
    }
    await handle.sync();
  } catch (error) {
    await handle.close();
    if (signal?.aborted) throw cancelled(fileName);
    throw new DownloadError('NETWORK', `Downloading ${fileName} stopped after ${received} bytes: ${(error as Error).message}. Run it again to resume.`);
  }
  await handle.close();
  emit(true);

  const digest = hash.digest('hex');
  const expectedSize = options.expectedSize ?? totalBytes;
  try {
    await verify(partial, received, digest, { ...options, expectedSize });
  } catch (error) {
    await rm(partial, { force: true });
    await rm(validatorPath(partial), { force: true });
    throw error;
  }
  await rename(partial, finalPath);
  await rm(validatorPath(partial), { force: true });
  return { path: finalPath, size: received, sha256: digest, resumedFrom: offset, alreadyPresent: false };
}
