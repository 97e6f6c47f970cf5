import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModuleRegistry, isValidMethodName } from '../../../src/daemon/kernel/module-registry.js';
import { type RpcMethod, defineModule, resolveParams } from '../../../src/daemon/kernel/module.js';
import { ConfigError, ConflictError, SipctlError, UsageError } from '../../../src/core/errors.js';

function mod(name: string, rpc: Record<string, RpcMethod> = {}, log: string[] = []) {
  return defineModule({
    name,
    params: {
      size: { type: 'integer', default: 8, min: 1, max: 64, doc: 'table size' },
      enabled: { type: 'boolean', default: true, doc: 'on or off' },
      mode: { type: 'string', default: 'fast', choices: ['fast', 'safe'], doc: 'mode' },
    },
    init(ctx) {
      const size: number = ctx.params.size; // typed from the spec
      const enabled: boolean = ctx.params.enabled;
      const mode: string = ctx.params.mode;
      log.push(`init ${name} ${size} ${enabled} ${mode}`);
    },
    destroy() {
      log.push(`destroy ${name}`);
    },
    rpc,
    api: { hello: () => `hello from ${name}` },
  });
}

const m = (doc: string, result: unknown = doc): RpcMethod => ({ doc, handler: () => result });

test('register: methods become listable and callable; system.* are built in', async () => {
  const reg = new ModuleRegistry();
  reg.register(mod('htable', { 'htable.dump': m('Dump a table', [1, 2]), 'htable.reload': m('Reload a table') }));
  reg.register(mod('sanity', { 'sanity.stats': m('Counters') }));
  assert.deepEqual(reg.listMethods(), ['htable.dump', 'htable.reload', 'sanity.stats', 'system.listMethods', 'system.methodHelp']);
  assert.deepEqual(await reg.lookup('htable.dump')!.handler(undefined), [1, 2]);
  assert.equal(reg.lookup('htable.dump')!.module, 'htable');
  assert.deepEqual(await reg.lookup('system.listMethods')!.handler(undefined), reg.listMethods());
  assert.equal(await reg.lookup('system.methodHelp')!.handler(['htable.reload']), 'Reload a table');
  assert.equal(await reg.lookup('system.methodHelp')!.handler({ name: 'sanity.stats' }), 'Counters');
  assert.throws(() => reg.lookup('system.methodHelp')!.handler(['nope.nope']), (e: unknown) => e instanceof UsageError && e.code === 'RPC_METHOD_NOT_FOUND');
  assert.throws(() => reg.lookup('system.methodHelp')!.handler([]), UsageError);
  assert.deepEqual(reg.moduleNames(), ['htable', 'sanity']);
});

test('duplicate RPC names are refused, across modules and against system.*; nothing half-registered', () => {
  const reg = new ModuleRegistry();
  reg.register(mod('a', { 'shared.name': m('first') }));
  assert.throws(() => reg.register(mod('b', { 'b.ok': m('fine'), 'shared.name': m('second') })), (e: unknown) => e instanceof ConflictError && e.code === 'RPC_METHOD_DUPLICATE' && /registered by a/.test(e.message));
  assert.equal(reg.lookup('b.ok'), undefined, 'the refused module left no methods behind');
  assert.equal(reg.module('b'), undefined);
  assert.throws(() => reg.register(mod('c', { 'system.listMethods': m('hijack') })), ConflictError);
  assert.throws(() => reg.register(mod('a')), (e: unknown) => e instanceof ConflictError && e.code === 'MODULE_DUPLICATE');
  assert.equal(reg.lookup('shared.name')!.doc, 'first');
});

test('names like __proto__ / constructor are unknown, never inherited properties', () => {
  const reg = new ModuleRegistry();
  reg.register(mod('a', { 'a.b': m('x') }));
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'prototype', '', 'a', 'a.']) {
    assert.equal(reg.lookup(name), undefined, name);
  }
  assert.equal(reg.lookup(undefined as unknown as string), undefined);
  assert.equal(reg.module('__proto__'), undefined);
  assert.equal(reg.module('constructor'), undefined);
  assert.equal(reg.api('toString'), undefined);
});

test('malformed method names, docs and handlers are refused at registration', () => {
  const reg = new ModuleRegistry();
  const own = (key: string) => Object.defineProperty({}, key, { value: m('doc'), enumerable: true }) as Record<string, RpcMethod>;
  for (const name of ['__proto__', 'constructor', 'nodot', '.x', 'x.', 'a..b', '1a.b', 'a.1b', 'a b.c', 'a.b-c', 'a.b\u0000', 'a.' + 'b'.repeat(200)]) {
    assert.throws(() => reg.register(mod('m', own(name))), (e: unknown) => e instanceof UsageError && e.code === 'RPC_METHOD_NAME_INVALID', JSON.stringify(name));
  }
  assert.throws(() => reg.register(mod('m', { 'm.x': { doc: '', handler: () => 1 } })), (e: unknown) => e instanceof UsageError && e.code === 'RPC_METHOD_INVALID');
  assert.throws(() => reg.register(mod('m', { 'm.x': { doc: 'd' } as unknown as RpcMethod })), UsageError);
  for (const bad of ['', 'Upper', '1x', 'a b', '__proto__']) assert.throws(() => reg.register(mod(bad)), (e: unknown) => e instanceof UsageError && e.code === 'MODULE_NAME_INVALID');
  assert.equal(isValidMethodName('permissions.addressReload'), true);
  assert.equal(isValidMethodName('tm.t_uac_start'), true);
  assert.equal(isValidMethodName('core.uptime'), true);
});

test('init in order with typed, coerced params; destroy in reverse; api reachable through ctx', async () => {
  const log: string[] = [];
  const reg = new ModuleRegistry();
  reg.register(mod('first', {}, log));
  let seen: unknown;
  reg.register(defineModule({
    name: 'second',
    params: {},
    init(ctx) {
      seen = ctx.api<{ hello(): string }>('first')?.hello();
      assert.equal(ctx.api('missing'), undefined);
      assert.equal(typeof ctx.now(), 'number');
    },
    destroy() {
      log.push('destroy second');
    },
    rpc: {},
  }));
  await reg.initAll({ params: new Map([['first', { size: '16', enabled: 'no', mode: 'safe' }]]) });
  assert.equal(seen, 'hello from first');
  await reg.destroyAll();
  assert.deepEqual(log, ['init first 16 false safe', 'destroy second', 'destroy first']);
});

test('resolveParams: defaults, coercion, unknown names and bad values are ConfigErrors', () => {
  const specs = mod('x').params;
  assert.deepEqual({ ...resolveParams('x', specs) }, { size: 8, enabled: true, mode: 'fast' });
  assert.deepEqual({ ...resolveParams('x', specs, { size: 64, enabled: 'YES' }) }, { size: 64, enabled: true, mode: 'fast' });
  assert.equal(Object.isFrozen(resolveParams('x', specs)), true);
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ sise: 8 }, 'MODULE_PARAM_UNKNOWN'],
    [JSON.parse('{"__proto__": 1}') as Record<string, unknown>, 'MODULE_PARAM_UNKNOWN'],
    [{ constructor: 1 }, 'MODULE_PARAM_UNKNOWN'],
    [{ size: 0 }, 'MODULE_PARAM_INVALID'],
    [{ size: 65 }, 'MODULE_PARAM_INVALID'],
    [{ size: 1.5 }, 'MODULE_PARAM_INVALID'],
    [{ size: '12abc' }, 'MODULE_PARAM_INVALID'],
    [{ size: true }, 'MODULE_PARAM_INVALID'],
    [{ enabled: 'maybe' }, 'MODULE_PARAM_INVALID'],
    [{ mode: 'turbo' }, 'MODULE_PARAM_INVALID'],
    [{ mode: 3 }, 'MODULE_PARAM_INVALID'],
  ];
  for (const [given, code] of bad) {
    assert.throws(() => resolveParams('x', specs, given), (e: unknown) => e instanceof ConfigError && e.code === code, JSON.stringify(given));
  }
});

test('a failing init destroys the modules already initialised and rethrows', async () => {
  const log: string[] = [];
  const reg = new ModuleRegistry();
  reg.register(mod('ok', {}, log));
  reg.register(defineModule({
    name: 'broken',
    params: {},
    init() {
      throw new SipctlError('BOOM', 'cannot start');
    },
    destroy() {
      log.push('destroy broken');
    },
    rpc: {},
  }));
  await assert.rejects(reg.initAll(), /cannot start/);
  assert.deepEqual(log, ['init ok 8 true fast', 'destroy ok']);
  await assert.rejects(new ModuleRegistry().initAll({ params: new Map([['ghost', {}]]) }), (e: unknown) => e instanceof UsageError && e.code === 'MODULE_UNKNOWN');
});

test('destroyAll runs every destroy even when some throw, then reports them', async () => {
  const log: string[] = [];
  const reg = new ModuleRegistry();
  const failing = (name: string) => defineModule({ name, params: {}, init() {}, destroy() { log.push(name); throw new Error(`${name} failed`); }, rpc: {} });
  reg.register(failing('one'));
  reg.register(mod('two', {}, log));
  reg.register(failing('three'));
  await reg.initAll();
  await assert.rejects(reg.destroyAll(), (e: unknown) => e instanceof AggregateError && e.errors.length === 2);
  assert.deepEqual(log, ['init two 8 true fast', 'three', 'destroy two', 'one']);
  await reg.destroyAll(); // nothing left: no error
});
