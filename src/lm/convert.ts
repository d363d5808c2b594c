// The language-model provider's core, free of vscode: VS Code's request messages (as plain parts)
// become the engine's chat messages, tool results joined to the calls they answer; the models
// Enclave offers are described from its settings without starting an engine.
import * as path from 'node:path';

import type { ChatMessage, ToolCallRecord, ToolSpec } from '../engine/protocol';

export type PlainPart =
  | { kind: 'text'; text: string }
  | { kind: 'toolCall'; callId: string; name: string; input: unknown }
  | { kind: 'toolResult'; callId: string; text: string };

export interface PlainMessage {
  role: 'user' | 'assistant';
  parts: readonly PlainPart[];
}

/**
 * Engine messages from VS Code's: an assistant message keeps its tool calls, and each tool result
 * (sent in the next user message) is attached to the call with its id, so the model sees call and
 * response together; a user message that held only results disappears. A result whose call is
 * not in the conversation is kept as user text rather than dropped.
 */
export function toChatMessages(messages: readonly PlainMessage[], system?: string): ChatMessage[] {
  const out: ChatMessage[] = system ? [{ role: 'system', content: system }] : [];
  const calls = new Map<string, ToolCallRecord>();
  for (const message of messages) {
    const texts: string[] = [];
    const toolCalls: ToolCallRecord[] = [];
    for (const part of message.parts) {
      if (part.kind === 'text') texts.push(part.text);
      else if (part.kind === 'toolCall' && message.role === 'assistant') {
        const record: ToolCallRecord = { id: part.callId, name: part.name, arguments: part.input ?? {} };
        calls.set(part.callId, record);
        toolCalls.push(record);
      } else if (part.kind === 'toolResult') {
        const call = calls.get(part.callId);
        if (call) call.result = call.result === undefined ? part.text : `${call.result}\n${part.text}`;
        else texts.push(`Result of tool call ${part.callId}:\n${part.text}`);
      }
    }
    const content = texts.join('');
    if (message.role === 'assistant')
      out.push(toolCalls.length > 0 ? { role: 'assistant', content, toolCalls } : { role: 'assistant', content });
    else if (content.trim() !== '') out.push({ role: 'user', content });
  }
  return out;
}

/** VS Code's tool descriptions as the engine's. */
export function toToolSpecs(tools: readonly { name: string; description: string; inputSchema?: object }[]): ToolSpec[] {
  return tools.map((t) =>
    t.inputSchema ? { name: t.name, description: t.description, parameters: t.inputSchema } : { name: t.name, description: t.description },
  );
}

export type ModelRole = 'chat' | 'completion' | 'remote';

export interface ModelDescription {
  id: ModelRole;
  name: string;
  family: string;
  version: string;
  detail: string;
  tooltip: string;
  maxInputTokens: number;
  maxOutputTokens: number;
  toolCalling: boolean;
}

export interface ModelSettings {
  modelPath: string;
  chatModelPath: string;
  contextSize: number;
  maxOutputTokens: number;
  /** The remote server's host when prompts go there, else undefined (the local engine). */
  remoteHost?: string;
  remoteModel?: string;
}

/**
 * The models Enclave offers: the chat model (the completion model unless a separate chat model is
 * set) and, when different, the completion model; a remote server is one model without tools
 * (its tool-call format is not Enclave's to constrain). No model chosen: none.
 */
export function describeModels(s: ModelSettings): ModelDescription[] {
  const output = Math.max(1, Math.min(s.maxOutputTokens, Math.floor(s.contextSize / 2)));
  const sizes = { maxInputTokens: s.contextSize - output, maxOutputTokens: output };
  if (s.remoteHost !== undefined) {
    const name = s.remoteModel || 'remote model';
    return [
      {
        id: 'remote',
        name: `Enclave: ${name} on ${s.remoteHost}`,
        family: familyOf(name),
        version: name,
        detail: s.remoteHost,
        tooltip: `Prompts go to ${s.remoteHost}.`,
        ...sizes,
        toolCalling: false,
      },
    ];
  }
  const chatPath = s.chatModelPath || s.modelPath;
  if (!chatPath) return [];
  const local = (id: ModelRole, file: string, role: string): ModelDescription => {
    const base = path.basename(file).replace(/\.gguf$/i, '');
    return {
      id,
      name: `Enclave: ${base}`,
      family: familyOf(base),
      version: base,
      detail: `local ${role}`,
      tooltip: `${file} — runs on this machine (llama.cpp); nothing leaves it.`,
      ...sizes,
      toolCalling: true,
    };
  };
  const models = [local('chat', chatPath, s.chatModelPath ? 'chat model' : 'model')];
  if (s.chatModelPath && s.modelPath && path.resolve(s.modelPath) !== path.resolve(s.chatModelPath))
    models.push(local('completion', s.modelPath, 'completion model'));
  return models;
}

/** `qwen2.5-coder-1.5b-instruct-q8_0` → `qwen2.5-coder`: the name without size and quantisation. */
export function familyOf(name: string): string {
  const lower = name.toLowerCase();
  const cut = lower.search(/[-_.](\d+(\.\d+)?[bm]|q\d|f16|bf16|instruct|base)\b/);
  return (cut > 0 ? lower.slice(0, cut) : lower) || 'gguf';
}
