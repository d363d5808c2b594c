// Tool calls in the engine: the caller's tools become node-llama-cpp chat functions (the chat
// wrapper writes them in the model's own format — Qwen's <tool_call> JSON — and a grammar makes
// the model's call well-formed); tool calls and their results in the messages become function-call
// items of the chat history. The conversions are pure; only types come from node-llama-cpp.
import type { ChatHistoryItem, ChatModelFunctions, ChatWrapper } from 'node-llama-cpp' with { 'resolution-mode': 'import' };

import { EngineError, type ChatMessage, type ToolSpec } from './protocol';

export const MAX_TOOLS = 128;
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_SCHEMA_DEPTH = 8;
const MAX_SCHEMA_CHARS = 64 * 1024;
/** Any JSON scalar: what a schema part the grammar cannot express becomes. */
const ANY_SCALAR = { type: ['string', 'number', 'boolean', 'null'] } as const;
const SCALARS = new Set(['string', 'number', 'integer', 'boolean', 'null']);

type Schema = Record<string, unknown>;

/** Refuses tools the engine cannot offer, with what is wrong. */
export function validateTools(tools: unknown): void {
  if (tools === undefined) return;
  if (!Array.isArray(tools)) throw new EngineError('BAD_REQUEST', 'Chat request: tools must be a list.');
  if (tools.length > MAX_TOOLS) throw new EngineError('BAD_REQUEST', `Chat request: at most ${MAX_TOOLS} tools (got ${tools.length}).`);
  const names = new Set<string>();
  for (const tool of tools as ToolSpec[]) {
    if (typeof tool?.name !== 'string' || !TOOL_NAME.test(tool.name))
      throw new EngineError(
        'BAD_REQUEST',
        `Chat request: a tool name must be 1–64 letters, digits, "_" or "-" (got ${JSON.stringify(tool?.name)}).`,
      );
    if (names.has(tool.name)) throw new EngineError('BAD_REQUEST', `Chat request: the tool ${tool.name} is listed twice.`);
    names.add(tool.name);
    if (tool.parameters !== undefined && JSON.stringify(tool.parameters).length > MAX_SCHEMA_CHARS)
      throw new EngineError('BAD_REQUEST', `Chat request: the parameters schema of ${tool.name} is larger than 64 KiB.`);
  }
}

/**
 * A JSON schema reduced to what node-llama-cpp's grammar supports (type, properties, items, enum,
 * const, oneOf/anyOf, string and array lengths). Other keywords (pattern, format, $ref, allOf) are
 * dropped, so the grammar may allow more than the schema; the tool still validates its input.
 */
export function grammarSchema(schema: unknown, depth = 0): Schema {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema) || depth > MAX_SCHEMA_DEPTH) return { ...ANY_SCALAR };
  const s = schema as Schema;
  const described = (out: Schema): Schema => (typeof s.description === 'string' ? { ...out, description: s.description } : out);
  if (isScalar(s.const)) return described({ const: s.const });
  if (Array.isArray(s.enum) && s.enum.length > 0 && s.enum.every(isScalar)) return described({ enum: s.enum });
  const alternatives = Array.isArray(s.oneOf) ? s.oneOf : Array.isArray(s.anyOf) ? s.anyOf : undefined;
  if (alternatives && alternatives.length > 0) return described({ oneOf: alternatives.map((a) => grammarSchema(a, depth + 1)) });
  const type = s.type ?? (typeof s.properties === 'object' ? 'object' : s.items !== undefined ? 'array' : undefined);
  if (Array.isArray(type)) {
    if (type.every((t) => typeof t === 'string' && SCALARS.has(t))) return described({ type });
    return described({ oneOf: type.map((t) => grammarSchema({ ...s, type: t }, depth + 1)) });
  }
  switch (type) {
    case 'string':
      return described({ type: 'string', ...lengths(s, 'minLength', 'maxLength') });
    case 'number':
    case 'integer':
    case 'boolean':
    case 'null':
      return described({ type });
    case 'array':
      return described({ type: 'array', items: grammarSchema(s.items, depth + 1), ...lengths(s, 'minItems', 'maxItems') });
    case 'object': {
      const properties = typeof s.properties === 'object' && s.properties !== null ? (s.properties as Record<string, unknown>) : {};
      const keys = Object.keys(properties);
      if (keys.length === 0) return described({ type: 'object', additionalProperties: grammarSchema(s.additionalProperties, depth + 1) });
      return described({ type: 'object', properties: Object.fromEntries(keys.map((k) => [k, grammarSchema(properties[k], depth + 1)])) });
    }
    default:
      return { ...ANY_SCALAR };
  }
}

function isScalar(value: unknown): value is string | number | boolean | null {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

function lengths(s: Schema, min: string, max: string): Schema {
  const out: Schema = {};
  if (Number.isInteger(s[min]) && (s[min] as number) >= 0) out[min] = s[min];
  if (Number.isInteger(s[max]) && (s[max] as number) >= 0) out[max] = s[max];
  return out;
}

/** The tools as node-llama-cpp chat functions (name → description and parameter schema). */
export function chatFunctions(tools: readonly ToolSpec[]): ChatModelFunctions {
  return Object.fromEntries(
    tools.map((t) => [
      t.name,
      { description: t.description, params: t.parameters === undefined ? undefined : grammarSchema(t.parameters) },
    ]),
  ) as ChatModelFunctions;
}

/**
 * The messages as node-llama-cpp chat history. An assistant message's tool calls become function
 * call items carrying their results, so the wrapper renders `<tool_call>` / `<tool_response>`.
 * When the conversation ends in tool results, the model continues that response (it answers the
 * results); otherwise a new, empty model response is opened.
 */
export function chatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m): ChatHistoryItem => {
    if (m.role === 'system') return { type: 'system', text: m.content };
    if (m.role === 'user') return { type: 'user', text: m.content };
    const calls = (m.toolCalls ?? []).map((c) => ({
      type: 'functionCall' as const,
      name: c.name,
      params: c.arguments,
      result: c.result ?? 'The tool returned no result.',
    }));
    return { type: 'model', response: [...(m.content ? [m.content] : []), ...calls] };
  });
  const last = messages.at(-1);
  if (!(last?.role === 'assistant' && last.toolCalls?.length)) history.push({ type: 'model', response: [] });
  return history;
}

/**
 * The chat wrapper, made to start the reply inside a function call: node-llama-cpp then samples
 * a function name and its arguments under their grammars, so the reply is a well-formed call to
 * one of the tools (VS Code's "required" tool mode).
 */
export function forcingToolCall(wrapper: ChatWrapper): ChatWrapper {
  return new Proxy(wrapper, {
    get(target, property) {
      if (property === 'generateContextState') {
        return (options: Parameters<ChatWrapper['generateContextState']>[0]) => ({
          ...target.generateContextState(options),
          functionCall: { initiallyEngaged: true, disengageInitiallyEngaged: [] },
        });
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
