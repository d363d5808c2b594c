// Kept results of "Benchmark This Machine" and "Evaluate on This Repository": the last runs in a
// versioned JSON file under globalStorage, so a new run is compared with the previous one.
import { loadVersioned, writeAtomic, type LoadResult, type Validate } from './jsonFile';

export const RUNS_FORMAT = 1;

export class RunsFile<T> {
  private runs?: T[];

  constructor(
    readonly file: string,
    private readonly validate: Validate<{ runs: T[] }>,
    private readonly keep = 20,
    private readonly onSetAside: (result: Extract<LoadResult<unknown>, { kind: 'setAside' }>) => void = () => {},
  ) {}

  async all(): Promise<T[]> {
    if (!this.runs) {
      const result = await loadVersioned(this.file, RUNS_FORMAT, this.validate);
      if (result.kind === 'setAside') this.onSetAside(result);
      this.runs = result.kind === 'loaded' ? result.data.runs : [];
    }
    return this.runs;
  }

  /** The newest run and the one before it. */
  async latest(): Promise<{ last?: T; previous?: T }> {
    const runs = await this.all();
    return { last: runs[runs.length - 1], previous: runs[runs.length - 2] };
  }

  async add(run: T): Promise<void> {
    const runs = [...(await this.all()), run].slice(-this.keep);
    this.runs = runs;
    await writeAtomic(this.file, { version: RUNS_FORMAT, runs });
  }
}
