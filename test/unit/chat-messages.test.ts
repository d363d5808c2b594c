import assert from 'node:assert/strict';
import { test } from 'node:test';

import { isSafeLink, parseHostMessage, parseWebviewMessage } from '../../src/chat/messages';

test('well-formed webview messages pass', () => {
  for (const m of [
    { type: 'ready' },
    { type: 'send', text: 'hello\nworld' },
    { type: 'stop' },
    { type: 'regenerate' },
    { type: 'openChat', id: 'abc-123' },
    { type: 'deleteChat', id: 'abc_123' },
    { type: 'removeAttachment', id: 'sel-1' },
    { type: 'insert', code: 'let x = 1;' },
    { type: 'apply', code: 'x', messageId: 'm1', language: 'ts' },
    { type: 'apply', code: 'x', messageId: 'm1' },
    { type: 'openLink', href: 'https://example.com/a?b=c' },
  ]) {
    const parsed = parseWebviewMessage(m);
    assert.equal(parsed.ok, true, JSON.stringify(m));
    if (parsed.ok) assert.deepEqual(parsed.message, m);
  }
});

test('unknown and malformed webview messages are refused with a reason', () => {
  const cases: [unknown, RegExp][] = [
    [null, /not an object/],
    ['send', /not an object/],
    [{ type: 'format-disk' }, /unknown type/],
    [{ type: '__proto__' }, /unknown type/],
    [{ type: 'toString' }, /unknown type/],
    [{}, /unknown type/],
    [{ type: 'send' }, /text: not a string/],
    [{ type: 'send', text: 42 }, /text: not a string/],
    [{ type: 'send', text: 'x'.repeat(200_001) }, /longer than/],
    [{ type: 'send', text: 'hi', extra: 1 }, /unexpected field "extra"/],
    [{ type: 'openChat', id: '../../etc/passwd' }, /does not match/],
    [{ type: 'deleteChat', id: '' }, /does not match/],
    [{ type: 'apply', code: 'x' }, /messageId/],
    [{ type: 'apply', code: 'x', messageId: 'm', language: 3 }, /language/],
    [{ type: 'openLink', href: 'javascript:alert(1)' }, /http/],
    [{ type: 'openLink', href: 'file:///etc/passwd' }, /http/],
    [{ type: 'openLink', href: 'command:workbench.action.terminal.new' }, /http/],
    [{ type: 'openLink', href: 'https://user:pw@example.com/' }, /http/],
  ];
  for (const [value, reason] of cases) {
    const parsed = parseWebviewMessage(value);
    assert.equal(parsed.ok, false, JSON.stringify(value));
    if (!parsed.ok) assert.match(parsed.problem, reason, JSON.stringify(value));
  }
});

test('host messages are checked deeply', () => {
  const message = { id: 'm1', role: 'assistant', content: 'hi', time: 1, status: 'streaming' };
  assert.equal(parseHostMessage({ type: 'chunk', messageId: 'm1', text: 'a' }).ok, true);
  assert.equal(
    parseHostMessage({
      type: 'state',
      conversation: {
        id: 'c1',
        title: 't',
        messages: [message, { id: 'u', role: 'user', content: 'q', time: 0, attachments: [{ id: 'a', kind: 'file', label: 'a.ts' }] }],
      },
      chats: [{ id: 'c1', title: 't', updated: 1, messages: 2 }],
      attachments: [{ id: 'x', kind: 'selection', label: 'a.ts:1-2', auto: true }],
      busy: false,
      destination: '',
    }).ok,
    true,
  );
  const bad = parseHostMessage({ type: 'message', message: { ...message, status: 'exploded' } });
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.match(bad.problem, /status/);
  const badRole = parseHostMessage({
    type: 'state',
    conversation: { id: 'c', title: '', messages: [{ ...message, role: 'system' }] },
    chats: [],
    attachments: [],
    busy: false,
  });
  assert.equal(badRole.ok, false);
  assert.equal(parseHostMessage({ type: 'notice', level: 'fatal', text: 'x' }).ok, false);
  assert.equal(parseHostMessage({ type: 'chunk', messageId: 'm1', text: 'a', html: '<b>' }).ok, false);
});

test('only plain web links are safe to open', () => {
  assert.equal(isSafeLink('https://nodejs.org/api/'), true);
  assert.equal(isSafeLink('http://127.0.0.1:8080/'), true);
  for (const href of [
    'javascript:alert(1)',
    'JAVASCRIPT:alert(1)',
    ' javascript:alert(1)',
    'data:text/html,x',
    'vscode://x',
    'command:x',
    'file:///x',
    'relative/path',
    '',
  ]) {
    assert.equal(isSafeLink(href), false, href);
  }
});
