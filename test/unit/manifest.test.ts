// package.json is merged by hand from many features' contributions; JSON.parse keeps only the last
// of two equal keys, so a duplicated "commandPalette" silently drops the first one's entries.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';

/** Every key path that occurs twice in one object of `json` (a small scanner over the JSON text). */
function duplicateKeys(json: string): string[] {
  const duplicates: string[] = [];
  const objects: Set<string>[] = [];
  const path: string[] = [];
  let pendingKey: string | undefined;
  const stringAt = (i: number) => {
    let j = i + 1;
    while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
    return { text: JSON.parse(json.slice(i, j + 1)) as string, end: j };
  };
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      const { text, end } = stringAt(i);
      let k = end + 1;
      while (/\s/.test(json[k])) k++;
      if (json[k] === ':' && objects.length > 0) {
        const keys = objects[objects.length - 1];
        if (keys.has(text)) duplicates.push([...path, text].join('.'));
        keys.add(text);
        pendingKey = text;
      }
      i = end;
    } else if (c === '{') {
      objects.push(new Set());
      path.push(pendingKey ?? '[]');
      pendingKey = undefined;
    } else if (c === '}') {
      objects.pop();
      path.pop();
    } else if (c === '[') pendingKey = undefined;
  }
  return duplicates;
}

it('package.json has no key twice in one object', () => {
  assert.deepEqual(duplicateKeys('{"a":{"b":1,"c":[{"b":2}],"b":3}}'), ['[].a.b'], 'the scanner finds a duplicate');
  assert.deepEqual(duplicateKeys(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')), []);
});
