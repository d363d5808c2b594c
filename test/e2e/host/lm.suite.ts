// Enclave's models through VS Code's language-model API, inside the real extension host, on the
// random-weight fixture model (real Qwen tokenizer and chat template). Text is nonsense, so the
// tests check mechanics: parts stream, a cancel ends the stream, token counts follow the Qwen
// tokenizer. The tool round trip is deterministic on random weights because the request uses
// toolMode Required: node-llama-cpp's grammar then forces a well-formed enclave_readFile call (the
// path it names is random; the tool's answer — content or refusal — goes back to the model).
import * as assert from 'node:assert/strict';

import * as vscode from 'vscode';

const extensionId = 'enclave-dev.enclave';
const TOOL = 'enclave_readFile';

async function collect(response: vscode.LanguageModelChatResponse): Promise<{ text: string[]; calls: vscode.LanguageModelToolCallPart[] }> {
  const text: string[] = [];
  const calls: vscode.LanguageModelToolCallPart[] = [];
  for await (const part of response.stream) {
    if (part instanceof vscode.LanguageModelTextPart) text.push(part.value);
    else if (part instanceof vscode.LanguageModelToolCallPart) calls.push(part);
  }
  return { text, calls };
}

function resultText(result: vscode.LanguageModelToolResult): string {
  return result.content.map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : '')).join('');
}

describe('Enclave as a language-model provider', () => {
  let model: vscode.LanguageModelChat;

  before(async () => {
    await vscode.extensions.getExtension(extensionId)?.activate();
    const models = await vscode.lm.selectChatModels({ vendor: 'enclave' });
    assert.ok(models.length > 0, 'no Enclave model is offered');
    const chat = models.find((m) => m.id === 'chat');
    assert.ok(chat, `models: ${models.map((m) => m.id).join(', ')}`);
    model = chat;
  });

  it('offers the configured model with its context size and output limit', () => {
    assert.equal(model.vendor, 'enclave');
    assert.ok(model.name.includes('model'), model.name);
    assert.ok(model.maxInputTokens > 0 && model.maxInputTokens < 1_000_000, `${model.maxInputTokens}`);
  });

  it("counts tokens with the model's own tokenizer", async () => {
    // Qwen's BPE: "hello world" is two tokens, "hello" + " world".
    assert.equal(await model.countTokens('hello world'), 2);
    const message = vscode.LanguageModelChatMessage.User('hello world');
    const inMessage = await model.countTokens(message);
    assert.ok(inMessage > 2, `a message adds its template tokens (${inMessage})`);
  });

  it('streams a reply as text parts', async () => {
    const started = Date.now();
    const response = await model.sendRequest(
      [vscode.LanguageModelChatMessage.User('Write a short greeting.')],
      { modelOptions: { maxTokens: 12 } },
      new vscode.CancellationTokenSource().token,
    );
    const { text, calls } = await collect(response);
    assert.ok(text.length >= 2, `streamed in ${text.length} parts`);
    assert.equal(calls.length, 0);
    console.log(`lm: 12-token reply in ${Date.now() - started} ms, ${text.length} parts`);
  });

  it('a cancelled request stops streaming at once', async () => {
    const source = new vscode.CancellationTokenSource();
    const response = await model.sendRequest(
      [vscode.LanguageModelChatMessage.User('Write a very long story.')],
      { modelOptions: { maxTokens: 4000 } },
      source.token,
    );
    let parts = 0;
    let cancelledAt = 0;
    try {
      for await (const part of response.stream) {
        if (!(part instanceof vscode.LanguageModelTextPart)) continue;
        parts++;
        if (parts === 3) {
          cancelledAt = Date.now();
          source.cancel();
        }
      }
    } catch (err) {
      assert.ok(err instanceof vscode.CancellationError || /cancel/i.test(String(err)), String(err));
    }
    assert.ok(cancelledAt > 0, 'the reply streamed before it was cancelled');
    const stopMs = Date.now() - cancelledAt;
    console.log(`lm: stream ended ${stopMs} ms after cancel, ${parts} parts`);
    assert.ok(stopMs < 3_000, `the stream ended ${stopMs} ms after the cancel`);
    assert.ok(parts < 200, `${parts} parts: generation did not stop`);
    // The engine is free again: a short request is answered.
    const next = await collect(
      await model.sendRequest(
        [vscode.LanguageModelChatMessage.User('Hi')],
        { modelOptions: { maxTokens: 4 } },
        new vscode.CancellationTokenSource().token,
      ),
    );
    assert.ok(next.text.length > 0);
  });

  it('Enclave registers its read-file tool; it reads workspace files and refuses others', async () => {
    const tool = vscode.lm.tools.find((t) => t.name === TOOL);
    assert.ok(tool, `tools: ${vscode.lm.tools.map((t) => t.name).join(', ')}`);
    const [file] = await vscode.workspace.findFiles('**/*.ts', '**/node_modules/**', 1);
    assert.ok(file, 'the sample workspace has a .ts file');
    const path = vscode.workspace.asRelativePath(file, false);
    const result = await vscode.lm.invokeTool(TOOL, { input: { path }, toolInvocationToken: undefined });
    const text = resultText(result);
    const onDisk = new TextDecoder().decode(await vscode.workspace.fs.readFile(file));
    assert.ok(text.includes(onDisk), 'the tool returns the file as it is on disk');
    await assert.rejects(
      Promise.resolve(vscode.lm.invokeTool(TOOL, { input: { path: '../../../etc/passwd' }, toolInvocationToken: undefined })),
    );
    const cancelled = new vscode.CancellationTokenSource();
    cancelled.cancel();
    await assert.rejects(Promise.resolve(vscode.lm.invokeTool(TOOL, { input: { path }, toolInvocationToken: undefined }, cancelled.token)));
  });

  it('completes a round trip: a required tool call, the tool runs, its result goes back and is answered', async () => {
    const tool = vscode.lm.tools.find((t) => t.name === TOOL);
    assert.ok(tool);
    const question = vscode.LanguageModelChatMessage.User('Read src/main.ts and tell me what it does.');
    const first = await collect(
      await model.sendRequest(
        [question],
        { tools: [tool], toolMode: vscode.LanguageModelChatToolMode.Required, modelOptions: { maxTokens: 120 } },
        new vscode.CancellationTokenSource().token,
      ),
    );
    assert.equal(first.calls.length, 1, 'the grammar forced exactly one call');
    const [call] = first.calls;
    assert.equal(call.name, TOOL);
    assert.equal(typeof (call.input as { path?: unknown }).path, 'string');
    assert.ok(call.callId.length > 0);
    // The path is whatever the random weights chose: the tool reads it or refuses; either way the
    // model gets an answer, as agent mode does it.
    let output: string;
    try {
      output = resultText(await vscode.lm.invokeTool(TOOL, { input: call.input, toolInvocationToken: undefined }));
    } catch (err) {
      output = `Error: ${err instanceof Error ? err.message : String(err)}`;
    }
    const second = await collect(
      await model.sendRequest(
        [
          question,
          vscode.LanguageModelChatMessage.Assistant([call]),
          vscode.LanguageModelChatMessage.User([
            new vscode.LanguageModelToolResultPart(call.callId, [new vscode.LanguageModelTextPart(output)]),
          ]),
        ],
        { tools: [tool], modelOptions: { maxTokens: 8 } },
        new vscode.CancellationTokenSource().token,
      ),
    );
    assert.ok(second.text.length + second.calls.length > 0, 'the model answered the tool result');
    // With the result in the prompt the request is larger than the question alone.
    const withResult = await model.countTokens(output);
    assert.ok(withResult > 0);
  });

  it('a required tool call without tools is refused with a message', async () => {
    await assert.rejects(
      (async () =>
        collect(
          await model.sendRequest(
            [vscode.LanguageModelChatMessage.User('x')],
            { toolMode: vscode.LanguageModelChatToolMode.Required },
            new vscode.CancellationTokenSource().token,
          ),
        ))(),
    );
  });
});
