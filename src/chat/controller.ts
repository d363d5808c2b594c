// The chat's state machine, free of vscode: the current conversation, what is attached to the next
// question (attachments.ts), and the reply being streamed. The view shell feeds it webview messages
// and editor context; it talks to the engine through `Backend` and writes every change to the
// history store.
import { LRUCache } from 'lru-cache';

import { type Backend, EngineError } from '../engine/protocol';
import type { Logger } from '../logger';
import { type Conversation, type HistoryStore, newId, type StoredAttachment, type StoredMessage, titleFor } from './history';
import type { AttachmentView, ConversationView, HostMessage, MessageView } from './messages';
import type { RulesText } from '../rules/prompt';
import { planReply, PromptTooLargeError } from './session';
import { errorMessage } from '../util';
import { attachmentView, QuestionAttachments, type PendingAttachment } from './attachments';

export type { PendingAttachment } from './attachments';

export interface ChatControllerOptions {
  store: HistoryStore;
  backend: () => Backend;
  settings: () => { maxTokens: number; temperature: number };
  post: (message: HostMessage) => void;
  logger: Logger;
  system?: string;
  now?: () => number;
  /** The host questions are sent to when not this machine (a remote backend); the view says so. */
  destination?: () => string | undefined;
  /** How often a reply being streamed is written to disk. */
  saveIntervalMs?: number;
  /** The project's rules files for the system prompt (undefined: none, off or untrusted). */
  rules?: () => Promise<RulesText | undefined>;
  /** Chunks of the workspace for a question (the codebase index); they go with it as attachments. */
  retrieve?: (question: string) => Promise<StoredAttachment[]>;
}

interface ActiveReply {
  conversation: Conversation;
  message: StoredMessage;
  abort: AbortController;
  /** Set once the reply's final state is decided (done, stopped, failed); later events are ignored. */
  finished: boolean;
  saveTimer?: ReturnType<typeof setTimeout>;
}

export function messageView(m: StoredMessage): MessageView {
  const view: MessageView = { id: m.id, role: m.role, content: m.content, time: m.time };
  if (m.attachments?.length) view.attachments = m.attachments.map(attachmentView);
  if (m.status) view.status = m.status;
  if (m.error) view.error = m.error;
  if (m.note) view.note = m.note;
  return view;
}

export class ChatController {
  private conversation: Conversation;
  private readonly attachments: QuestionAttachments;
  private active: ActiveReply | undefined;
  private sending = false;
  private readonly tokenCounts = new LRUCache<string, number>({ max: 2_000 });
  private readonly now: () => number;
  private restoring: Promise<void> = Promise.resolve();

  constructor(private readonly options: ChatControllerOptions) {
    this.now = options.now ?? Date.now;
    this.attachments = new QuestionAttachments(options.retrieve, options.logger, (message) => this.post(message));
    this.conversation = this.emptyConversation();
  }

  /** A question is being sent or answered. */
  get busy(): boolean {
    return this.active !== undefined || this.sending;
  }

  get current(): Readonly<Conversation> {
    return this.conversation;
  }

  private emptyConversation(): Conversation {
    const now = this.now();
    return { version: 1, id: newId(now), title: 'New chat', created: now, updated: now, messages: [] };
  }

  private post(message: HostMessage): void {
    this.options.post(message);
  }

  /** Opens the most recent conversation, so a reloaded window shows where the user left off. */
  restore(): Promise<void> {
    this.restoring = (async () => {
      const [latest] = await this.options.store.list();
      const conversation = latest && (await this.options.store.load(latest.id));
      if (conversation && this.conversation.messages.length === 0) this.conversation = conversation;
    })().catch((err: unknown) => {
      this.options.logger.error(err instanceof Error ? err : String(err));
      this.post({ type: 'notice', level: 'error', text: `The chat history could not be read: ${errorMessage(err)}` });
    });
    return this.restoring;
  }

  async state(): Promise<HostMessage> {
    await this.restoring;
    return {
      type: 'state',
      conversation: this.conversationView(),
      chats: await this.options.store.list(),
      attachments: this.attachmentViews(),
      busy: this.busy,
      destination: this.options.destination?.() ?? '',
    };
  }

  async postState(): Promise<void> {
    this.post(await this.state());
    await this.postRules();
  }

  /** Tells the view which rules files go with each question (its "Rules:" chip). */
  async postRules(): Promise<void> {
    const rules = await this.readRules();
    this.post({ type: 'rules', files: rules?.files.map((f) => f.path) ?? [] });
  }

  private async readRules(): Promise<RulesText | undefined> {
    try {
      return await this.options.rules?.();
    } catch (err) {
      this.options.logger.warn(`the project rules could not be read: ${errorMessage(err)}`);
      return undefined;
    }
  }

  private conversationView(): ConversationView {
    return { id: this.conversation.id, title: this.conversation.title, messages: this.conversation.messages.map(messageView) };
  }

  // — attachments —

  attachmentViews(): AttachmentView[] {
    return this.attachments.views();
  }

  /** The editor's current selection or file; a different one than before shows its chip again. */
  setAuto(attachment: PendingAttachment | undefined): void {
    this.attachments.setAuto(attachment);
  }

  addAttachment(attachment: PendingAttachment): void {
    this.attachments.add(attachment);
  }

  /** The question as the user is writing it: its codebase chunks show as chips (debounced by the view). */
  draft(text: string): Promise<void> {
    return this.attachments.draft(text);
  }

  removeAttachment(id: string): void {
    this.attachments.remove(id);
  }

  // — conversation —

  /**
   * Asks a question. `attachments` replaces what the chips show (editor commands attach exactly
   * the selection they were run on). Resolves when the reply has ended.
   */
  async send(text: string, attachments?: PendingAttachment[]): Promise<void> {
    if (this.busy) {
      this.post({ type: 'notice', level: 'warning', text: 'Wait for the reply to finish, or press Stop.' });
      return;
    }
    this.sending = true;
    let conversation: Conversation;
    try {
      await this.restoring;
      const resolved = await this.attachments.read(attachments);
      if (text.trim() === '' && resolved.length === 0) return;
      resolved.push(...(await this.attachments.retrievedFor(text, resolved)));
      if (!attachments) this.attachments.clear();
      conversation = this.conversation;
      const user: StoredMessage = { id: newId(this.now()), role: 'user', content: text, time: this.now() };
      if (resolved.length > 0) user.attachments = resolved;
      conversation.messages.push(user);
      if (conversation.messages.length === 1) conversation.title = titleFor(conversation);
      conversation.updated = this.now();
      this.post({ type: 'message', message: messageView(user) });
    } finally {
      this.sending = false;
    }
    await this.reply(conversation);
  }

  /** Answers the last user message of `conversation`, streaming into a new assistant message. */
  private async reply(conversation: Conversation): Promise<void> {
    const message: StoredMessage = { id: newId(this.now()), role: 'assistant', content: '', time: this.now(), status: 'streaming' };
    conversation.messages.push(message);
    const active: ActiveReply = { conversation, message, abort: new AbortController(), finished: false };
    this.active = active;
    this.post({ type: 'message', message: messageView(message) });
    this.post({ type: 'busy', busy: true });
    try {
      await this.options.store.save(conversation);
      this.post({ type: 'chats', chats: await this.options.store.list() });
    } catch (err) {
      this.post({ type: 'notice', level: 'error', text: `The chat could not be saved: ${errorMessage(err)}` });
    }

    const started = this.now();
    try {
      const backend = this.options.backend();
      const settings = this.options.settings();
      const plan = await planReply({
        backend,
        system: this.options.system,
        rules: await this.readRules(),
        turns: conversation.messages.slice(0, -1),
        maxTokens: settings.maxTokens,
        countTokens: (text: string) => this.countTokens(backend, text),
      });
      if (active.finished) return;
      if (plan.note) {
        message.note = plan.note;
        this.post({ type: 'message', message: messageView(message) });
      }
      const result = await backend.chat(
        { messages: plan.messages, maxTokens: plan.maxTokens, temperature: settings.temperature },
        {
          signal: active.abort.signal,
          onText: (chunk) => {
            if (active.finished || chunk === '') return;
            message.content += chunk;
            this.post({ type: 'chunk', messageId: message.id, text: chunk });
            this.scheduleSave(active);
          },
        },
      );
      if (active.finished) return;
      if (result.text && result.text.length >= message.content.length) message.content = result.text;
      message.status = result.stats.stopReason === 'abort' ? 'stopped' : 'complete';
      message.stats = {
        promptTokens: result.stats.promptTokens,
        generatedTokens: result.stats.generatedTokens,
        totalMs: Math.round(this.now() - started),
      };
    } catch (err) {
      if (active.finished) return;
      if (active.abort.signal.aborted || (err instanceof EngineError && err.code === 'CANCELLED')) {
        message.status = 'stopped';
      } else {
        this.options.logger.error(err instanceof Error ? err : String(err));
        message.status = message.content === '' ? 'error' : 'interrupted';
        message.error = describeFailure(err, message.content !== '');
      }
    } finally {
      if (!active.finished) await this.finish(active);
    }
  }

  private async countTokens(backend: Backend, text: string): Promise<number> {
    const cached = this.tokenCounts.get(text);
    if (cached !== undefined) return cached;
    const n = await backend.countTokens(text);
    this.tokenCounts.set(text, n);
    return n;
  }

  private scheduleSave(active: ActiveReply): void {
    if (active.saveTimer) return;
    active.saveTimer = setTimeout(() => {
      active.saveTimer = undefined;
      if (!active.finished) this.options.store.save(active.conversation).catch(() => undefined);
    }, this.options.saveIntervalMs ?? 250);
  }

  /** Settles the active reply: on disk, on screen, and no longer busy. */
  private async finish(active: ActiveReply): Promise<void> {
    active.finished = true;
    if (active.saveTimer) clearTimeout(active.saveTimer);
    active.saveTimer = undefined;
    if (this.active === active) this.active = undefined;
    active.conversation.updated = this.now();
    if (active.conversation === this.conversation) this.post({ type: 'message', message: messageView(active.message) });
    this.post({ type: 'busy', busy: this.busy });
    try {
      await this.options.store.save(active.conversation);
    } catch (err) {
      this.post({ type: 'notice', level: 'error', text: `The chat could not be saved: ${errorMessage(err)}` });
    }
  }

  /** Stops the reply at once: the text so far is kept and marked as stopped. */
  async stop(): Promise<void> {
    const active = this.active;
    if (!active || active.finished) return;
    active.message.status = 'stopped';
    active.abort.abort();
    await this.finish(active);
  }

  /** Answers the last question again, replacing the reply to it. */
  async regenerate(): Promise<void> {
    if (this.busy) return;
    const conversation = this.conversation;
    while (conversation.messages.at(-1)?.role === 'assistant') conversation.messages.pop();
    if (conversation.messages.length === 0) return;
    await this.postState();
    await this.reply(conversation);
  }

  async newChat(): Promise<void> {
    await this.stop();
    if (this.conversation.messages.length > 0) this.conversation = this.emptyConversation();
    await this.postState();
  }

  async open(id: string): Promise<void> {
    await this.stop();
    const conversation = await this.options.store.load(id);
    if (!conversation) {
      this.post({ type: 'notice', level: 'warning', text: 'That chat could not be opened.' });
      await this.postState();
      return;
    }
    this.conversation = conversation;
    await this.postState();
  }

  async delete(id: string): Promise<void> {
    if (this.active?.conversation.id === id) await this.stop();
    await this.options.store.delete(id);
    if (this.conversation.id === id) this.conversation = this.emptyConversation();
    await this.postState();
  }

  /** An assistant message of the current conversation, and the question it answers. */
  findReply(messageId: string): { reply: StoredMessage; question?: StoredMessage } | undefined {
    const messages = this.conversation.messages;
    const index = messages.findIndex((m) => m.id === messageId);
    if (index < 0) return undefined;
    const question = messages
      .slice(0, index)
      .reverse()
      .find((m) => m.role === 'user');
    return { reply: messages[index], question };
  }

  /** Stops a running reply (kept as interrupted) and waits for the history to be on disk. */
  async dispose(): Promise<void> {
    const active = this.active;
    if (active && !active.finished) {
      active.message.status = 'interrupted';
      active.message.error = 'The window closed before this reply was finished.';
      active.abort.abort();
      await this.finish(active);
    }
    await this.options.store.flush();
  }
}

/** What went wrong with a reply, and what to do next. */
export function describeFailure(err: unknown, partial: boolean, retry = 'Regenerate'): string {
  const kept = partial ? ` The partial reply is kept; ${retry} to try again.` : ` ${retry} to try again.`;
  if (err instanceof PromptTooLargeError) return err.message;
  if (err instanceof EngineError) {
    switch (err.code) {
      case 'ENGINE_CRASHED':
        return `The engine stopped while answering (${err.message}).${kept}`;
      case 'MODEL_NOT_FOUND':
      case 'ENGINE_UNAVAILABLE':
        return `${err.message} Choose a model with "Enclave: Choose a Model for This Machine".`;
      default:
        return `${err.message}${kept}`;
    }
  }
  return `${errorMessage(err)}${kept}`;
}
