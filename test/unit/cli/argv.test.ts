/** Issue 11 §3: what people type before oclif sees it (src/cli/argv.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseArgv } from '../../../src/cli/argv.js';
import { suggestCommands } from '../../../src/cli/hooks/command-not-found.js';

test('leading global flags move behind the command, with their values', () => {
  assert.deepEqual(normaliseArgv(['--json', 'uptime']), ['uptime', '--json']);
  assert.deepEqual(normaliseArgv(['--rpc', 'http://h:1/RPC', 'ul', 'dump']), ['ul', 'dump', '--rpc', 'http://h:1/RPC']);
  assert.deepEqual(normaliseArgv(['--db=sqlite:x.db', '--json', 'show', 'a@b']), ['show', 'a@b', '--db=sqlite:x.db', '--json']);
  assert.deepEqual(normaliseArgv(['--json', 'rpc', 'core.echo', '--', '-1']), ['rpc', 'core.echo', '--json', '--', '-1']);
  assert.deepEqual(normaliseArgv(['ul', 'dump', '--json']), ['ul', 'dump', '--json']);
});

test('help, -h and -v', () => {
  assert.deepEqual(normaliseArgv(['help']), ['--help']);
  assert.deepEqual(normaliseArgv(['help', 'ul', 'dump']), ['ul', 'dump', '--help']);
  assert.deepEqual(normaliseArgv(['-h']), ['--help']);
  assert.deepEqual(normaliseArgv(['add', '-h']), ['add', '--help']);
  assert.deepEqual(normaliseArgv(['-v']), ['--version']);
  assert.deepEqual(normaliseArgv(['--domain', '-h', 'add']), ['add', '--domain', '-h'], 'a flag value is left alone');
});

test('did you mean: the nearest command ids', () => {
  const ids = ['ul:dump', 'ul:show', 'ul:rm', 'subscriber:list', 'show'];
  assert.equal(suggestCommands('ul dmp', ids)[0], 'ul dump');
  assert.equal(suggestCommands('subscribr:list', ids)[0], 'subscriber list');
  assert.deepEqual(suggestCommands('zzzzzzzzzzzz', ids), []);
});
