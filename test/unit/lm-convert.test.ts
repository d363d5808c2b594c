import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';

import { describeModels, familyOf, toChatMessages, toToolSpecs } from '../../src/lm/convert';
import { readWorkspaceFile, ToolInputError } from '../../src/lm/workspaceFile';

test('an agent round trip becomes engine messages: the result is joined to its call, the results-only message disappears', () => {
  const messages = toChatMessages([
    { role: 'user', parts: [{ kind: 'text', text: 'What is in a.ts?' }] },
    {
      role: 'assistant',
      parts: [
        { kind: 'text', text: 'Reading it.' },
        { kind: 'toolCall', callId: 'call_1', name: 'enclave_readFile', input: { path: 'a.ts' } },
      ],
    },
    { role: 'user', parts: [{ kind: 'toolResult', callId: 'call_1', text: 'export const a = 1;' }] },
  ]);
  assert.deepEqual(messages, [
    { role: 'user', content: 'What is in a.ts?' },
    {
      role: 'assistant',
      content: 'Reading it.',
      toolCalls: [{ id: 'call_1', name: 'enclave_readFile', arguments: { path: 'a.ts' }, result: 'export const a = 1;' }],
    },
  ]);
});

test('a result for an unknown call stays as user text; a follow-up question after results opens a new turn', () => {
  const messages = toChatMessages(
    [
      { role: 'assistant', parts: [{ kind: 'toolCall', callId: 'c1', name: 't', input: undefined }] },
      {
        role: 'user',
        parts: [
          { kind: 'toolResult', callId: 'c1', text: 'one' },
          { kind: 'toolResult', callId: 'zz', text: 'stray' },
          { kind: 'text', text: 'and now?' },
        ],
      },
    ],
    'system text',
  );
  assert.equal(messages[0].role, 'system');
  assert.deepEqual(messages[1].toolCalls, [{ id: 'c1', name: 't', arguments: {}, result: 'one' }]);
  assert.equal(messages[2].role, 'user');
  assert.ok(messages[2].content.includes('stray'));
  assert.ok(messages[2].content.endsWith('and now?'));
});

test('tools keep their schema; models come from the settings without an engine', () => {
  assert.deepEqual(
    toToolSpecs([
      { name: 'a', description: 'd', inputSchema: { type: 'object' } },
      { name: 'b', description: '' },
    ]),
    [
      { name: 'a', description: 'd', parameters: { type: 'object' } },
      { name: 'b', description: '' },
    ],
  );
  const base = { contextSize: 8192, maxOutputTokens: 1024 };
  assert.deepEqual(describeModels({ ...base, modelPath: '', chatModelPath: '' }), [], 'no model chosen: none offered');
  const one = describeModels({ ...base, modelPath: '/m/qwen2.5-coder-1.5b-q8_0.gguf', chatModelPath: '' });
  assert.deepEqual(
    one.map((m) => [m.id, m.maxInputTokens, m.maxOutputTokens, m.toolCalling, m.family]),
    [['chat', 7168, 1024, true, 'qwen2.5-coder']],
  );
  const two = describeModels({ ...base, modelPath: '/m/coder-1.5b.gguf', chatModelPath: '/m/instruct-7b.gguf' });
  assert.deepEqual(
    two.map((m) => m.id),
    ['chat', 'completion'],
  );
  assert.notEqual(two[0].name, two[1].name);
  const same = describeModels({ ...base, modelPath: '/m/x.gguf', chatModelPath: '/m/x.gguf' });
  assert.equal(same.length, 1);
  const remote = describeModels({
    ...base,
    maxOutputTokens: 99_999,
    modelPath: '/m/x.gguf',
    chatModelPath: '',
    remoteHost: 'gpu.lan:8000',
  });
  assert.deepEqual(
    remote.map((m) => [m.id, m.toolCalling, m.maxOutputTokens]),
    [['remote', false, 4096]],
  );
  assert.equal(familyOf('Qwen2.5-Coder-7B-Instruct-Q4_K_M'), 'qwen2.5-coder');
});

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});
function folder(files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'enclave-tool-'));
  roots.push(root);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), content);
  }
  return root;
}

test('the read-file tool reads workspace text files, capped, and refuses everything else with a reason', async () => {
  const outside = folder({ 'secret.txt': 'SECRET' });
  const ws = folder({ 'src/a.ts': 'export const a = 1;\n', 'big.txt': 'x'.repeat(5000), 'bin.dat': Buffer.from([0, 1, 2]) });
  symlinkSync(path.join(outside, 'secret.txt'), path.join(ws, 'link.txt'));
  assert.deepEqual(await readWorkspaceFile([ws], 'src/a.ts'), { path: 'src/a.ts', text: 'export const a = 1;\n', truncated: false });
  assert.equal((await readWorkspaceFile([ws], path.join(ws, 'src/a.ts'))).path, 'src/a.ts', 'an absolute path inside works');
  const big = await readWorkspaceFile([ws], 'big.txt', 1000);
  assert.equal(big.text.length, 1000);
  assert.equal(big.truncated, true);
  for (const bad of ['../x', path.join(outside, 'secret.txt'), 'link.txt', 'missing.ts', 'src', 'bin.dat', '', 42]) {
    await assert.rejects(readWorkspaceFile([ws], bad), ToolInputError, String(bad));
  }
  await assert.rejects(readWorkspaceFile([], 'a.ts'), ToolInputError);
});
