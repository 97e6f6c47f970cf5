import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PersistentState } from '../../../src/daemon/kernel/contracts.js';
import { createLogger } from '../../../src/daemon/kernel/logger.js';
import { defineModule } from '../../../src/daemon/kernel/module.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { Myself } from '../../../src/daemon/kernel/myself.js';
import { SecurityLog } from '../../../src/daemon/kernel/security-log.js';
import { StateStore, stateFile } from '../../../src/daemon/kernel/state-store.js';

function memState(initial: unknown = { n: 0 }): PersistentState & { data: unknown; restored: unknown[] } {
  let changed = false;
  const s = {
    data: initial,
    restored: [] as unknown[],
    get changed() {
      return changed;
    },
    set(v: unknown) {
      s.data = v;
      changed = true;
    },
    snapshot() {
      changed = false;
      return s.data;
    },
    restore(d: unknown) {
      s.restored.push(d);
    },
  };
  return s as never;
}

const errors: string[] = [];
const log = { debug() {}, info() {}, warn() {}, error: (m: string) => errors.push(m) };

test('state store: atomic save (0600, no temp files left), only when changed, restore on load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipd-state-'));
  const store = new StateStore(dir, log);
  const st = memState({ a: 1 });
  store.add('htable', st);
  assert.equal(store.save(false), 0, 'nothing changed');
  (st as unknown as { set(v: unknown): void }).set({ a: 2 });
  assert.equal(store.save(false), 1);
  assert.equal(store.save(false), 0);
  assert.equal(store.save(true), 1, 'forced at shutdown');
  const path = stateFile(dir, 'htable');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), ['htable.state.json']);
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')).data, { a: 2 });

  const again = new StateStore(dir, log);
  const st2 = memState();
  again.add('htable', st2);
  again.add('other', memState());
  again.loadAll();
  assert.deepEqual(st2.restored, [{ a: 2 }]);
});

test('state store: a corrupt file is moved aside and the module starts empty', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipd-state-'));
  writeFileSync(stateFile(dir, 'htable'), '{"data": {"trunc');
  writeFileSync(stateFile(dir, 'other'), '{"nodata": 1}');
  const store = new StateStore(dir, log);
  const st = memState();
  const other = memState();
  store.add('htable', st);
  store.add('other', other);
  errors.length = 0;
  store.loadAll();
  assert.deepEqual(st.restored, []);
  assert.deepEqual(other.restored, []);
  assert.equal(errors.length, 2);
  assert.ok(!existsSync(stateFile(dir, 'htable')));
  assert.ok(readdirSync(dir).some((f) => f.startsWith('htable.state.json.corrupt-')));
});

test('security log: one line per (event, source) per interval, suppressed count reported, global cap', () => {
  const lines: Array<Record<string, unknown>> = [];
  let now = 0;
  const l = { debug() {}, info() {}, error() {}, warn: (m: string, f?: Record<string, unknown>) => lines.push({ msg: m, ...f }) };
  const s = new SecurityLog(l, { perSourceMs: 10_000, maxPerSecond: 5, now: () => now });
  for (let i = 0; i < 100; i++) s.emit({ event: 'scanner-dropped', sourceIp: '10.0.0.1', method: 'OPTIONS', user: 'x'.repeat(500) });
  assert.equal(lines.length, 1);
  assert.equal(lines[0].event, 'scanner-dropped');
  assert.equal(lines[0].sourceIp, '10.0.0.1');
  assert.equal(lines[0].method, 'OPTIONS');
  assert.ok(String(lines[0].user).length < 140, 'attacker-chosen fields are clipped');
  now = 10_000;
  s.emit({ event: 'scanner-dropped', sourceIp: '10.0.0.1' });
  assert.equal(lines.at(-1)?.suppressed, 99);
  // flood bans are always written (but count toward the global cap)
  now = 20_000;
  for (let i = 0; i < 10; i++) s.emit({ event: 'flood-ban', sourceIp: `10.1.0.${i}` });
  assert.equal(lines.filter((x) => x.event === 'flood-ban').length, 5);
  now = 21_000;
  s.emit({ event: 'parse-failed', sourceIp: '10.2.0.1' });
  const summary = lines.find((x) => x.msg === 'security events suppressed');
  assert.deepEqual(summary?.byEvent, { 'flood-ban': 5 });
  assert.equal(s.counts.get('scanner-dropped'), 101);
  // tracked pairs are bounded
  const b = new SecurityLog(l, { maxTracked: 100, now: () => now });
  for (let i = 0; i < 1000; i++) b.emit({ event: 'parse-failed', sourceIp: `10.3.${i >> 8}.${i & 255}` });
  assert.equal(b.tracked, 100);
});

test('logger: JSON lines; text lines; attacker bytes cannot forge a line', () => {
  const out: string[] = [];
  const j = createLogger({ format: 'json', write: (l) => out.push(l), now: () => 0 });
  j.warn('security event', { user: 'evil\n{"level":"error"}' });
  j.debug('hidden');
  assert.equal(out.length, 1);
  assert.deepEqual(JSON.parse(out[0]), { ts: '1970-01-01T00:00:00.000Z', level: 'warn', msg: 'security event', user: 'evil\n{"level":"error"}' });
  const t = createLogger({ format: 'text', level: 'debug', write: (l) => out.push(l), now: () => 0 }).child({ module: 'pike' });
  t.info('banned', { ip: '10.0.0.1', ua: 'a b\r\nc', n: 3, big: 1n });
  assert.equal(out[1], '1970-01-01T00:00:00.000Z INFO  banned module=pike ip=10.0.0.1 ua="a b\\r\\nc" n=3 big="1"\n');
  assert.equal(out[1].split('\n').length, 2);
});

test('myself: listen addresses, wildcard → interface addresses, domains, ports', () => {
  const m = new Myself([{ ip: '127.0.0.1', port: 5060, transport: 'udp' }, { ip: '::1', port: 5062, transport: 'tcp' }], ['Sip.Example.com']);
  assert.ok(m.isMyself('127.0.0.1'));
  assert.ok(m.isMyself('127.0.0.1', 5060));
  assert.ok(m.isMyself('[::1]', 5062));
  assert.ok(m.isMyself('0:0:0:0:0:0:0:1'));
  assert.ok(m.isMyself('sip.example.COM'));
  assert.ok(m.isMyself('sip.example.com.'));
  assert.ok(!m.isMyself('127.0.0.1', 5070));
  assert.ok(!m.isMyself('127.0.0.2'));
  assert.ok(!m.isMyself(''));
  const w = new Myself([{ ip: '0.0.0.0', port: 5060, transport: 'udp' }], [], () => ['10.1.2.3', '127.0.0.1', 'fe80::1']);
  assert.ok(w.isMyself('10.1.2.3'));
  assert.ok(!w.isMyself('fe80::1'), 'an IPv4 wildcard is not an IPv6 address');
});

test('registry: reloadAll validates every module first, reloads those with a hook, reports failures', async () => {
  const calls: string[] = [];
  const reg = new ModuleRegistry();
  const mk = (name: string, reload?: (n: number) => void) =>
    defineModule({
      name,
      params: { n: { type: 'integer', default: 1, min: 0, max: 9, doc: 'n' } },
      init() {},
      destroy() {},
      rpc: {},
      ...(reload ? { reload: (c: { params: { n: number } }) => reload(c.params.n) } : {}),
    });
  reg.register(mk('a', (n) => calls.push(`a${n}`)));
  reg.register(mk('b'));
  reg.register(mk('c', () => { throw new Error('boom'); }));
  await reg.initAll();
  await assert.rejects(reg.reloadAll({ params: new Map([['a', { n: 2 }], ['b', { n: 99 }]]) }), /at most 9/);
  assert.deepEqual(calls, [], 'nothing reloaded when one value is bad');
  await assert.rejects(reg.reloadAll({ params: new Map([['zz', {}]]) }), /not loaded/);
  const r = await reg.reloadAll({ params: new Map([['a', { n: 3 }]]) });
  assert.deepEqual(calls, ['a3']);
  assert.deepEqual(r.reloaded, ['a']);
  assert.deepEqual(r.failed.map((f) => f.module), ['c']);
});
