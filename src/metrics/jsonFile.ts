// A versioned JSON file that survives crashes and bad content: written to a temporary file and
// renamed over the old one (a reader sees the old or the new file, never half of one); a file that
// cannot be read as this version (corrupt, or written by a newer Enclave) is renamed aside to
// `<name>.bad-<time>` — kept for the user, never overwritten — and the caller starts fresh.
import * as fsSync from 'node:fs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export type LoadResult<T> =
  | { kind: 'missing' }
  | { kind: 'loaded'; data: T }
  /** The file was moved to `setAsidePath`; `reason` says why. */
  | { kind: 'setAside'; setAsidePath: string; reason: string };

/** Checks parsed JSON of the expected version; returns the data or throws with what is wrong. */
export type Validate<T> = (value: { version: number } & Record<string, unknown>) => T;

export async function loadVersioned<T>(file: string, version: number, validate: Validate<T>, now = Date.now()): Promise<LoadResult<T>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  let reason: string;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    const found = (parsed as { version?: unknown }).version;
    if (typeof found !== 'number') throw new Error('no version');
    if (found > version) throw new Error(`written by a newer Enclave (format ${found}, this one reads ${version})`);
    if (found !== version) throw new Error(`unknown format ${found}`);
    return { kind: 'loaded', data: validate(parsed as { version: number } & Record<string, unknown>) };
  } catch (err) {
    reason = err instanceof Error ? err.message : String(err);
  }
  const setAsidePath = `${file}.bad-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
  await fs.rename(file, setAsidePath);
  return { kind: 'setAside', setAsidePath, reason };
}

let sequence = 0;

/** Writes `data` as JSON to `file` atomically (temp file in the same folder, then rename). */
export async function writeAtomic(file: string, data: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.tmp-${process.pid}-${++sequence}`;
  try {
    await fs.writeFile(temp, JSON.stringify(data), 'utf8');
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
}

/** writeAtomic for the extension's last moment (deactivation cannot wait for a promise). */
export function writeAtomicSync(file: string, data: unknown): void {
  fsSync.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.tmp-${process.pid}-${++sequence}`;
  fsSync.writeFileSync(temp, JSON.stringify(data), 'utf8');
  fsSync.renameSync(temp, file);
}
