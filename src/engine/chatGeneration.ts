// Chat and JSON-schema structured output through the model's own chat template (node-llama-cpp's
// LlamaChat) on one of the runtime's sequences, with the prompt-cache statistics the FIM path
// reports too; schemas become grammars once and are kept.
import { randomBytes } from 'node:crypto';

import type { Llama, LlamaChatResponse, LlamaContextSequence, LlamaGrammar } from 'node-llama-cpp' with { 'resolution-mode': 'import' };

import { schemaMismatch } from './jsonSchemaCheck';
import type { Logger } from '../logger';
import type { NodeLlamaCpp } from './modelFiles';
import { errorMessage } from '../util';
import { EngineError, type ChatMessage, type GenerationResult, type RequestStats, type ToolCall, type ToolSpec } from './protocol';
import { chatFunctions, chatHistory, forcingToolCall } from './toolCalls';

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
    const history = chatHistory(messages);
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
    let response: LlamaChatResponse<Record<string, never>> | LlamaChatResponse;
    try {
      response = tools
        ? await chat.generateResponse(history, { ...common, functions: chatFunctions(tools), maxParallelFunctionCalls: 1 })
        : await chat.generateResponse(history, { ...common, grammar: o.grammar });
    } catch (err) {
      if (o.signal.aborted) throw new EngineError('CANCELLED', 'Request cancelled.');
      // The grammar keeps calls well-formed; what still fails (a name or arguments cut off, a
      // schema the grammar cannot hold) is reported as the model's, not as an engine crash.
      if (tools) throw new EngineError('INTERNAL', `The model's tool call could not be read: ${errorMessage(err)}`);
      throw err;
    }
    if (aborted || o.signal.aborted) throw new EngineError('CANCELLED', 'Request cancelled.');
    const toolCalls: ToolCall[] = (response.functionCalls ?? []).map((call) => ({
      id: `call_${randomBytes(6).toString('hex')}`,
      name: call.functionName,
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
      response.metadata.stopReason === 'maxTokens' ? 'maxTokens' : response.metadata.stopReason === 'abort' ? 'abort' : 'eos';
    return {
      text: response.response,
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
