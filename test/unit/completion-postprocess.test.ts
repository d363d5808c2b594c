import assert from 'node:assert/strict';
import { test } from 'node:test';

import { postprocess, type PostprocessContext } from '../../src/completion/postprocess';

function at(linePrefix: string, lineSuffix = '', nextText = '', prefix = '', maxLines = 8): PostprocessContext {
  return { linePrefix, lineSuffix, nextText, prefix, maxLines, tabSize: 4 };
}

test('whitespace-only completions are dropped', () => {
  assert.equal(postprocess('   \n\t\n', at('  ')), '');
  assert.equal(postprocess('', at('x = ')), '');
});

test('single line when there is code right of the cursor, without repeating it', () => {
  assert.equal(postprocess('a, b)\n  more()', at('console.log(', ')')), 'a, b');
  assert.equal(postprocess('items[0]];', at('const first = [', '];')), 'items[0]', 'the line reads as the model meant it');
});

test('a completion that only repeats the text right of the cursor is dropped', () => {
  assert.equal(postprocess(')', at('foo(', ')')), '');
});

test('multi-line at the end of a line, capped at maxLines', () => {
  const raw = 'a = 1\nb = 2\nc = 3\nd = 4';
  assert.equal(postprocess(raw, at('', '', '', '', 2)), 'a = 1\nb = 2');
  assert.equal(postprocess(raw, at('', '', '', '', 8)), raw);
});

test('stops where the block the completion opened ends (braces)', () => {
  const raw = 'if (x > 0) {\n  return x;\n}\nconsole.log("after");\n';
  assert.equal(postprocess(raw, at('')), 'if (x > 0) {\n  return x;\n}');
});

test('stops where the block the completion opened ends (python indentation)', () => {
  const raw = 'for item in items:\n        total += item\n    return total\n';
  assert.equal(postprocess(raw, at('    ', '', '', '    total = 0\n')), 'for item in items:\n        total += item');
});

test('stops when the completion leaves the block the cursor is in', () => {
  const raw = 'return a + b;\n}\n\nfunction next() {';
  assert.equal(postprocess(raw, at('  ', '', '}\n')), 'return a + b;');
});

test('stops where it starts repeating the lines after the cursor', () => {
  const raw = 'const b = 2;\nconst c = 3;\nexport { a, b, c };';
  assert.equal(postprocess(raw, at('', '', 'const c = 3;\nexport { a, b, c };\n')), 'const b = 2;');
});

test('a completion that is the next line again is dropped', () => {
  assert.equal(postprocess('return total;', at('  ', '', '  return total;\n}\n')), '');
});

test("the document's indentation: tabs stay tabs, spaces stay spaces", () => {
  const tabbed = '\tif (a) {\n\t\tb();\n\t}\n';
  assert.equal(postprocess('if (x) {\n        y();\n    }', at('\t', '', '', tabbed)), 'if (x) {\n\t\ty();\n\t}');
  const spaced = '  if (a) {\n    b();\n  }\n';
  assert.equal(postprocess('if (x) {\n\t\ty();\n\t}', at('  ', '', '', spaced)), 'if (x) {\n        y();\n    }');
});

test('trailing blank lines and trailing spaces are trimmed; CRLF becomes LF', () => {
  assert.equal(postprocess('x = 1;  \r\ny = 2;\r\n\r\n', at('')), 'x = 1;  \ny = 2;');
});
