// The chat webview: renders the conversation the host sends, streams replies as markdown, and
// posts the user's actions back. Model output is untrusted: markdown-it with raw HTML off, then
// DOMPurify with an allow-list; links open only through the host, after it validates them.
import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/common';
import MarkdownIt from 'markdown-it';

import {
  type AttachmentView,
  type ChatSummary,
  type ConversationView,
  type HostMessage,
  isSafeLink,
  type MessageView,
  parseHostMessage,
  type WebviewMessage,
} from '../../src/chat/messages';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface SavedState {
  draft: string;
  historyOpen: boolean;
  conversation?: ConversationView;
  /** Where questions went when the page was saved, so a reloaded page never claims "local" wrongly. */
  destination?: string;
}

const vscode = acquireVsCodeApi();
const post = (message: WebviewMessage) => vscode.postMessage(message);

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const messagesEl = $<HTMLElement>('messages');
const input = $<HTMLTextAreaElement>('input');
const chipsEl = $<HTMLElement>('chips');
const rulesEl = $<HTMLElement>('rules');
const sendButton = $<HTMLButtonElement>('send');
const stopButton = $<HTMLButtonElement>('stop');
const regenerateButton = $<HTMLButtonElement>('regenerate');
const historyEl = $<HTMLElement>('history');
const historyList = $<HTMLUListElement>('history-list');
const historyToggle = $<HTMLButtonElement>('toggle-history');
const noticeEl = $<HTMLElement>('notice');

// While a reply streams it is rendered again and again; its finished code blocks do not change.
const highlighted = new Map<string, string>();
function highlight(code: string, lang: string): string {
  const language = lang && hljs.getLanguage(lang) ? lang : undefined;
  if (!language) return '';
  const key = `${language}\0${code}`;
  let html = highlighted.get(key);
  if (html === undefined) {
    try {
      html = hljs.highlight(code, { language, ignoreIllegals: true }).value;
    } catch {
      html = '';
    }
    if (highlighted.size > 500) highlighted.clear();
    highlighted.set(key, html);
  }
  return html;
}

const md = new MarkdownIt({ html: false, linkify: true, highlight });
// Links the model writes are shown only when they are plain web links; the rest stay text.
md.validateLink = (url) => isSafeLink(url);

const PURIFY = {
  ALLOWED_TAGS: [
    'a',
    'p',
    'br',
    'hr',
    'strong',
    'em',
    's',
    'del',
    'code',
    'pre',
    'blockquote',
    'ul',
    'ol',
    'li',
    'h1',
    'h2',
    'h3',
    'h4',
    'h5',
    'h6',
    'table',
    'thead',
    'tbody',
    'tr',
    'th',
    'td',
    'span',
  ],
  ALLOWED_ATTR: ['href', 'title', 'class', 'start'],
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
};

let conversation: ConversationView = { id: 'none', title: '', messages: [] };
let chats: ChatSummary[] = [];
let attachments: AttachmentView[] = [];
let busy = false;
/** The host questions go to; '' = the model runs on this machine. */
let destination = '';
let mentionAt: number | undefined;
const saved = (vscode.getState() ?? {}) as Partial<SavedState>;
let historyOpen = saved.historyOpen === true;

function saveState(): void {
  const state: SavedState = { draft: input.value, historyOpen, conversation, destination };
  vscode.setState(state);
}

// — rendering —

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function renderMarkdown(text: string): DocumentFragment {
  const fragment = DOMPurify.sanitize(md.render(text), { ...PURIFY, RETURN_DOM_FRAGMENT: true });
  for (const a of Array.from(fragment.querySelectorAll('a'))) {
    const href = a.getAttribute('href') ?? '';
    a.removeAttribute('href');
    if (isSafeLink(href)) {
      a.dataset.href = href;
      a.title = href;
      a.tabIndex = 0;
      a.setAttribute('role', 'link');
    }
  }
  for (const pre of Array.from(fragment.querySelectorAll('pre'))) {
    const code = pre.querySelector('code');
    if (!code) continue;
    const language = /(?:^|\s)language-([\w+#.-]+)/.exec(code.className)?.[1] ?? '';
    code.classList.add('hljs');
    const block = element('div', 'code-block');
    const bar = element('div', 'code-toolbar');
    bar.append(element('span', 'code-language', language));
    for (const [action, label, title] of [
      ['copy', 'Copy', 'Copy the code'],
      ['insert', 'Insert', 'Insert at the cursor in the active editor'],
      ['apply', 'Apply', 'Apply to the file: review the change as a diff first'],
    ] as const) {
      const button = element('button', 'code-action', label);
      button.dataset.action = action;
      button.title = title;
      bar.append(button);
    }
    pre.replaceWith(block);
    block.append(bar, pre);
  }
  return fragment;
}

function chip(a: AttachmentView, removable: boolean): HTMLElement {
  const el = element('span', `chip chip-${a.kind}${a.auto ? ' chip-auto' : ''}`);
  el.title = a.detail ?? a.label;
  el.append(
    element('span', 'chip-kind', a.kind === 'selection' ? 'Selection' : a.kind === 'codebase' ? 'Codebase' : 'File'),
    element('span', 'chip-label', a.label),
  );
  if (removable) {
    const remove = element('button', 'chip-remove', '×');
    remove.title = `Remove ${a.label}`;
    remove.setAttribute('aria-label', `Remove ${a.label}`);
    remove.dataset.attachment = a.id;
    el.append(remove);
  }
  return el;
}

const STATUS_TEXT: Record<string, string> = { stopped: 'Stopped.', interrupted: 'Interrupted.', error: 'No reply.' };

function renderMessage(m: MessageView): HTMLElement {
  const article = element('article', `message ${m.role}${m.status ? ` status-${m.status}` : ''}`);
  article.dataset.id = m.id;
  // Screen readers announce the reply once it is complete, not at every streamed token.
  if (m.status === 'streaming') article.setAttribute('aria-busy', 'true');
  article.append(element('div', 'message-author', m.role === 'user' ? 'You' : 'Enclave'));
  if (m.attachments?.length) {
    const list = element('div', 'message-attachments');
    for (const a of m.attachments) list.append(chip(a, false));
    article.append(list);
  }
  if (m.note) article.append(element('div', 'message-note', m.note));
  const content = element('div', m.role === 'user' ? 'message-content plain' : 'message-content markdown');
  if (m.role === 'user') content.textContent = m.content;
  else content.append(renderMarkdown(m.content));
  article.append(content);
  if (m.status === 'streaming') article.append(element('div', 'message-streaming', m.content === '' ? 'Thinking…' : ''));
  else if (m.error || STATUS_TEXT[m.status ?? '']) {
    article.append(
      element('div', m.status === 'stopped' ? 'message-status' : 'message-status message-error', m.error ?? STATUS_TEXT[m.status ?? '']),
    );
  }
  return article;
}

function nearBottom(): boolean {
  return messagesEl.scrollHeight - messagesEl.scrollTop - messagesEl.clientHeight < 48;
}

/** A banner that stays while questions leave this machine, naming where they go. */
function renderDestination(): void {
  const banner = document.getElementById('destination') as HTMLElement;
  banner.hidden = destination === '';
  banner.textContent = destination ? `Remote backend: questions and attached code are sent to ${destination}.` : '';
}

function renderConversation(): void {
  const stick = nearBottom();
  messagesEl.replaceChildren();
  if (conversation.messages.length === 0) {
    const welcome = element('div', 'welcome');
    welcome.append(
      element('h2', undefined, 'Ask about your code'),
      element(
        'p',
        undefined,
        'The current selection or file is attached to your question, and code from the workspace that matches it may show as Codebase chips while you write; remove a chip to leave it out, or press @ to attach another file.',
      ),
      element(
        'p',
        undefined,
        destination
          ? `Your questions and the attached code are sent to ${destination}.`
          : 'The model runs on this machine. Nothing you ask leaves it.',
      ),
    );
    messagesEl.append(welcome);
  }
  for (const m of conversation.messages) messagesEl.append(renderMessage(m));
  if (stick) messagesEl.scrollTop = messagesEl.scrollHeight;
  renderControls();
}

function replaceMessage(m: MessageView): void {
  const stick = nearBottom();
  const index = conversation.messages.findIndex((x) => x.id === m.id);
  if (index >= 0) conversation.messages[index] = m;
  else conversation.messages.push(m);
  const existing = messagesEl.querySelector(`article[data-id="${CSS.escape(m.id)}"]`);
  if (existing) existing.replaceWith(renderMessage(m));
  else {
    messagesEl.querySelector('.welcome')?.remove();
    messagesEl.append(renderMessage(m));
  }
  if (stick) messagesEl.scrollTop = messagesEl.scrollHeight;
  renderControls();
}

/**
 * Streaming: chunks append to the message and the DOM is rendered again at most once a frame,
 * and no more often than every two render times (a long reply costs more to render; the page
 * stays responsive while it grows).
 */
const dirty = new Set<string>();
let pendingRender: ReturnType<typeof setTimeout> | undefined;
let renderCost = 0;
let renderedAt = 0;
function appendChunk(messageId: string, text: string): void {
  const m = conversation.messages.find((x) => x.id === messageId);
  if (!m) return;
  m.content += text;
  dirty.add(messageId);
  if (pendingRender !== undefined) return;
  const wait = Math.max(0, renderedAt + 2 * renderCost - performance.now());
  pendingRender = setTimeout(
    () =>
      requestAnimationFrame(() => {
        const started = performance.now();
        for (const id of dirty) {
          const message = conversation.messages.find((x) => x.id === id);
          if (message) replaceMessage(message);
        }
        dirty.clear();
        renderedAt = performance.now();
        renderCost = renderedAt - started;
        pendingRender = undefined;
      }),
    wait,
  );
}

/** One chip naming the project's rules files that go with every question ("Rules: AGENTS.md"). */
function renderRules(files: readonly string[]): void {
  rulesEl.replaceChildren();
  rulesEl.hidden = files.length === 0;
  if (files.length === 0) return;
  const el = element('span', 'chip chip-rules');
  el.title = `Project rules sent with every question: ${files.join(', ')}`;
  el.append(element('span', 'chip-kind', 'Rules:'), element('span', 'chip-label', files.join(', ')));
  rulesEl.append(el);
}

function renderChips(): void {
  chipsEl.replaceChildren(...attachments.map((a) => chip(a, true)));
  chipsEl.hidden = attachments.length === 0;
}

function renderControls(): void {
  sendButton.hidden = busy;
  stopButton.hidden = !busy;
  regenerateButton.hidden = busy || conversation.messages.at(-1)?.role !== 'assistant';
}

function renderHistory(): void {
  historyEl.hidden = !historyOpen;
  historyToggle.setAttribute('aria-expanded', String(historyOpen));
  historyToggle.classList.toggle('active', historyOpen);
  historyList.replaceChildren();
  if (chats.length === 0) historyList.append(element('li', 'history-empty', 'No past chats yet.'));
  for (const c of chats) {
    const li = element('li', c.id === conversation.id ? 'history-item current' : 'history-item');
    const open = element('button', 'history-open');
    open.dataset.chat = c.id;
    open.append(element('span', 'history-title', c.title), element('span', 'history-date', new Date(c.updated).toLocaleString()));
    const remove = element('button', 'history-delete', 'Delete');
    remove.dataset.deleteChat = c.id;
    remove.setAttribute('aria-label', `Delete chat ${c.title}`);
    li.append(open, remove);
    historyList.append(li);
  }
}

let noticeTimer: ReturnType<typeof setTimeout> | undefined;
function showNotice(level: string, text: string): void {
  noticeEl.textContent = text;
  noticeEl.className = `notice notice-${level}`;
  noticeEl.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (noticeEl.hidden = true), 8_000);
}

/** Progress notes (engine starting, model loading) end when the reply starts or ends. */
function hideProgressNotice(): void {
  if (noticeEl.classList.contains('notice-info')) noticeEl.hidden = true;
}

// — messages from the host —

function handle(message: HostMessage): void {
  switch (message.type) {
    case 'state':
      conversation = message.conversation;
      chats = message.chats;
      attachments = message.attachments;
      busy = message.busy;
      destination = message.destination;
      renderDestination();
      renderConversation();
      renderChips();
      renderHistory();
      saveState();
      break;
    case 'chats':
      chats = message.chats;
      renderHistory();
      break;
    case 'attachments':
      attachments = message.attachments;
      renderChips();
      break;
    case 'message':
      dirty.delete(message.message.id);
      replaceMessage(message.message);
      saveState();
      break;
    case 'chunk':
      hideProgressNotice();
      appendChunk(message.messageId, message.text);
      break;
    case 'busy':
      busy = message.busy;
      if (!busy) hideProgressNotice();
      renderControls();
      break;
    case 'prefill':
      input.value = message.text;
      input.focus();
      draftChanged();
      saveState();
      break;
    case 'mentionDone':
      if (message.picked && mentionAt !== undefined && input.value[mentionAt] === '@') {
        input.value = input.value.slice(0, mentionAt) + input.value.slice(mentionAt + 1);
        input.setSelectionRange(mentionAt, mentionAt);
      }
      mentionAt = undefined;
      input.focus();
      break;
    case 'notice':
      showNotice(message.level, message.text);
      break;
    case 'rules':
      renderRules(message.files);
      break;
  }
}

window.addEventListener('message', (event: MessageEvent) => {
  const parsed = parseHostMessage(event.data);
  if (!parsed.ok) {
    console.warn(`[enclave chat] ignored a malformed message: ${parsed.problem}`);
    return;
  }
  handle(parsed.message);
});

// — the user's actions —

// The host retrieves codebase chunks for the question as it is written; they show as chips the
// user can remove before sending. Asked once typing pauses, not at every key.
let draftTimer: ReturnType<typeof setTimeout> | undefined;
function draftChanged(): void {
  clearTimeout(draftTimer);
  draftTimer = setTimeout(() => post({ type: 'draft', text: input.value }), 400);
}

function send(): void {
  const text = input.value;
  if (busy || (text.trim() === '' && attachments.length === 0)) return;
  clearTimeout(draftTimer);
  post({ type: 'send', text });
  input.value = '';
  saveState();
}

input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    send();
  }
});

input.addEventListener('input', (e) => {
  const event = e as InputEvent;
  const at = input.selectionStart - 1;
  if (event.inputType === 'insertText' && event.data === '@' && (at === 0 || /\s/.test(input.value[at - 1] ?? ''))) {
    mentionAt = at;
    post({ type: 'pickFile' });
  }
  draftChanged();
  saveState();
});

sendButton.addEventListener('click', send);
stopButton.addEventListener('click', () => post({ type: 'stop' }));
regenerateButton.addEventListener('click', () => post({ type: 'regenerate' }));
$('new-chat').addEventListener('click', () => post({ type: 'newChat' }));
$('attach').addEventListener('click', () => {
  mentionAt = undefined;
  post({ type: 'pickFile' });
});
historyToggle.addEventListener('click', () => {
  historyOpen = !historyOpen;
  renderHistory();
  saveState();
});

chipsEl.addEventListener('click', (e) => {
  const id = (e.target as HTMLElement).closest<HTMLElement>('[data-attachment]')?.dataset.attachment;
  if (id) post({ type: 'removeAttachment', id });
});

historyList.addEventListener('click', (e) => {
  const target = e.target as HTMLElement;
  const remove = target.closest<HTMLElement>('[data-delete-chat]')?.dataset.deleteChat;
  if (remove) return post({ type: 'deleteChat', id: remove });
  const open = target.closest<HTMLElement>('[data-chat]')?.dataset.chat;
  if (open) {
    historyOpen = false;
    renderHistory();
    saveState();
    post({ type: 'openChat', id: open });
  }
});

function codeOf(button: HTMLElement): string {
  const text = button.closest('.code-block')?.querySelector('pre code')?.textContent ?? '';
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}

function onMessagesActivate(target: HTMLElement): void {
  const button = target.closest<HTMLElement>('button[data-action]');
  if (button) {
    const code = codeOf(button);
    const action = button.dataset.action;
    if (action === 'copy') {
      post({ type: 'copy', code });
      button.textContent = 'Copied';
      setTimeout(() => (button.textContent = 'Copy'), 1_500);
    } else if (action === 'insert') post({ type: 'insert', code });
    else if (action === 'apply') {
      const messageId = button.closest<HTMLElement>('article[data-id]')?.dataset.id ?? '';
      const language = button.closest('.code-block')?.querySelector('.code-language')?.textContent || undefined;
      post(language ? { type: 'apply', code, messageId, language } : { type: 'apply', code, messageId });
    }
    return;
  }
  const link = target.closest<HTMLElement>('a[data-href]');
  if (link?.dataset.href) post({ type: 'openLink', href: link.dataset.href });
}

messagesEl.addEventListener('click', (e) => onMessagesActivate(e.target as HTMLElement));
messagesEl.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.target as HTMLElement).matches('a[data-href]')) onMessagesActivate(e.target as HTMLElement);
});

window.addEventListener('focus', () => input.focus());

// Show the last known conversation at once; the host's state replaces it.
input.value = saved.draft ?? '';
const savedDestination = typeof saved.destination === 'string' ? saved.destination : '';
if (
  saved.conversation &&
  parseHostMessage({
    type: 'state',
    conversation: saved.conversation,
    chats: [],
    attachments: [],
    busy: false,
    destination: savedDestination,
  }).ok
) {
  conversation = saved.conversation;
  destination = savedDestination;
}
renderDestination();
renderConversation();
renderChips();
renderHistory();
post({ type: 'ready' });
if (input.value.trim()) draftChanged();
