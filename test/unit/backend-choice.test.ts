import assert from 'node:assert/strict';
import { join, sep } from 'node:path';
import { describe, it } from 'node:test';

import { engineSettings, promptDestination, remoteUrlProblem, resolveModelFile, type TrustState } from '../../src/backendChoice';
import { isInside } from '../../src/paths';
import { readSnapshot, type Inspected } from '../../src/settings';

const workspace = join(sep, 'work', 'project');
const snapshot = (table: Record<string, Inspected>) => readSnapshot((key) => table[key], { trusted: true, answer: () => true, cores: 4 });
const trust = (trusted: boolean): TrustState => ({ trusted, workspaceFolders: [workspace], cores: 4, home: join(sep, 'home', 'me') });

describe('isInside', () => {
  it('treats a file whose name starts with two dots as inside', () => {
    assert.equal(isInside(workspace, join(workspace, '..x.gguf')), true);
    assert.equal(isInside(workspace, join(workspace, '..', 'x.gguf')), false);
    assert.equal(isInside(workspace, join(workspace, '..')), false);
    assert.equal(isInside(workspace, workspace), true);
    assert.equal(isInside(workspace, join(workspace, 'models', 'a.gguf')), true);
    assert.equal(isInside(workspace, `${workspace}-other${sep}a.gguf`), false);
  });
});

describe('engineSettings', () => {
  it('refuses a model named ..x.gguf inside an untrusted workspace', () => {
    const choice = engineSettings(snapshot({ 'model.path': { globalValue: join(workspace, '..x.gguf') } }), trust(false));
    assert.equal(choice.kind, 'local');
    assert.equal(choice.local.completion.modelPath, '');
    assert.equal(choice.problems.length, 1);
  });

  it('never resolves a relative model path against the working directory', () => {
    const untrusted = engineSettings(snapshot({ 'model.path': { globalValue: 'models/a.gguf' } }), trust(false));
    assert.equal(untrusted.local.completion.modelPath, '');
    assert.equal(untrusted.problems.length, 1);
    const trusted = engineSettings(snapshot({ 'model.path': { globalValue: 'models/a.gguf' } }), trust(true));
    assert.equal(trusted.local.completion.modelPath, join(workspace, 'models', 'a.gguf'));
    const noFolder = engineSettings(snapshot({ 'model.path': { globalValue: 'a.gguf' } }), { ...trust(true), workspaceFolders: [] });
    assert.equal(noFolder.local.completion.modelPath, '');
  });

  it('expands ~ to the home folder', () => {
    const problems: string[] = [];
    assert.equal(resolveModelFile('model.path', '~/m.gguf', trust(false), problems), join(sep, 'home', 'me', 'm.gguf'));
    assert.deepEqual(problems, []);
  });

  it('keeps threads within the cores and the batch within the context', () => {
    const choice = engineSettings(
      snapshot({ 'engine.threads': { globalValue: 4096 }, 'model.path': { globalValue: '/m.gguf' } }),
      trust(true),
    );
    assert.equal(choice.local.completion.threads, 4);
    const auto = engineSettings(snapshot({}), trust(true));
    assert.equal(auto.local.completion.threads, 3, 'auto leaves a core for the editor');
  });

  it('names a separate chat model only when it differs from the completion model', () => {
    const same = engineSettings(
      snapshot({ 'model.path': { globalValue: '/m.gguf' }, 'model.chatPath': { globalValue: '/m.gguf' } }),
      trust(true),
    );
    assert.equal(same.local.chatModelPath, '');
    const other = engineSettings(
      snapshot({ 'model.path': { globalValue: '/m.gguf' }, 'model.chatPath': { globalValue: '/chat.gguf' } }),
      trust(true),
    );
    assert.equal(other.local.chatModelPath, '/chat.gguf');
  });

  it('names a separate next-edit model only when it differs from the completion model; never one inside an untrusted workspace', () => {
    const paths = (nextEdit: string, trusted = true) =>
      engineSettings(
        snapshot({ 'model.path': { globalValue: '/m.gguf' }, 'model.nextEditPath': { globalValue: nextEdit } }),
        trust(trusted),
      );
    assert.equal(paths('/m.gguf').local.nextEditModelPath, '');
    assert.equal(paths('/zeta.gguf').local.nextEditModelPath, '/zeta.gguf');
    assert.equal(paths('/zeta.gguf').local.chatModelPath, '', 'chat is not affected');
    const inside = paths(join(workspace, 'zeta.gguf'), false);
    assert.equal(inside.local.nextEditModelPath, '');
    assert.equal(inside.problems.length, 1);
    assert.ok(inside.problems[0].includes('enclave.model.nextEditPath'), 'the problem names the setting');
  });

  it('refuses plain http to another machine, allows https and loopback http', () => {
    const remote = (url: string) =>
      engineSettings(snapshot({ 'backend.kind': { globalValue: 'remote' }, 'backend.remoteUrl': { globalValue: url } }), trust(true));
    const plain = remote('http://gpu-box.lan:8000/v1');
    assert.equal(plain.remote?.url, '');
    assert.equal(plain.problems.length, 1);
    for (const ok of ['https://gpu-box.lan/v1', 'http://127.0.0.1:8080/v1', 'http://localhost:8080/v1', 'http://[::1]:8080/v1']) {
      const choice = remote(ok);
      assert.equal(choice.remote?.url, ok, ok);
      assert.deepEqual(choice.problems, [], ok);
    }
    assert.equal(
      remoteUrlProblem('http://127.0.0.1.evil.example/v1') !== undefined,
      true,
      'a host that only starts like loopback is not loopback',
    );
  });

  it('names the destination when prompts leave the machine', () => {
    const choice = engineSettings(
      snapshot({ 'backend.kind': { globalValue: 'remote' }, 'backend.remoteUrl': { globalValue: 'https://gpu-box.lan:8443/v1' } }),
      trust(true),
    );
    assert.equal(promptDestination(choice), 'gpu-box.lan:8443');
    const loopback = engineSettings(
      snapshot({ 'backend.kind': { globalValue: 'remote' }, 'backend.remoteUrl': { globalValue: 'http://127.0.0.1:8080/v1' } }),
      trust(true),
    );
    assert.equal(promptDestination(loopback), undefined);
    assert.equal(promptDestination(engineSettings(snapshot({}), trust(true))), undefined);
  });
});
