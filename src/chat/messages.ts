// Every message between the chat webview and the extension host, as one discriminated union per
// direction, with validators used on both sides. The webview is a sandbox showing untrusted model
// output; the host is the only side that touches files, so neither trusts what the other posts.
import { arrayOf, bool, type Check, num, oneOf, optional, pattern, shape, str, union } from './validate';

export const ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_TEXT = 200_000;
const MAX_CODE = 1_000_000;

export type MessageStatus = 'streaming' | 'complete' | 'stopped' | 'interrupted' | 'error';
/** 'codebase': a chunk the index retrieved for the question. */
export type AttachmentKind = 'selection' | 'file' | 'codebase';

/** What the webview shows for an attached selection or file (its content stays in the host). */
export interface AttachmentView {
  id: string;
  kind: AttachmentKind;
  label: string;
  /** Tooltip: the workspace-relative path and range. */
  detail?: string;
  /** The current editor's selection or file, attached until removed. */
  auto?: boolean;
}

export interface MessageView {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  time: number;
  attachments?: AttachmentView[];
  status?: MessageStatus;
  /** Why the reply ended badly (engine crash, prompt too large, …). */
  error?: string;
  /** What was left out of the prompt to fit the model's context. */
  note?: string;
}

export interface ConversationView {
  id: string;
  title: string;
  messages: MessageView[];
}

export interface ChatSummary {
  id: string;
  title: string;
  updated: number;
  messages: number;
}

/** Host → webview. */
export type HostMessage =
  /** `destination`: the host prompts are sent to, '' when the model runs on this machine. */
  | {
      type: 'state';
      conversation: ConversationView;
      chats: ChatSummary[];
      attachments: AttachmentView[];
      busy: boolean;
      destination: string;
    }
  | { type: 'chats'; chats: ChatSummary[] }
  | { type: 'attachments'; attachments: AttachmentView[] }
  /** Appends the message, or replaces the one with the same id. */
  | { type: 'message'; message: MessageView }
  | { type: 'chunk'; messageId: string; text: string }
  | { type: 'busy'; busy: boolean }
  | { type: 'prefill'; text: string }
  | { type: 'mentionDone'; picked: boolean }
  | { type: 'notice'; level: 'info' | 'warning' | 'error'; text: string }
  /** The project rules files that go with every question (workspace-relative paths; [] = none). */
  | { type: 'rules'; files: string[] };

/** Webview → host. */
export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'send'; text: string }
  /** The question being written (debounced): its codebase chunks come back as removable chips. */
  | { type: 'draft'; text: string }
  | { type: 'stop' }
  | { type: 'regenerate' }
  | { type: 'newChat' }
  | { type: 'openChat'; id: string }
  | { type: 'deleteChat'; id: string }
  | { type: 'removeAttachment'; id: string }
  | { type: 'pickFile' }
  | { type: 'copy'; code: string }
  | { type: 'insert'; code: string }
  | { type: 'apply'; code: string; messageId: string; language?: string }
  | { type: 'openLink'; href: string };

const id = pattern(ID);
const status = oneOf('streaming', 'complete', 'stopped', 'interrupted', 'error');

const attachmentView = shape({
  id,
  kind: oneOf('selection', 'file', 'codebase'),
  label: str(500),
  detail: optional(str(2_000)),
  auto: optional(bool),
});

const messageView = shape({
  id,
  role: oneOf('user', 'assistant'),
  content: str(MAX_TEXT * 5),
  time: num,
  attachments: optional(arrayOf(attachmentView, 100)),
  status: optional(status),
  error: optional(str(5_000)),
  note: optional(str(5_000)),
});

const chatSummary = shape({ id, title: str(500), updated: num, messages: num });

const hostMessage: Check = union({
  state: {
    conversation: shape({ id, title: str(500), messages: arrayOf(messageView) }),
    chats: arrayOf(chatSummary),
    attachments: arrayOf(attachmentView, 100),
    busy: bool,
    destination: str(500),
  },
  chats: { chats: arrayOf(chatSummary) },
  attachments: { attachments: arrayOf(attachmentView, 100) },
  message: { message: messageView },
  chunk: { messageId: id, text: str(MAX_TEXT) },
  busy: { busy: bool },
  prefill: { text: str(MAX_TEXT) },
  mentionDone: { picked: bool },
  notice: { level: oneOf('info', 'warning', 'error'), text: str(5_000) },
  rules: { files: arrayOf(str(500), 100) },
});

/** Links the host opens for the webview: web pages only, no credentials in the URL. */
export function isSafeLink(href: string): boolean {
  if (href.length > 2_000) return false;
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return false;
  }
  return (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === '';
}

const link: Check = (v) => (typeof v === 'string' && isSafeLink(v) ? undefined : 'not an http(s) link');

const webviewMessage: Check = union({
  ready: {},
  send: { text: str(MAX_TEXT) },
  draft: { text: str(MAX_TEXT) },
  stop: {},
  regenerate: {},
  newChat: {},
  openChat: { id },
  deleteChat: { id },
  removeAttachment: { id },
  pickFile: {},
  copy: { code: str(MAX_CODE) },
  insert: { code: str(MAX_CODE) },
  apply: { code: str(MAX_CODE), messageId: id, language: optional(str(64)) },
  openLink: { href: link },
});

export type Parsed<T> = { ok: true; message: T } | { ok: false; problem: string };

export function parseWebviewMessage(value: unknown): Parsed<WebviewMessage> {
  const problem = webviewMessage(value);
  return problem ? { ok: false, problem } : { ok: true, message: value as WebviewMessage };
}

export function parseHostMessage(value: unknown): Parsed<HostMessage> {
  const problem = hostMessage(value);
  return problem ? { ok: false, problem } : { ok: true, message: value as HostMessage };
}
