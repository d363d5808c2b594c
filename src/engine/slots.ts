// The KV slot pool: the context's sequences used as an LRU prompt cache. A request takes the free
// sequence last used for its key (a document's FIM prompt is then mostly in the KV cache already),
// else the least recently used one, whose cached prompt is evicted.
import type { LlamaContext, LlamaContextSequence } from 'node-llama-cpp' with { 'resolution-mode': 'import' };

import { EngineError } from './protocol';

export interface AdaptiveDraft {
  /** Tokens to draft next round: grows while drafts are accepted. */
  draftLength: number;
  /** Plain tokens still to decode before the next draft attempt. */
  cooldown: number;
  /** The next cooldown after a round that did not pay (doubles, up to 256). */
  plainStretch: number;
  /** Measured cost per generated token (moving averages, ms): plain steps and speculative rounds. */
  plainMsPerToken?: number;
  /** Whether any draft token was ever accepted for this document. */
  everAccepted?: boolean;
  /** Draft tokens agreed on between the last two rejections (where the next one is expected). */
  expectedRun?: number;
  /** The last measured run of agreement, and whether it equalled the one before (regular spacing). */
  lastRun?: number;
  regular?: boolean;
  specMsPerToken?: number;
}

export interface Slot {
  seq: LlamaContextSequence;
  draft?: LlamaContextSequence;
  adaptive: { draft?: AdaptiveDraft; lookup?: AdaptiveDraft };
  key: string | null;
  lastUsed: number;
  busy: boolean;
}

export class SlotPool {
  private slots: Slot[] = [];

  /** `onEvict` hears of each cached prompt given up for another key. */
  constructor(private readonly onEvict: (evicted: string, forKey: string) => void) {}

  /**
   * New sequences on a new context (after an adapter switch): every cached prompt is gone, the
   * draft model's sequences are kept (its context does not change).
   */
  reset(context: LlamaContext, draftContext: LlamaContext | undefined, sequences: number): void {
    const drafts = this.slots.map((s) => s.draft);
    this.slots = Array.from({ length: sequences }, (_, i) => ({
      seq: context.getSequence(),
      draft: drafts[i] ?? draftContext?.getSequence(),
      key: null,
      lastUsed: 0,
      busy: false,
      adaptive: {},
    }));
  }

  /** The free sequence last used for `key`, else the least recently used one. */
  acquire(key: string): Slot {
    const free = this.slots.filter((s) => !s.busy);
    if (free.length === 0) throw new EngineError('INTERNAL', 'No free sequence (scheduler concurrency exceeds sequences).');
    // The most recent one when a fallback left the key on two sequences.
    let slot = free.filter((s) => s.key === key).reduce<Slot | undefined>((a, b) => (a && a.lastUsed >= b.lastUsed ? a : b), undefined);
    if (!slot) {
      slot = free.reduce((a, b) =>
        b.key === null && a.key !== null ? b : a.key === null && b.key !== null ? a : b.lastUsed < a.lastUsed ? b : a,
      );
      if (slot.key !== null) this.onEvict(slot.key, key);
      slot.key = key;
      slot.adaptive = {};
    }
    slot.busy = true;
    slot.lastUsed = performance.now();
    return slot;
  }

  release(slot: Slot): void {
    slot.busy = false;
    slot.lastUsed = performance.now();
  }
}
