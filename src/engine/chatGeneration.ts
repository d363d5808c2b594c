// Chat and JSON-schema structured output through the model's own chat template (node-llama-cpp's
// LlamaChat) on one of the runtime's sequences, with the prompt-cache statistics the FIM path
// reports too; schemas become grammars once and are kept. Greedy chat with a draft model runs the
// rendered chat through Enclave's own speculative loop (fimDecoding.ts) instead: same tokens out.
import { randomBytes } from 'node:crypto';

import type {
  ChatHistoryItem,
  ChatModelFunctions,
  Llama,
  LlamaChat,
  LlamaChatResponse,
  LlamaChatResponseFunctionCallParamsChunk,
  LlamaContextSequence,
  LlamaGrammar,
  LlamaModel,
} from 'node-llama-cpp' with { 'resolution-mode': 'import' };

import { schemaMismatch } from './jsonSchemaCheck';
import type { Logger } from '../logger';
import type { NodeLlamaCpp } from './modelFiles';
import { errorMessage } from '../util';
import { generateGreedy } from './fimDecoding';
import { EngineError, type ChatMessage, type GenerationResult, type RequestStats, type ToolCall, type ToolSpec } from './protocol';
import type { Slot } from './slots';
import { chatFunctions, chatHistory, forcingToolCall, recoverToolCalls, type GeneratedCall } from './toolCalls';

export interface ChatOptions {
  maxTokens: number;
  temperature: number;
  seed?: number;
  grammar?: LlamaGrammar;
  signal: AbortSignal;
  onText?: (chunk: string) => void;
  /** Tools the model may call (not with `grammar`); `required` makes the reply one call. */
  tools?: readonly ToolSpec[];
  toolMode?: 'auto' | 'required';
  /** Decode with the slot's draft model where that is exact (greedy, no grammar). */
  speculative?: { model: LlamaModel; slot: Slot; batchSize: number };
}

export async function runChat(
  nlc: NodeLlamaCpp,
  seq: LlamaContextSequence,
  messages: ChatMessage[],
  o: ChatOptions,
): Promise<GenerationResult> {
  const started = performance.now();
  let chat = new nlc.LlamaChat({ contextSequence: seq, chatWrapper: 'auto', autoDisposeSequence: false });
  const tools = o.tools?.length && !o.grammar ? o.tools : undefined;
  if (tools && o.toolMode === 'required') {
    const wrapper = forcingToolCall(chat.chatWrapper);
    chat.dispose({ disposeSequence: false });
    chat = new nlc.LlamaChat({ contextSequence: seq, chatWrapper: wrapper, autoDisposeSequence: false });
  }
  try {
    const before = seq.contextTokens;
    const inputBefore = seq.tokenMeter.usedInputTokens;
    const outputBefore = seq.tokenMeter.usedOutputTokens;
    let firstTokenAt = 0;
    const history: ChatHistoryItem[] = chatHistory(messages);
    if (o.speculative && o.temperature === 0 && !o.grammar && !o.tools?.length) {
      const result = await draftedChat(chat, history, o.speculative, o, started);
      if (result) return result;
    }
    let aborted = false;
    const common = {
      maxTokens: o.maxTokens,
      temperature: o.temperature,
      seed: o.seed,
      signal: o.signal,
      stopOnAbortSignal: true,
      onTextChunk: (chunk: string) => {
        if (!firstTokenAt) firstTokenAt = performance.now();
        if (o.signal.aborted) aborted = true;
        else if (chunk) o.onText?.(chunk);
      },
    };
    let streamed = '';
    const generatedCalls: GeneratedCall[] = [];
    const onFunctionCallParamsChunk = (chunk: LlamaChatResponseFunctionCallParamsChunk) => {
      const call = (generatedCalls[chunk.callIndex] ??= { name: chunk.functionName, paramsText: '' });
      call.paramsText += chunk.paramsChunk;
    };
    let reply: { text: string; calls: { name: string; params: unknown }[]; stopReason: string };
    try {
      const response: LlamaChatResponse<ChatModelFunctions> | LlamaChatResponse = tools
        ? await chat.generateResponse(history, {
            ...common,
            onTextChunk: (chunk: string) => {
              streamed += chunk;
              common.onTextChunk(chunk);
            },
            functions: chatFunctions(tools),
            maxParallelFunctionCalls: 1,
            onFunctionCallParamsChunk,
          })
        : await chat.generateResponse(history, { ...common, grammar: o.grammar });
      const calls = (response.functionCalls ?? []) as { functionName: string; params: unknown }[];
      reply = {
        text: response.response,
        calls: calls.map((c) => ({ name: c.functionName, params: c.params })),
        stopReason: response.metadata.stopReason,
      };
    } catch (err) {
      if (o.signal.aborted) throw new EngineError('CANCELLED', 'Request cancelled.');
      if (!tools) throw err;
      const recovered = recoverToolCalls(generatedCalls, tools);
      // The grammar keeps calls well-formed; what still fails (a schema the grammar cannot hold)
      // is reported as the model's, not as an engine crash.
      if (!recovered) throw new EngineError('INTERNAL', `The model's tool call could not be read: ${errorMessage(err)}`);
      reply = { text: streamed, calls: recovered, stopReason: 'functionCalls' };
    }
    if (aborted || o.signal.aborted) throw new EngineError('CANCELLED', 'Request cancelled.');
    const toolCalls: ToolCall[] = reply.calls.map((call) => ({
      id: `call_${randomBytes(6).toString('hex')}`,
      name: call.name,
      arguments: call.params ?? {},
    }));
    const after = seq.contextTokens;
    const generatedTokens = seq.tokenMeter.usedOutputTokens - outputBefore;
    const evaluatedInputs = seq.tokenMeter.usedInputTokens - inputBefore;
    // The sequence now holds the prompt plus the generated tokens but the last.
    const promptTokens = Math.max(0, after.length - Math.max(0, generatedTokens - 1));
    let reused = 0;
    while (reused < before.length && reused < promptTokens && before[reused] === after[reused]) reused++;
    const evaluatedTokens = Math.max(0, Math.min(promptTokens - reused, evaluatedInputs));
    const stopReason: RequestStats['stopReason'] =
      reply.stopReason === 'maxTokens' ? 'maxTokens' : reply.stopReason === 'abort' ? 'abort' : 'eos';
    return {
      text: reply.text,
      ...(toolCalls.length > 0 ? { toolCalls } : {}),
      stats: {
        promptTokens,
        evaluatedTokens,
        reusedTokens: promptTokens - evaluatedTokens,
        generatedTokens,
        timeToFirstTokenMs: (firstTokenAt || performance.now()) - started,
        totalMs: performance.now() - started,
        queuedMs: 0,
        stopReason,
      },
    };
  } finally {
    chat.dispose({ disposeSequence: false });
  }
}

/**
 * Greedy chat through the speculative loop: the chat rendered by the same chat wrapper LlamaChat
 * uses, tokenized the same way, decoded until an end-of-generation token, a stop trigger or
 * maxTokens — the tokens LlamaChat's greedy decoding produces. Sampling (temperature > 0) would
 * need rejection sampling to stay exact, and grammars constrain each position on the state the
 * previous token left, so both stay on LlamaChat. Returns undefined where the wrapper could emit
 * segments LlamaChat would take out of the text (thoughts as special tokens).
 */
async function draftedChat(
  chat: LlamaChat,
  history: ChatHistoryItem[],
  spec: NonNullable<ChatOptions['speculative']>,
  o: ChatOptions,
  started: number,
): Promise<GenerationResult | undefined> {
  const { model } = spec;
  const wrapper = chat.chatWrapper;
  const thought = wrapper.settings.segments?.thought?.prefix;
  if (thought !== undefined) {
    if (typeof thought === 'object' && 'type' in thought) return undefined; // a thought opened by the template
    const tokens = typeof thought === 'string' ? model.tokenize(thought, true) : thought.tokenize(model.tokenizer);
    if (tokens.some((t) => model.isSpecialToken(t))) return undefined;
  }
  const state = wrapper.generateContextState({ chatHistory: history });
  const stop: string[] = [];
  for (const trigger of state.stopGenerationTriggers) {
    // Triggers of special tokens are end-of-generation tokens, which the loop stops on anyway.
    if (trigger.values.every((v) => typeof v === 'string')) stop.push(trigger.toString());
  }
  const tokens = state.contextText.tokenize(model.tokenizer);
  const out = await generateGreedy(model, spec.slot, tokens, {
    maxTokens: o.maxTokens,
    batchSize: spec.batchSize,
    deadline: Infinity,
    stop,
    mode: 'draft',
    signal: o.signal,
    onText: o.onText,
  });
  const totalMs = performance.now() - started;
  return {
    text: out.text,
    stats: {
      promptTokens: tokens.length,
      evaluatedTokens: out.evaluated,
      reusedTokens: out.reused,
      generatedTokens: out.tokens.length,
      draft: { accepted: out.draftAccepted, rejected: out.draftRejected, rounds: out.draftRounds, speedUp: out.draftSpeedUp },
      timeToFirstTokenMs: (out.firstTokenAt || performance.now()) - started,
      totalMs,
      queuedMs: 0,
      stopReason: out.stopReason,
    },
  };
}

export interface SchemaGrammar {
  sampling: LlamaGrammar;
  parse(text: string): unknown;
}

/** Grammars for JSON schemas, made once per schema. */
export class SchemaGrammars {
  private readonly grammars = new Map<string, SchemaGrammar>();

  constructor(private readonly llama: Llama) {}

  async grammarFor(schema: object): Promise<SchemaGrammar> {
    const key = JSON.stringify(schema);
    let grammar = this.grammars.get(key);
    if (!grammar) {
      try {
        const schemaGrammar = (await this.llama.createGrammarForJsonSchema(schema as never)) as LlamaGrammar & {
          parse(text: string): unknown;
        };
        // node-llama-cpp's number rules allow exponents of up to 16 digits, so an "integer" can come
        // out as 5E955 (Infinity) and fail its own validation: sample with sane number rules.
        const text = saneNumberRules(schemaGrammar.grammar);
        const sampling = text === schemaGrammar.grammar ? schemaGrammar : await this.llama.createGrammar({ grammar: text });
        grammar = { sampling, parse: (json) => schemaGrammar.parse(json) };
      } catch (err) {
        throw new EngineError('BAD_REQUEST', `The JSON schema is not supported: ${errorMessage(err)}`);
      }
      if (this.grammars.size > 32) this.grammars.clear();
      this.grammars.set(key, grammar);
    }
    return grammar;
  }
}

/**
 * The value of structured output. node-llama-cpp 3.21's grammar bounds a string's length in code
 * points but its parser checks UTF-16 units, so a string at its limit holding an emoji is rejected
 * although the grammar produced it: such JSON is checked again, counting code points.
 */
export function parseStructured(grammar: SchemaGrammar, out: GenerationResult, schema: object, maxTokens: number, logger: Logger): unknown {
  try {
    return grammar.parse(out.text);
  } catch (err) {
    const reparsed = parseJson(out.text);
    const mismatch = reparsed.ok ? schemaMismatch(reparsed.value, schema) : 'not JSON';
    if (mismatch !== null) {
      throw new EngineError(
        'INTERNAL',
        `Structured output did not parse: ${JSON.stringify(out.text.slice(0, 200))} (${out.stats.stopReason === 'maxTokens' ? `cut off at maxTokens ${maxTokens}` : errorMessage(err)}).`,
      );
    }
    logger.debug(`structured output accepted on code-point lengths (node-llama-cpp: ${errorMessage(err)})`);
    return reparsed.ok ? reparsed.value : undefined;
  }
}

/** Integers without exponents; other numbers with exponents of at most two digits. */
export function saneNumberRules(grammar: string): string {
  const exponent = ' ([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?';
  return grammar
    .split('\n')
    .map((line) => {
      if (!line.includes(exponent)) return line;
      if (line.startsWith('integer-number-rule ::=')) return line.replace(exponent, '');
      return line.replace(exponent, ' ([eE] [-+]? [0-9]{1,2})?');
    })
    .join('\n');
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}
