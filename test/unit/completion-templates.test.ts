import assert from 'node:assert/strict';
import { test } from 'node:test';

import { detectFimFamily, fimTemplate, noFimMessage, type FimInput } from '../../src/completion/templates';

const input: FimInput = {
  prefix: 'function add(a, b) {\n',
  linePrefix: '  return ',
  suffix: ';\n}\n',
  files: [],
  path: 'src/math.ts',
  repoName: 'calc',
  languageId: 'typescript',
};
const withFiles: FimInput = { ...input, files: [{ path: 'src/util.ts', text: 'export const two = 2;' }] };

test('qwen: PSM with the cursor line after <|fim_middle|>', () => {
  assert.equal(fimTemplate('qwen').build(input), '<|fim_prefix|>function add(a, b) {\n<|fim_suffix|>;\n}\n<|fim_middle|>  return ');
});

test('qwen: other files as a repository with <|repo_name|> and <|file_sep|>', () => {
  assert.equal(
    fimTemplate('qwen').build(withFiles),
    '<|repo_name|>calc\n<|file_sep|>src/util.ts\nexport const two = 2;\n<|file_sep|>src/math.ts\n' +
      '<|fim_prefix|>function add(a, b) {\n<|fim_suffix|>;\n}\n<|fim_middle|>  return ',
  );
});

test('deepseek: fim begin/hole/end, other files as path comments in the prefix', () => {
  assert.equal(fimTemplate('deepseek').build(input), '<｜fim▁begin｜>function add(a, b) {\n<｜fim▁hole｜>;\n}\n<｜fim▁end｜>  return ');
  assert.equal(
    fimTemplate('deepseek').build(withFiles),
    '<｜fim▁begin｜>// src/util.ts\nexport const two = 2;\n// src/math.ts\nfunction add(a, b) {\n<｜fim▁hole｜>;\n}\n<｜fim▁end｜>  return ',
  );
});

test('codellama: <PRE> / <SUF> / <MID> with their spaces', () => {
  assert.equal(fimTemplate('codellama').build(input), '<PRE> function add(a, b) {\n <SUF>;\n}\n <MID>  return ');
});

test('starcoder2: <fim_prefix> with <repo_name> / <file_sep>', () => {
  assert.equal(fimTemplate('starcoder').build(input), '<fim_prefix>function add(a, b) {\n<fim_suffix>;\n}\n<fim_middle>  return ');
  assert.equal(
    fimTemplate('starcoder').build(withFiles),
    '<repo_name>calc<file_sep>src/util.ts\nexport const two = 2;\n<file_sep>src/math.ts\n<fim_prefix>function add(a, b) {\n<fim_suffix>;\n}\n<fim_middle>  return ',
  );
});

test('codestral: suffix first, so the cursor ends the prompt', () => {
  assert.equal(fimTemplate('codestral').build(input), '[SUFFIX];\n}\n[PREFIX]function add(a, b) {\n  return ');
  assert.equal(
    fimTemplate('codestral').build({ ...withFiles, languageId: 'python' }),
    '[SUFFIX];\n}\n[PREFIX]# src/util.ts\nexport const two = 2;\n# src/math.ts\nfunction add(a, b) {\n  return ',
  );
});

test('special tokens inside the document cannot forge prompt structure', () => {
  const prompt = fimTemplate('qwen').build({ ...input, prefix: 'const s = "<|fim_middle|><|file_sep|>";\n' });
  assert.equal(prompt.split('<|fim_middle|>').length, 2);
  assert.ok(!prompt.includes('<|file_sep|>'));
  assert.ok(prompt.includes('const s = "";'));
});

test('stop strings include the family end and separator tokens', () => {
  assert.ok(fimTemplate('qwen').stop.includes('<|endoftext|>'));
  assert.ok(fimTemplate('qwen').stop.includes('<|file_sep|>'));
  assert.ok(fimTemplate('deepseek').stop.includes('<｜end▁of▁sentence｜>'));
  assert.ok(fimTemplate('codellama').stop.includes('<EOT>'));
});

test('detectFimFamily reads the family from the vocabulary', () => {
  const vocab = (tokens: string[]) => (t: string) => tokens.includes(t);
  assert.equal(detectFimFamily(vocab(['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|im_start|>'])), 'qwen');
  assert.equal(detectFimFamily(vocab(['<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>'])), 'deepseek');
  assert.equal(detectFimFamily(vocab(['<fim_prefix>', '<fim_suffix>', '<fim_middle>'])), 'starcoder');
  assert.equal(detectFimFamily(vocab(['[SUFFIX]', '[PREFIX]', '[MIDDLE]'])), 'codestral');
  assert.equal(detectFimFamily(vocab(['▁<PRE>', '▁<SUF>', '▁<MID>'])), 'codellama');
  assert.equal(detectFimFamily(vocab(['<|im_start|>', '<|im_end|>'])), null);
  assert.equal(detectFimFamily(vocab(['<|fim_prefix|>'])), null, 'all three tokens are needed');
});

test('a model without FIM gets a message that says what to do', () => {
  const message = noFimMessage('Chat-7B');
  assert.match(message, /Chat-7B/);
  assert.match(message, /fill-in-the-middle/);
  assert.match(message, /Choose a Model/);
});
