// Enclave's models in VS Code's language-model API (vendor "enclave"): any extension — or VS
// Code's own chat and agent mode — can select them with `vscode.lm.selectChatModels({ vendor:
// 'enclave' })`, stream replies, count tokens and have the model call tools. Also registers one
// tool of Enclave's own (read a workspace file), so an agent round trip works offline.
import * as vscode from 'vscode';

import type { EnclaveContext } from '../context';
import { EngineError, type Backend, type ChatRequest } from '../engine/protocol';
import type { Logger } from '../logger';
import { errorMessage } from '../util';
import { describeModels, toChatMessages, toToolSpecs, type ModelDescription, type PlainMessage, type PlainPart } from './convert';
import { registerReadFileTool } from './tools';

export const VENDOR = 'enclave';

type EnclaveModel = vscode.LanguageModelChatInformation & { readonly role: ModelDescription['id'] };

export function registerLanguageModels(ctx: EnclaveContext): vscode.Disposable {
  const logger = ctx.log.for('chat');
  const changed = new vscode.EventEmitter<void>();
  const provider = new EnclaveModelProvider(ctx, logger, changed.event);
  const registration = vscode.lm.registerLanguageModelChatProvider(VENDOR, provider);
  // VS Code asks a provider for its models only when some extension selects them (Copilot Chat
  // does, all the time); without Copilot the chat view's model picker would never list Enclave's,
  // and `@enclave` requests fail with "Language model unavailable". Listing reads only settings.
  vscode.lm
    .selectChatModels({ vendor: VENDOR })
    .then(undefined, (err: unknown) => logger.warn(`listing the models failed: ${errorMessage(err)}`));
  return vscode.Disposable.from(
    changed,
    registration,
    registerReadFileTool(),
    ctx.config.onDidChange((e) => {
      if (['enclave.model', 'enclave.engine', 'enclave.backend', 'enclave.chat'].some((k) => e.affectsConfiguration(k))) changed.fire();
    }),
    ctx.onDidChangePromptDestination(() => changed.fire()),
  );
}

class EnclaveModelProvider implements vscode.LanguageModelChatProvider<EnclaveModel> {
  constructor(
    private readonly ctx: EnclaveContext,
    private readonly logger: Logger,
    readonly onDidChangeLanguageModelChatInformation: vscode.Event<void>,
  ) {}

  /** From the settings alone: listing models must not start an engine. */
  provideLanguageModelChatInformation(): EnclaveModel[] {
    const config = this.ctx.config;
    const remoteHost = this.ctx.promptDestination();
    return describeModels({
      modelPath: config.modelPath,
      chatModelPath: config.chatModelPath,
      contextSize: config.engine.contextSize,
      maxOutputTokens: config.chat.maxTokens,
      remoteHost,
      remoteModel: config.backend.remoteModel,
    }).map((m) => ({
      id: m.id,
      role: m.id,
      name: m.name,
      family: m.family,
      version: m.version,
      detail: m.detail,
      tooltip: m.tooltip,
      maxInputTokens: m.maxInputTokens,
      maxOutputTokens: m.maxOutputTokens,
      capabilities: { toolCalling: m.toolCalling, imageInput: false },
    }));
  }

  async provideLanguageModelChatResponse(
    model: EnclaveModel,
    messages: readonly vscode.LanguageModelChatRequestMessage[],
    options: vscode.ProvideLanguageModelChatResponseOptions,
    progress: vscode.Progress<vscode.LanguageModelResponsePart>,
    token: vscode.CancellationToken,
  ): Promise<void> {
    if (token.isCancellationRequested) throw new vscode.CancellationError();
    const backend = this.ctx.backend();
    const required = options.toolMode === vscode.LanguageModelChatToolMode.Required;
    const tools = model.capabilities.toolCalling && options.tools?.length ? toToolSpecs(options.tools) : undefined;
    if (required && !tools) {
      throw new Error(
        options.tools?.length
          ? `${model.name} cannot call tools (tool calls need Enclave's local engine, not a remote server).`
          : 'A tool call was required, but the request lists no tools.',
      );
    }
    const request: ChatRequest = {
      messages: toChatMessages(messages.map(plainMessage)),
      maxTokens: inRange(options.modelOptions?.maxTokens, 1, model.maxOutputTokens)
        ? Math.floor(options.modelOptions.maxTokens)
        : model.maxOutputTokens,
      temperature: inRange(options.modelOptions?.temperature, 0, 2) ? options.modelOptions.temperature : this.ctx.config.chat.temperature,
      ...(tools ? { tools, toolMode: required ? 'required' : 'auto' } : {}),
      ...(model.role === 'completion' ? { engine: 'completion' } : {}),
    };
    if (request.messages.length === 0) throw new Error('The request has no text for the model to answer.');
    const abort = new AbortController();
    const cancel = token.onCancellationRequested(() => abort.abort());
    try {
      const result = await backend.chat(request, {
        signal: abort.signal,
        onText: (chunk) => progress.report(new vscode.LanguageModelTextPart(chunk)),
      });
      for (const call of result.toolCalls ?? []) {
        progress.report(new vscode.LanguageModelToolCallPart(call.id, call.name, asObject(call.arguments)));
      }
      if (required && !result.toolCalls?.length) {
        throw new Error(
          `The model did not finish a tool call within ${request.maxTokens} tokens (stopped: ${result.stats.stopReason}). Try again, or allow more output tokens.`,
        );
      }
    } catch (err) {
      if (abort.signal.aborted || (err instanceof EngineError && err.code === 'CANCELLED')) throw new vscode.CancellationError();
      this.logger.warn(`language-model request to ${model.id} failed: ${errorMessage(err)}`);
      throw err instanceof EngineError ? new Error(explain(err)) : err;
    } finally {
      cancel.dispose();
    }
  }

  async provideTokenCount(
    _model: EnclaveModel,
    text: string | vscode.LanguageModelChatRequestMessage,
    token: vscode.CancellationToken,
  ): Promise<number> {
    const backend: Backend = this.ctx.backend();
    if (typeof text === 'string') return backend.countTokens(text);
    let total = MESSAGE_OVERHEAD;
    for (const part of plainMessage(text).parts) {
      if (token.isCancellationRequested) throw new vscode.CancellationError();
      const content =
        part.kind === 'text' ? part.text : part.kind === 'toolResult' ? part.text : `${part.name} ${JSON.stringify(part.input)}`;
      total += await backend.countTokens(content);
    }
    return total;
  }
}

/** Template tokens around a message (`<|im_start|>role\n … <|im_end|>\n`). */
const MESSAGE_OVERHEAD = 8;

/** A VS Code message as plain parts (duck-typed: parts may come from another extension's copy of the classes). */
function plainMessage(message: vscode.LanguageModelChatRequestMessage): PlainMessage {
  const parts: PlainPart[] = [];
  for (const part of message.content) {
    if (part instanceof vscode.LanguageModelTextPart) parts.push({ kind: 'text', text: part.value });
    else if (part instanceof vscode.LanguageModelToolCallPart)
      parts.push({ kind: 'toolCall', callId: part.callId, name: part.name, input: part.input });
    else if (part instanceof vscode.LanguageModelToolResultPart)
      parts.push({ kind: 'toolResult', callId: part.callId, text: resultText(part.content) });
    else if (isRecord(part) && typeof part.value === 'string') parts.push({ kind: 'text', text: part.value });
  }
  return { role: message.role === vscode.LanguageModelChatMessageRole.Assistant ? 'assistant' : 'user', parts };
}

function resultText(content: readonly unknown[]): string {
  return content
    .map((item) => {
      if (item instanceof vscode.LanguageModelTextPart) return item.value;
      if (item instanceof vscode.LanguageModelDataPart && /^(text\/|application\/json)/.test(item.mimeType))
        return new TextDecoder().decode(item.data);
      if (isRecord(item) && typeof item.value === 'string') return item.value;
      return '[non-text content left out]';
    })
    .join('\n');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function asObject(value: unknown): object {
  return isRecord(value) && !Array.isArray(value) ? value : { value };
}

function inRange(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && value >= min && value <= max;
}

function explain(err: EngineError): string {
  switch (err.code) {
    case 'MODEL_NOT_FOUND':
    case 'ENGINE_UNAVAILABLE':
      return `${err.message} Choose a model with "Enclave: Choose a Model for This Machine".`;
    case 'ENGINE_CRASHED':
      return `Enclave's engine stopped while answering (${err.message}). It restarts by itself; send the request again.`;
    default:
      return err.message;
  }
}
