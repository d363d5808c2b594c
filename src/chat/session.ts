// Builds the chat prompt from a conversation so that it fits the model's context: the question
// being answered always goes in (its attachments shortened if they must be), older exchanges are
// added newest first while they fit, and what was left out is summarised and reported in a note
// the conversation shows — never a silent failure.
import type { Backend, ChatMessage } from '../engine/protocol';
import { fitRules, RULES_CONTEXT_SHARE, systemWithRules, type RulesText } from '../rules/prompt';
import type { StoredAttachment, StoredMessage } from './history';

export const DEFAULT_SYSTEM_PROMPT =
  'You are Enclave, a coding assistant running locally inside VS Code. Answer questions about the ' +
  "developer's code accurately and concisely. Put code in fenced code blocks with a language tag. " +
  'When you change existing code, show the whole changed function or block so it can be applied.';

export type TokenCounter = (text: string) => number | Promise<number>;

/** Template tokens around each message (`<|im_start|>role\n … <|im_end|>\n`). */
export const MESSAGE_OVERHEAD_TOKENS = 8;
/** The assistant prefix the template adds, and rounding. */
export const PROMPT_MARGIN_TOKENS = 16;
const SUMMARY_QUESTIONS = 6;
const SUMMARY_LINE = 80;

export interface PromptInput {
  system?: string;
  /** The conversation up to and including the user message being answered (the last one). */
  turns: readonly StoredMessage[];
  contextSize: number;
  maxTokens: number;
  countTokens: TokenCounter;
}

export interface PromptPlan {
  messages: ChatMessage[];
  promptTokens: number;
  /** The reply budget: the configured maximum, lowered when the context has less room. */
  maxTokens: number;
  /** Earlier messages that did not fit and were left out. */
  droppedMessages: number;
  /** Whether the left-out questions went into the prompt as a summary. */
  summarized: boolean;
  /** Labels of the attachments of the question that were shortened to fit. */
  truncated: string[];
  /** What the user should be told about the above, if anything was left out. */
  note?: string;
}

export class PromptTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromptTooLargeError';
  }
}

function fenceFor(content: string): string {
  const longest = Math.max(2, ...[...content.matchAll(/`+/g)].map((m) => m[0].length));
  return '`'.repeat(longest + 1);
}

export function describeAttachment(a: Pick<StoredAttachment, 'kind' | 'path' | 'range'>): string {
  if ((a.kind === 'selection' || a.kind === 'codebase') && a.range) {
    const { startLine, endLine } = a.range;
    return startLine === endLine ? `${a.path}, line ${startLine + 1}` : `${a.path}, lines ${startLine + 1}-${endLine + 1}`;
  }
  return a.path;
}

function renderAttachment(a: StoredAttachment): string {
  const what = a.kind === 'selection' ? 'Selected code from' : a.kind === 'codebase' ? 'Found in the codebase:' : 'File';
  if (a.content === '') return `${what} ${describeAttachment(a)}: (left out: too large for the model's context)`;
  const fence = fenceFor(a.content);
  const body = a.content.endsWith('\n') ? a.content : `${a.content}\n`;
  const cut = a.truncated ? '\n(shortened to fit the context)' : '';
  return `${what} ${describeAttachment(a)}:\n${fence}${a.language ?? ''}\n${body}${fence}${cut}`;
}

/** A user message as the model sees it: its attachments, then the question. */
export function renderUserContent(
  message: Pick<StoredMessage, 'content' | 'attachments'>,
  attachments: 'full' | 'labels' = 'full',
): string {
  const list = message.attachments ?? [];
  if (list.length === 0) return message.content;
  if (attachments === 'labels') return `(Attached earlier: ${list.map(describeAttachment).join('; ')})\n\n${message.content}`;
  return [...list.map(renderAttachment), message.content].join('\n\n');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Keeps the head of `text`, cut at a line end, at most `chars` long. */
function head(text: string, chars: number): string {
  if (chars <= 0) return '';
  if (text.length <= chars) return text;
  const cut = text.lastIndexOf('\n', chars);
  return text.slice(0, cut > chars / 2 ? cut + 1 : chars);
}

export async function buildPrompt(input: PromptInput): Promise<PromptPlan> {
  const { turns, contextSize } = input;
  const last = turns.at(-1);
  if (!last || last.role !== 'user') throw new Error('buildPrompt: the last turn must be the user message to answer');

  const counts = new Map<string, number>();
  const count = async (text: string): Promise<number> => {
    let n = counts.get(text);
    if (n === undefined) {
      n = await input.countTokens(text);
      counts.set(text, n);
    }
    return n;
  };
  const cost = async (text: string) => (await count(text)) + MESSAGE_OVERHEAD_TOKENS;

  const reserve = Math.min(input.maxTokens, Math.max(16, Math.floor(contextSize / 2)));
  const budget = contextSize - reserve - PROMPT_MARGIN_TOKENS;
  const system = input.system ?? DEFAULT_SYSTEM_PROMPT;
  let used = await cost(system);

  // The question itself: shorten its largest attachments until it fits.
  const question: StoredMessage = { ...last, attachments: last.attachments?.map((a) => ({ ...a })) };
  const truncated: string[] = [];
  let questionText = renderUserContent(question);
  let questionCost = await cost(questionText);
  const bySize = [...(question.attachments ?? [])].sort((a, b) => b.content.length - a.content.length);
  for (const attachment of bySize) {
    if (used + questionCost <= budget) break;
    const excess = used + questionCost - budget;
    const tokens = await count(attachment.content);
    const original = attachment.content;
    let keep = tokens - excess > 32 ? Math.floor(((tokens - excess - 16) * original.length) / Math.max(1, tokens)) : 0;
    for (;;) {
      attachment.content = head(original, keep);
      attachment.truncated = true;
      questionText = renderUserContent(question);
      questionCost = await cost(questionText);
      if (used + questionCost <= budget || keep === 0) break;
      keep = keep < 64 ? 0 : Math.floor(keep * 0.85);
    }
    truncated.push(attachment.label);
  }
  if (used + questionCost > budget) {
    throw new PromptTooLargeError(
      `This message needs about ${used + questionCost} tokens, but the model's context holds ${contextSize} ` +
        `with ${reserve} kept for the reply. Shorten the message, or raise enclave.engine.contextSize.`,
    );
  }
  used += questionCost;

  // Older exchanges (a user message and the replies to it), newest first, while they fit.
  const older = turns.slice(0, -1).filter((m) => !(m.role === 'assistant' && m.content === ''));
  const exchanges: StoredMessage[][] = [];
  for (const m of older) {
    if (m.role === 'user' || exchanges.length === 0) exchanges.push([m]);
    else exchanges[exchanges.length - 1].push(m);
  }
  const kept: { messages: ChatMessage[]; count: number; cost: number }[] = [];
  for (let i = exchanges.length - 1; i >= 0; i--) {
    let fitted: (typeof kept)[number] | undefined;
    for (const mode of ['full', 'labels'] as const) {
      const messages = exchanges[i].map((m): ChatMessage => ({
        role: m.role,
        content: m.role === 'user' ? renderUserContent(m, mode) : m.content,
      }));
      let total = 0;
      for (const m of messages) total += await cost(m.content);
      if (used + total <= budget) {
        fitted = { messages, count: exchanges[i].length, cost: total };
        break;
      }
    }
    if (!fitted) break;
    kept.unshift(fitted);
    used += fitted.cost;
  }

  // The questions that were left out go into the system message as a summary; to make room for
  // it, the oldest kept exchange is given up too.
  let systemText = system;
  let summarized = false;
  const systemCost = await count(system);
  while (kept.length < exchanges.length && !summarized) {
    const questions = exchanges
      .slice(0, exchanges.length - kept.length)
      .map((e) => e[0])
      .filter((m) => m.role === 'user')
      .map((m) => {
        const line =
          m.content
            .split('\n')
            .find((l) => l.trim() !== '')
            ?.trim() ?? '(attachments only)';
        return `- ${line.length > SUMMARY_LINE ? `${line.slice(0, SUMMARY_LINE - 1)}…` : line}`;
      })
      .slice(-SUMMARY_QUESTIONS);
    for (let n = questions.length; n > 0 && !summarized; n--) {
      const candidate = `${system}\n\nEarlier in this conversation (left out here to fit the context) the user asked:\n${questions.slice(-n).join('\n')}`;
      const extra = (await count(candidate)) - systemCost;
      if (used + extra <= budget) {
        systemText = candidate;
        used += extra;
        summarized = true;
      }
    }
    if (summarized || kept.length === 0) break;
    used -= kept.shift()?.cost ?? 0;
  }
  const droppedMessages = older.length - kept.reduce((n, k) => n + k.count, 0);

  const notes: string[] = [];
  if (droppedMessages > 0) {
    notes.push(
      `${plural(droppedMessages, 'earlier message')} left out to fit the model's ${contextSize}-token context` +
        (summarized ? ' (their questions were kept as a short summary).' : '.'),
    );
  }
  if (truncated.length > 0) notes.push(`Shortened to fit the context: ${truncated.join(', ')}.`);

  const messages: ChatMessage[] = [
    { role: 'system', content: systemText },
    ...kept.flatMap((k) => k.messages),
    { role: 'user', content: questionText },
  ];
  return {
    messages,
    promptTokens: used,
    maxTokens: Math.max(1, Math.min(input.maxTokens, contextSize - used - PROMPT_MARGIN_TOKENS)),
    droppedMessages,
    summarized,
    truncated,
    note: notes.length > 0 ? notes.join(' ') : undefined,
  };
}

export interface ReplyInput {
  backend: Pick<Backend, 'info'>;
  /** The conversation up to and including the question to answer. */
  turns: readonly StoredMessage[];
  maxTokens: number;
  countTokens: TokenCounter;
  system?: string;
  rules?: RulesText;
}

/**
 * The prompt for answering the last question with the backend's model: the system prompt with the
 * project's rules (at most a quarter of the context), then `buildPrompt`. One path for the sidebar
 * chat and the `@enclave` participant in VS Code's chat view.
 */
export async function planReply(input: ReplyInput): Promise<PromptPlan> {
  const { contextSize } = await input.backend.info();
  const rules = await fitRules(input.rules, Math.floor(contextSize * RULES_CONTEXT_SHARE), input.countTokens);
  return buildPrompt({
    system: systemWithRules(input.system ?? DEFAULT_SYSTEM_PROMPT, rules),
    turns: input.turns,
    contextSize,
    maxTokens: input.maxTokens,
    countTokens: input.countTokens,
  });
}
