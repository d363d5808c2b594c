// The codebase chunks retrieved for the question being written, shown as chips before it is sent:
// the view sends the draft as the user types (debounced), the chips follow it, and a chunk whose
// chip the user removed stays out of this question's prompt, even when a later draft finds it again.
import type { Logger } from '../logger';
import { errorMessage } from '../util';
import type { StoredAttachment } from './history';

export type Retrieve = (question: string) => Promise<StoredAttachment[]>;

/** One chunk, whatever id its retrieval gave it: the file and its lines. */
function chunkKey(a: StoredAttachment): string {
  return `${a.uri ?? a.path}:${a.range?.startLine ?? 0}-${a.range?.endLine ?? 0}`;
}

export class RetrievedChips {
  private chips: StoredAttachment[] = [];
  /** The draft the chips were retrieved for. */
  private forText: string | undefined;
  private readonly excluded = new Set<string>();
  /** Bumped by every draft and send: an older retrieval that answers late is dropped. */
  private generation = 0;

  constructor(
    private readonly retrieve: Retrieve | undefined,
    private readonly logger: Logger,
    private readonly onChange: () => void,
  ) {}

  /** The chips to show, leaving out chunks of files the question has attached anyway (their paths). */
  current(attachedPaths: ReadonlySet<string>): StoredAttachment[] {
    return this.chips.filter((c) => !attachedPaths.has(c.path));
  }

  /** Retrieves for the draft; the chips change when it answers, unless a newer draft came first. */
  async draft(text: string): Promise<void> {
    const generation = ++this.generation;
    if (!this.retrieve || text.trim() === '') return this.set([], undefined);
    if (text === this.forText) return;
    const found = await this.search(text);
    if (generation !== this.generation || found === undefined) return;
    this.set(found, text);
  }

  /** Removes a chip (true when `id` was one): its chunk stays out of this question. */
  remove(id: string): boolean {
    const chip = this.chips.find((c) => c.id === id);
    if (!chip) return false;
    this.excluded.add(chunkKey(chip));
    this.set(
      this.chips.filter((c) => c !== chip),
      this.forText,
    );
    return true;
  }

  /**
   * The chunks for the question being sent: the chips shown for this very text (what the user saw
   * is what is sent), else a fresh retrieval; never one whose chip the user removed.
   */
  async forQuestion(text: string): Promise<StoredAttachment[]> {
    this.generation++;
    if (!this.retrieve || text.trim() === '') return [];
    const found = text === this.forText ? this.chips : ((await this.search(text)) ?? []);
    return found.filter((c) => !this.excluded.has(chunkKey(c)));
  }

  /** After a question was sent: no chips, nothing excluded. */
  reset(): void {
    this.generation++;
    this.excluded.clear();
    this.set([], undefined);
  }

  private async search(text: string): Promise<StoredAttachment[] | undefined> {
    try {
      return await this.retrieve?.(text);
    } catch (err) {
      this.logger.warn(`codebase retrieval failed: ${errorMessage(err)}`);
      return undefined;
    }
  }

  private set(chips: StoredAttachment[], forText: string | undefined): void {
    const kept = chips.filter((c) => !this.excluded.has(chunkKey(c)));
    this.forText = forText;
    // The same chunks again keep their chips (and ids: the view may be removing one right now).
    if (kept.length === this.chips.length && kept.every((c, i) => chunkKey(c) === chunkKey(this.chips[i]))) return;
    this.chips = kept;
    this.onChange();
  }
}
