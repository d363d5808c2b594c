// Resumable model download: HTTP(S) with Range requests, progress events, AbortSignal cancel,
// size and sha256 verification. Bytes go to `<name>.partial` next to the final file and are
// renamed into place only once verified, so nothing half-written ever carries the final name.
// A resume is sent only with a validator (If-Range), one download per file at a time (a lock
// file), redirects only to the model host's own https hosts, and Hugging Face's own record of an
// LFS file (X-Linked-Etag = its sha256, X-Linked-Size) checks what the CDN sent. Plain Node.
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
  /** The size the catalog gives (rounded): an answer far from it is refused before any byte is written. */
  approximateSize?: number;
  /** Which redirect targets may be followed; default `isModelHostUrl` (https on Hugging Face's hosts). */
  allowRedirect?: (url: URL) => boolean;
}

export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  /** Bytes reused from an earlier partial download (0 when it started from scratch). */
  resumedFrom: number;
  /** The final file was already there and verified; nothing was fetched. */
  alreadyPresent: boolean;
  /** Where the sha256 it was checked against came from; undefined: only the size was checked. */
  checksumSource?: 'caller' | 'host';
}

export type DownloadErrorCode =
  'CANCELLED' | 'HTTP' | 'SIZE_MISMATCH' | 'CHECKSUM_MISMATCH' | 'NETWORK' | 'DISK_FULL' | 'BUSY' | 'REDIRECT';

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
export function validatorPath(partial: string): string {
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

async function verify(
  path: string,
  size: number,
  digest: string,
  options: Pick<DownloadOptions, 'fileName' | 'expectedSize' | 'sha256'>,
): Promise<void> {
  const name = options.fileName;
  if (options.expectedSize !== undefined && size !== options.expectedSize) {
    throw new DownloadError(
      'SIZE_MISMATCH',
      `${name} is ${size} bytes but ${options.expectedSize} were expected; the download was refused and removed.`,
    );
  }
  if (options.sha256 && digest !== options.sha256.toLowerCase()) {
    throw new DownloadError(
      'CHECKSUM_MISMATCH',
      `${name} has sha256 ${digest} but ${options.sha256.toLowerCase()} was expected; the download was refused and removed (${basename(path)}).`,
    );
  }
}

/** Hugging Face and the hosts it redirects downloads to (its LFS CDN, its Xet storage bridge). */
const MODEL_HOST_DOMAINS = ['huggingface.co', 'hf.co'];

/** The default redirect policy: https only, and only to Hugging Face's own hosts. */
export function isModelHostUrl(url: URL): boolean {
  if (url.protocol !== 'https:' || url.username || url.password) return false;
  const host = url.hostname.toLowerCase();
  return MODEL_HOST_DOMAINS.some((domain) => host === domain || host.endsWith(`.${domain}`));
}

const MAX_REDIRECTS = 5;

/** What the hub says about the file on a redirect to its CDN (Hugging Face, LFS files). */
interface HostRecord {
  sha256?: string;
  size?: number;
}

/** fetch, following redirects by hand so each hop is checked and the hub's headers are seen. */
async function fetchChecked(
  options: DownloadOptions,
  rangeHeaders: Record<string, string>,
): Promise<{ response: Response; host: HostRecord }> {
  const allow = options.allowRedirect ?? isModelHostUrl;
  const host: HostRecord = {};
  let url = new URL(options.url);
  for (let hop = 0; ; hop++) {
    let response: Response;
    try {
      // The caller's headers go to the first host only; a CDN gets the range and nothing else.
      response = await fetch(url, {
        headers: { ...(hop === 0 ? options.headers : {}), ...rangeHeaders },
        signal: options.signal,
        redirect: 'manual',
      });
    } catch (error) {
      if (options.signal?.aborted) throw cancelled(options.fileName);
      throw new DownloadError('NETWORK', `Could not reach ${url.host}: ${(error as Error).message}`);
    }
    const linkedEtag = /^(?:W\/)?"?([0-9a-f]{64})"?$/i.exec(response.headers.get('x-linked-etag')?.trim() ?? '');
    if (linkedEtag) host.sha256 = linkedEtag[1].toLowerCase();
    const linkedSize = Number(response.headers.get('x-linked-size') ?? NaN);
    if (Number.isSafeInteger(linkedSize) && linkedSize > 0) host.size = linkedSize;
    if (![301, 302, 303, 307, 308].includes(response.status)) return { response, host };
    await response.body?.cancel();
    const location = response.headers.get('location');
    if (!location) throw new DownloadError('HTTP', `${url.host} answered a redirect without a location.`);
    const next = new URL(location, url);
    if (!allow(next)) {
      throw new DownloadError(
        'REDIRECT',
        `The download of ${options.fileName} was redirected to ${next.protocol}//${next.host}, which is not one of the model host's own https servers; it was not followed.`,
      );
    }
    if (hop + 1 >= MAX_REDIRECTS)
      throw new DownloadError('REDIRECT', `The download of ${options.fileName} was redirected more than ${MAX_REDIRECTS} times.`);
    url = next;
  }
}

function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

function diskFull(options: DownloadOptions, received: number): DownloadError {
  return new DownloadError(
    'DISK_FULL',
    `The disk holding ${options.directory} is full (after ${received} bytes of ${options.fileName}). Free some space and download again: it resumes where it stopped.`,
  );
}

/** Whether a process with this id is running (a lock left by one that is gone may be taken over). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `<partial>.lock` exclusively (O_EXCL), so two downloads never write one partial file. */
async function lockPartial(partial: string, fileName: string): Promise<() => Promise<void>> {
  const lock = `${partial}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && processAlive(holder)) {
        throw new DownloadError('BUSY', `${fileName} is already being downloaded (process ${holder}); wait for that download to finish.`);
      }
      await rm(lock, { force: true });
    }
  }
  throw new DownloadError('BUSY', `${fileName} is already being downloaded; wait for that download to finish.`);
}

export async function downloadFile(options: DownloadOptions): Promise<DownloadResult> {
  const { directory, fileName } = options;
  await mkdir(directory, { recursive: true });
  const partial = partialPath(directory, fileName);
  const unlock = await lockPartial(partial, fileName);
  try {
    return await downloadLocked(options);
  } catch (error) {
    if (isDiskFull(error)) throw diskFull(options, 0);
    throw error;
  } finally {
    await unlock();
  }
}

async function downloadLocked(options: DownloadOptions): Promise<DownloadResult> {
  const { directory, fileName, signal } = options;
  const finalPath = join(directory, fileName);
  const partial = partialPath(directory, fileName);

  const existingSize = await fileSize(finalPath);
  if (existingSize !== undefined) {
    const digest = await sha256File(finalPath);
    await verify(finalPath, existingSize, digest, options);
    return {
      path: finalPath,
      size: existingSize,
      sha256: digest,
      resumedFrom: 0,
      alreadyPresent: true,
      checksumSource: options.sha256 ? 'caller' : undefined,
    };
  }

  if (signal?.aborted) throw cancelled(fileName);
  let resumeFrom = (await fileSize(partial)) ?? 0;
  const validator = resumeFrom > 0 ? await readFile(validatorPath(partial), 'utf8').catch(() => undefined) : undefined;
  if ((options.expectedSize !== undefined && resumeFrom > options.expectedSize) || (resumeFrom > 0 && !validator)) {
    // Without a validator a Range request could splice two versions of the file: start over.
    await rm(partial, { force: true });
    resumeFrom = 0;
  }
  const rangeHeaders: Record<string, string> = resumeFrom > 0 && validator ? { Range: `bytes=${resumeFrom}-`, 'If-Range': validator } : {};
  const { response, host } = await fetchChecked(options, rangeHeaders);

  let totalBytes: number | undefined;
  let offset = 0;
  if (response.status === 416 && resumeFrom > 0) {
    // The partial file already holds every byte the server has.
    await response.body?.cancel();
    const { total } = parseContentRange(response.headers.get('content-range'));
    if (total !== resumeFrom) {
      await rm(partial, { force: true });
      await rm(validatorPath(partial), { force: true });
      return downloadLocked(options);
    }
    offset = resumeFrom;
    totalBytes = total;
  } else if (response.status === 206 && resumeFrom > 0) {
    const range = parseContentRange(response.headers.get('content-range'));
    if (range.start !== resumeFrom) {
      await response.body?.cancel();
      await rm(partial, { force: true });
      throw new DownloadError(
        'HTTP',
        `The server answered a different range (${response.headers.get('content-range')}); the partial file was removed, try again.`,
      );
    }
    offset = resumeFrom;
    totalBytes = range.total;
  } else if (response.status === 200) {
    // A server that ignores Range (or a file that changed: If-Range) sends the whole file: start over.
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
  // The hub's own record of the file outranks what the CDN says it is sending.
  const expectedSize = options.expectedSize ?? host.size ?? totalBytes;
  totalBytes = expectedSize ?? totalBytes;
  const approx = options.approximateSize;
  if (approx !== undefined && expectedSize !== undefined && Math.abs(expectedSize - approx) > approx * 0.15) {
    await response.body?.cancel();
    throw new DownloadError(
      'SIZE_MISMATCH',
      `The server offers ${fileName} as ${expectedSize} bytes, far from the ~${approx} expected; nothing was downloaded.`,
    );
  }

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
    await handle.close().catch(() => undefined);
    if (isDiskFull(error)) throw diskFull(options, received);
    if (signal?.aborted) throw cancelled(fileName);
    throw new DownloadError(
      'NETWORK',
      `Downloading ${fileName} stopped after ${received} bytes: ${(error as Error).message}. Run it again to resume.`,
    );
  }
  await handle.close();
  emit(true);

  const digest = hash.digest('hex');
  try {
    await verify(partial, received, digest, { fileName, expectedSize, sha256: options.sha256 });
    if (host.sha256) await verify(partial, received, digest, { fileName, sha256: host.sha256 });
  } catch (error) {
    await rm(partial, { force: true });
    await rm(validatorPath(partial), { force: true });
    throw error;
  }
  await rename(partial, finalPath);
  await rm(validatorPath(partial), { force: true });
  const checksumSource = options.sha256 ? 'caller' : host.sha256 ? 'host' : undefined;
  return { path: finalPath, size: received, sha256: digest, resumedFrom: offset, alreadyPresent: false, checksumSource };
}
