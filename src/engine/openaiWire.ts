// The OpenAI wire format, both ways: what a request to Enclave's server must look like (zod
// schemas, so a bad field is a clear 400 naming it rather than a TypeError deep in the engine), the
// response and server-sent-event shapes the server writes, the event parsing the remote backend
// reads, and the mapping between OpenAI finish reasons and the engine's stop reasons.
import { z } from 'zod';

import type { ChatMessage, RequestStats } from './protocol';

const nullish = <T extends z.ZodType>(schema: T) => schema.nullish();

const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });
const contentSchema = z.union([
  z.string(),
  z.array(textPart, { error: 'content parts must be {"type":"text","text":"…"} (images and audio are not supported)' }),
]);

const messageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant'], { error: 'role must be system, developer, user or assistant' }),
  content: contentSchema,
});

const maxTokens = z.number().int('must be a whole number').min(1, 'must be at least 1');
const stopSchema = z.union([z.string(), z.array(z.string()).max(4, 'at most 4 stop sequences')]);

/** Fields every generation request may carry; unknown fields are ignored, as OpenAI clients send many. */
const common = {
  model: nullish(z.string()),
  stream: nullish(z.boolean()),
  stream_options: nullish(z.looseObject({ include_usage: nullish(z.boolean()) })),
  max_tokens: nullish(maxTokens),
  max_completion_tokens: nullish(maxTokens),
  temperature: nullish(z.number().min(0).max(2)),
  top_p: nullish(z.number().min(0).max(1)),
  n: nullish(z.literal(1, { error: 'only n = 1 is supported' })),
  seed: nullish(z.number().int()),
  stop: nullish(stopSchema),
  user: nullish(z.string().max(256)),
};

const unsupported = (what: string) =>
  z.union([z.null(), z.literal(false)], { error: `${what} is not supported by this server` }).optional();

export const chatRequestSchema = z.looseObject({
  ...common,
  messages: z.array(messageSchema, { error: 'must be an array of messages' }).min(1, 'must hold at least one message'),
  response_format: nullish(
    z.discriminatedUnion('type', [
      z.looseObject({ type: z.literal('text') }),
      z.looseObject({ type: z.literal('json_object') }),
      z.looseObject({
        type: z.literal('json_schema'),
        json_schema: z.looseObject({ name: nullish(z.string()), schema: z.record(z.string(), z.unknown()) }),
      }),
    ]),
  ),
  tools: unsupported('tools'),
  functions: unsupported('functions'),
  logprobs: unsupported('logprobs'),
});

export const completionRequestSchema = z.looseObject({
  ...common,
  prompt: z.string({ error: 'must be a string' }).min(1, 'must not be empty'),
  echo: unsupported('echo'),
  logprobs: unsupported('logprobs'),
  best_of: nullish(z.literal(1, { error: 'only best_of = 1 is supported' })),
});

export type ChatCompletionRequest = z.infer<typeof chatRequestSchema>;
export type CompletionRequest = z.infer<typeof completionRequestSchema>;

/** A request that does not match the schema; `message` names the field and what is wrong with it. */
export class WireValidationError extends Error {}

function parseWith<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field =
    issue.path.length > 0
      ? issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('')
      : 'body';
  throw new WireValidationError(`Invalid request: \`${field}\` ${issue.message}.`);
}

export function parseChatRequest(body: unknown): ChatCompletionRequest {
  return parseWith(chatRequestSchema, body);
}

export function parseCompletionRequest(body: unknown): CompletionRequest {
  return parseWith(completionRequestSchema, body);
}

/** The engine's messages: `developer` is the newer name of `system`; text parts are joined. */
export function engineMessages(messages: ChatCompletionRequest['messages']): ChatMessage[] {
  return messages.map((m) => ({
    role: m.role === 'developer' ? 'system' : m.role,
    content: typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''),
  }));
}

export function stopList(stop: string | string[] | null | undefined): string[] | undefined {
  if (stop === undefined || stop === null) return undefined;
  return typeof stop === 'string' ? [stop] : stop;
}

// ------------------------------------------------------------------ finish reasons

export type FinishReason = 'stop' | 'length';

/** What an OpenAI client is told about why the engine stopped. */
export function finishReasonFor(stop: RequestStats['stopReason']): FinishReason {
  return stop === 'maxTokens' || stop === 'maxTime' ? 'length' : 'stop';
}

/** The engine's stop reason for what a remote OpenAI server said (`timedOut`: our own time limit cut it). */
export function stopReasonFor(finish: string | undefined, timedOut = false): RequestStats['stopReason'] {
  if (timedOut) return 'maxTime';
  if (finish === 'length') return 'maxTokens';
  if (finish === 'stop') return 'stop';
  return 'eos';
}

// ------------------------------------------------------------------ response shapes

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usageOf(stats: RequestStats): Usage {
  return {
    prompt_tokens: stats.promptTokens,
    completion_tokens: stats.generatedTokens,
    total_tokens: stats.promptTokens + stats.generatedTokens,
  };
}

export interface ResponseIdentity {
  id: string;
  model: string;
  created: number;
}

export function chatCompletion(who: ResponseIdentity, text: string, finish: FinishReason, usage: Usage) {
  return {
    ...who,
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finish }],
    usage,
  };
}

export function textCompletion(who: ResponseIdentity, text: string, finish: FinishReason, usage: Usage) {
  return { ...who, object: 'text_completion', choices: [{ index: 0, text, finish_reason: finish }], usage };
}

/** One streamed piece (`finish` and `usage` on the last one only). */
export function streamChunk(who: ResponseIdentity, chat: boolean, text: string, finish: FinishReason | null = null, usage?: Usage) {
  const choice = chat
    ? { index: 0, delta: text ? { content: text } : {}, finish_reason: finish }
    : { index: 0, text, finish_reason: finish };
  return { ...who, object: chat ? 'chat.completion.chunk' : 'text_completion', choices: [choice], ...(usage ? { usage } : {}) };
}

export interface WireError {
  message: string;
  type: string;
  code: string | null;
}

export function sseEvent(data: unknown): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';

/** The data of one server-sent event (its `data:` lines joined), or undefined when it has none. */
export function sseData(event: string): string | undefined {
  const data = event
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5).replace(/^ /, ''))
    .join('\n');
  return data || undefined;
}
