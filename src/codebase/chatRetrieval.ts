// Chunks of the workspace for a chat question, free of vscode: asked for with enclave.index.chat or
// `#codebase` in the question, and never a rules file (AGENTS.md …): those already go into the
// system message of every question, and retrieving one would send it twice.
import { newId, type StoredAttachment } from '../chat/history';

/** Asks for codebase context explicitly, whatever enclave.index.chat says. */
export const CODEBASE_MENTION = /(^|\s)#codebase\b/i;

export interface ChatHit {
  /** Workspace-relative path. */
  path: string;
  /** The file's URI as a string. */
  uri: string;
  /** 0-based first line; endLine is the line after the last. */
  startLine: number;
  endLine: number;
  text: string;
}

export interface ChatRetrievalOptions {
  /** enclave.index.chat (read at each question). */
  enabled: () => boolean;
  search: (query: string, limit: number) => Promise<ChatHit[]>;
  /** The URIs of the rules files that go with this question (left out of what is retrieved). */
  rulesFiles: () => Promise<readonly string[]>;
  /** Most chunks per question. */
  limit?: number;
  now?: () => number;
}

/** The retrieved chunks for `question` as 'codebase' attachments ([] when retrieval is off for it). */
export async function retrieveForChat(question: string, options: ChatRetrievalOptions): Promise<StoredAttachment[]> {
  if (!CODEBASE_MENTION.test(question) && !options.enabled()) return [];
  const query = question.replace(CODEBASE_MENTION, ' ');
  if (query.trim() === '') return [];
  const limit = options.limit ?? 4;
  const rules = new Set(await options.rulesFiles().catch(() => [] as readonly string[]));
  // Asked for a few more, so the rules files left out do not leave the question short.
  const hits = (await options.search(query, limit + rules.size)).filter((c) => !rules.has(c.uri)).slice(0, limit);
  const now = options.now ?? Date.now;
  return hits.map((c) => ({
    id: newId(now()),
    kind: 'codebase',
    label: `${c.path.split('/').pop()}:${c.startLine + 1}-${c.endLine}`,
    path: c.path,
    uri: c.uri,
    range: { startLine: c.startLine, startCharacter: 0, endLine: Math.max(c.startLine, c.endLine - 1), endCharacter: 0 },
    content: c.text,
  }));
}
