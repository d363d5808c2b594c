// What goes with the question being written: the editor's current selection or file (a chip the
// user may dismiss), the files the user attached, and the codebase chunks retrieved for the draft
// (retrieved.ts). Their content is read when the question is sent; the view hears every change.
import type { Logger } from '../logger';
import { errorMessage } from '../util';
import type { StoredAttachment } from './history';
import type { AttachmentView, HostMessage } from './messages';
import { RetrievedChips, type Retrieve } from './retrieved';
import { describeAttachment } from './session';

export interface PendingAttachment {
  view: AttachmentView;
  /** Reads the content when the question is sent (undefined: the source is gone). */
  resolve(): Promise<StoredAttachment | undefined> | StoredAttachment | undefined;
}

export function attachmentView(a: StoredAttachment): AttachmentView {
  return { id: a.id, kind: a.kind, label: a.label, detail: describeAttachment(a) };
}

export class QuestionAttachments {
  private auto: PendingAttachment | undefined;
  private autoDismissed = false;
  private explicit: PendingAttachment[] = [];
  /** The codebase chunks retrieved for the draft: chips the user can remove before sending. */
  private readonly retrieved: RetrievedChips;

  constructor(
    retrieve: Retrieve | undefined,
    private readonly logger: Logger,
    private readonly post: (message: HostMessage) => void,
  ) {
    this.retrieved = new RetrievedChips(retrieve, logger, () => this.postViews());
  }

  views(): AttachmentView[] {
    const views = this.explicit.map((a) => a.view);
    if (this.auto && !this.autoDismissed && !views.some((v) => v.id === this.auto?.view.id))
      views.unshift({ ...this.auto.view, auto: true });
    const attachedPaths = new Set(views.map((v) => v.detail ?? v.label));
    return [...views, ...this.retrieved.current(attachedPaths).map(attachmentView)];
  }

  /** The editor's current selection or file; a different one than before shows its chip again. */
  setAuto(attachment: PendingAttachment | undefined): void {
    if (attachment?.view.id === this.auto?.view.id && attachment?.view.label === this.auto?.view.label) {
      this.auto = attachment;
      return;
    }
    this.auto = attachment;
    this.autoDismissed = false;
    this.postViews();
  }

  add(attachment: PendingAttachment): void {
    this.explicit = [...this.explicit.filter((a) => a.view.id !== attachment.view.id), attachment];
    this.postViews();
  }

  /** The question as the user is writing it: its codebase chunks show as chips (debounced by the view). */
  draft(text: string): Promise<void> {
    return this.retrieved.draft(text);
  }

  remove(id: string): void {
    if (this.retrieved.remove(id)) return;
    if (this.auto?.view.id === id) this.autoDismissed = true;
    this.explicit = this.explicit.filter((a) => a.view.id !== id);
    this.postViews();
  }

  /**
   * The content of `given`, or of what the chips show (the editor's unless dismissed, then the
   * user's); one that cannot be read is left out, and the user told.
   */
  async read(given?: PendingAttachment[]): Promise<StoredAttachment[]> {
    const pending = given ?? [...(this.auto && !this.autoDismissed ? [this.auto] : []), ...this.explicit];
    const resolved: StoredAttachment[] = [];
    for (const p of pending) {
      try {
        const a = await p.resolve();
        if (a) resolved.push(a);
      } catch (err) {
        this.logger.warn(`attachment ${p.view.label} could not be read: ${errorMessage(err)}`);
        this.post({ type: 'notice', level: 'warning', text: `${p.view.label} could not be read and was not attached.` });
      }
    }
    return resolved;
  }

  /** The codebase chunks for the question `text`, leaving out files in `attached`. */
  async retrievedFor(text: string, attached: readonly StoredAttachment[]): Promise<StoredAttachment[]> {
    const paths = new Set(attached.map((a) => a.path));
    return (await this.retrieved.forQuestion(text)).filter((found) => !paths.has(found.path));
  }

  /** After a question was sent with the chips: none left, the editor's chip shows again. */
  clear(): void {
    this.explicit = [];
    this.autoDismissed = false;
    this.retrieved.reset();
    this.postViews();
  }

  private postViews(): void {
    this.post({ type: 'attachments', attachments: this.views() });
  }
}
