// Chat history on disk: one JSON file per conversation in a folder per workspace. Every change is
// written through (temp file + rename, so a crash leaves the old or the new file, never half of
// one); a file that cannot be read is set aside as `<id>.corrupt-<time>.json`, never dropped.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import type { Logger } from '../logger';
import { type AttachmentKind, type ChatSummary, ID, type MessageStatus } from './messages';
import { arrayOf, bool, num, oneOf, optional, pattern, shape, str } from './validate';
import { errorMessage } from '../util';

export interface StoredRange {
  startLine: number;
  startCharacter: number;
  endLine: number;
  endCharacter: number;
}

export interface StoredAttachment {
  id: string;
  kind: AttachmentKind;
  label: string;
  /** Workspace-relative path (or the file name) for the prompt. */
  path: string;
  /** The document's URI, so Apply can find the file again. */
  uri?: string;
  range?: StoredRange;
  language?: string;
  /** The text as it was sent. */
  content: string;
  truncated?: boolean;
}

export interface StoredMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  time: number;
  attachments?: StoredAttachment[];
  status?: MessageStatus;
  error?: string;
  note?: string;
  stats?: { promptTokens: number; generatedTokens: number; totalMs: number };
}

export interface Conversation {
  version: 1;
  id: string;
  title: string;
  created: number;
  updated: number;
  messages: StoredMessage[];
}

const range = shape({ startLine: num, startCharacter: num, endLine: num, endCharacter: num });
const attachment = shape({
  id: pattern(ID),
  kind: oneOf('selection', 'file', 'codebase'),
  label: str(500),
  path: str(4_000),
  uri: optional(str(8_000)),
  range: optional(range),
  language: optional(str(64)),
  content: str(10_000_000),
  truncated: optional(bool),
});
const conversationCheck = shape({
  version: oneOf(1),
  id: pattern(ID),
  title: str(500),
  created: num,
  updated: num,
  messages: arrayOf(
    shape({
      id: pattern(ID),
      role: oneOf('user', 'assistant'),
      content: str(10_000_000),
      time: num,
      attachments: optional(arrayOf(attachment, 1_000)),
      status: optional(oneOf('streaming', 'complete', 'stopped', 'interrupted', 'error')),
      error: optional(str(10_000)),
      note: optional(str(10_000)),
      stats: optional(shape({ promptTokens: num, generatedTokens: num, totalMs: num })),
    }),
    100_000,
  ),
});

/** Why a problem is shown to the user: a history file was set aside. */
export type HistoryWarning = (message: string) => void;

export interface HistoryStoreOptions {
  logger: Logger;
  onWarning?: HistoryWarning;
  now?: () => number;
}

/** The folder name for one workspace: readable, and unique per workspace identity (URI). */
export function workspaceKey(identity: string | undefined, name: string | undefined): string {
  if (!identity) return 'no-workspace';
  const slug =
    (name ?? 'workspace')
      .replace(/[^A-Za-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'workspace';
  return `${slug}-${createHash('sha256').update(identity).digest('hex').slice(0, 12)}`;
}

export function newId(now = Date.now()): string {
  return `${now.toString(36)}-${randomBytes(5).toString('hex')}`;
}

/** The conversation title: the first user message's first line, shortened. */
export function titleFor(conversation: Pick<Conversation, 'messages'>): string {
  const first = conversation.messages.find((m) => m.role === 'user');
  const line =
    first?.content
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? '';
  if (!line) return first?.attachments?.[0]?.label ?? 'New chat';
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
}

interface WriteQueue {
  /** The newest state not yet being written. */
  latest?: string;
  waiters: { resolve: () => void; reject: (err: unknown) => void }[];
  drained: Promise<void>;
}

export class HistoryStore {
  private readonly queues = new Map<string, WriteQueue>();
  private readonly summaries = new Map<string, { mtimeMs: number; size: number; summary: ChatSummary }>();
  private readonly logger: Logger;
  private readonly onWarning: HistoryWarning;
  private readonly now: () => number;
  private tmpCounter = 0;
  private dirPrivate = false;

  constructor(
    readonly dir: string,
    options: HistoryStoreOptions,
  ) {
    this.logger = options.logger;
    this.onWarning = options.onWarning ?? (() => {});
    this.now = options.now ?? Date.now;
  }

  private file(id: string): string {
    if (!ID.test(id)) throw new Error(`invalid conversation id ${JSON.stringify(id)}`);
    return path.join(this.dir, `${id}.json`);
  }

  /**
   * Summaries of every readable conversation, most recently updated first. A file is read again
   * only when its size or modification time changed since the last listing.
   */
  async list(): Promise<ChatSummary[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const ids = names
      .filter((n) => n.endsWith('.json') && !n.includes('.corrupt-'))
      .map((n) => n.slice(0, -'.json'.length))
      .filter((id) => ID.test(id));
    const summaries: ChatSummary[] = [];
    for (const id of ids) {
      await this.queues.get(id)?.drained;
      const stat = await fs.stat(this.file(id)).catch(() => undefined);
      if (!stat) continue;
      const cached = this.summaries.get(id);
      if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) {
        summaries.push(cached.summary);
        continue;
      }
      const conversation = await this.load(id);
      if (!conversation) continue;
      const summary = { id, title: conversation.title, updated: conversation.updated, messages: conversation.messages.length };
      this.summaries.set(id, { mtimeMs: stat.mtimeMs, size: stat.size, summary });
      summaries.push(summary);
    }
    for (const id of this.summaries.keys()) if (!ids.includes(id)) this.summaries.delete(id);
    return summaries.sort((a, b) => b.updated - a.updated);
  }

  /**
   * Reads one conversation. A reply still marked as streaming was cut off by a crash of the
   * process that wrote it: it comes back as interrupted.
   */
  async load(id: string): Promise<Conversation | undefined> {
    await this.queues.get(id)?.drained;
    const file = this.file(id);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let value: unknown;
    let problem: string | undefined;
    try {
      value = JSON.parse(text);
      problem = conversationCheck(value);
      if (!problem && (value as Conversation).id !== id) problem = 'id does not match the file name';
    } catch (err) {
      problem = errorMessage(err);
    }
    if (problem) {
      await this.setAside(id, problem);
      return undefined;
    }
    const conversation = value as Conversation;
    for (const message of conversation.messages) {
      if (message.status === 'streaming') {
        message.status = 'interrupted';
        message.error ??= 'Enclave stopped before this reply was finished.';
      }
    }
    return conversation;
  }

  private async setAside(id: string, problem: string): Promise<void> {
    const stamp = new Date(this.now()).toISOString().replace(/[:.]/g, '-');
    const target = path.join(this.dir, `${id}.corrupt-${stamp}.json`);
    try {
      await fs.rename(this.file(id), target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // another reader set it aside
      throw err;
    }
    const message = `A chat history file could not be read (${problem}); it was kept as ${target}.`;
    this.logger.warn(message);
    this.onWarning(message);
  }

  /**
   * Writes the conversation (temp file + rename). Saves made while a write is running coalesce
   * into one more write of the latest state; each promise resolves once its state (or a newer
   * one) is on disk.
   */
  save(conversation: Conversation): Promise<void> {
    const snapshot = JSON.stringify(conversation);
    const id = conversation.id;
    return new Promise<void>((resolve, reject) => {
      this.file(id); // refuses an id that is not a plain file name
      const queue = this.queues.get(id);
      if (queue) {
        queue.latest = snapshot;
        queue.waiters.push({ resolve, reject });
        return;
      }
      const fresh: WriteQueue = { latest: snapshot, waiters: [{ resolve, reject }], drained: Promise.resolve() };
      this.queues.set(id, fresh);
      fresh.drained = this.drain(id, fresh);
    });
  }

  private async drain(id: string, queue: WriteQueue): Promise<void> {
    while (queue.latest !== undefined) {
      const snapshot = queue.latest;
      const waiters = queue.waiters;
      queue.latest = undefined;
      queue.waiters = [];
      try {
        await this.write(id, snapshot);
        for (const w of waiters) w.resolve();
      } catch (err) {
        this.logger.error(err instanceof Error ? err : String(err));
        for (const w of waiters) w.reject(err);
      }
    }
    this.queues.delete(id);
  }

  private async write(id: string, snapshot: string): Promise<void> {
    // Conversations hold code and questions: readable by this user only, whatever the umask.
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    if (!this.dirPrivate) {
      await fs.chmod(this.dir, 0o700);
      this.dirPrivate = true;
    }
    const file = this.file(id);
    const tmp = `${file}.${process.pid}.${++this.tmpCounter}.tmp`;
    try {
      await fs.writeFile(tmp, snapshot, { encoding: 'utf8', mode: 0o600 });
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async delete(id: string): Promise<void> {
    await this.queues.get(id)?.drained;
    await fs.rm(this.file(id), { force: true });
  }

  /** Resolves when every write asked for so far is on disk. */
  async flush(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()].map((q) => q.drained));
  }
}
