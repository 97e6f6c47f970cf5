// The proxy layer without a proxy: node selection, fan-out outcomes, batch/shell line parsing,
// completion, YAML-like rendering, reload retries, RPC flag helpers.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertSecretPrivate, resolveConfig } from '../../../src/core/config/config.js';
import { isSipctlError, SipctlError } from '../../../src/core/errors.js';
import { resolveTargets } from '../../../src/core/proxy/targets.js';
import { NodeSet, nodesError, type NodeOutcome } from '../../../src/core/proxy/node-set.js';
import { LINE_HELP, prepareLine, tokenizeLine } from '../../../src/core/proxy/line-commands.js';
import { completeLine } from '../../../src/core/proxy/completion.js';
import { makeFilter } from '../../../src/core/proxy/filter.js';
import { reloadAddresses } from '../../../src/core/proxy/permissions.js';
import { formatDuration } from '../../../src/core/proxy/status.js';
import { renderYamlish } from '../../../src/core/rpc/render.js';
import { RpcError, remoteError, type RpcClient } from '../../../src/core/rpc/index.js';
import { parseTimeout, readAuthFile } from '../../../src/cli/rpc-support.js';

function cfg(env: Record<string, string>, file?: object, flags: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sipctl-cfg-'));
  const path = join(dir, 'config.json');
  if (file) writeFileSync(path, JSON.stringify(file), { mode: 0o600 });
  try {
    return resolveConfig({ env: { HOME: dir, ...env }, searchPaths: file ? [path] : [], flags: flags as never });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('which proxies a command talks to', () => {
  const nodes = { edge1: 'http://10.0.0.1:5071/RPC', edge2: 'http://kam:secret@10.0.0.2:5071/RPC' };
  test('default, env, flag', () => {
    assert.deepEqual(resolveTargets(cfg({})).map((n) => n.url), ['http://127.0.0.1:5071/RPC']);
    assert.deepEqual(resolveTargets(cfg({ SIPCTL_RPC: 'fifo:/run/k.fifo, unix:/run/k.sock' })).map((n) => n.url), ['fifo:/run/k.fifo', 'unix:/run/k.sock']);
    assert.deepEqual(resolveTargets(cfg({}, { nodes }, { rpc: ['http://h:1/RPC'] })).map((n) => n.name), ['http://h:1/RPC']);
  });
  test('configured nodes: all by default, --node picks, names shown, passwords never', () => {
    const rc = cfg({}, { nodes });
    const all = resolveTargets(rc);
    assert.deepEqual(all.map((n) => n.name), ['edge1', 'edge2']);
    assert.equal(all[1]!.display, 'http://kam:***@10.0.0.2:5071/RPC');
    assert.deepEqual(resolveTargets(rc, { node: ['edge2'] }).map((n) => n.name), ['edge2']);
    assert.deepEqual(resolveTargets(rc, { node: ['edge2,edge1'] }).map((n) => n.name), ['edge2', 'edge1']);
    assert.deepEqual(resolveTargets(rc, { node: ['all'] }).map((n) => n.name), ['edge1', 'edge2']);
    assert.deepEqual(resolveTargets(cfg({}, { nodes }, { rpc: ['edge1'] })).map((n) => n.name), ['edge1'], '--rpc NAME names a node');
    assert.throws(() => resolveTargets(rc, { node: ['edge3'] }), (e: unknown) => isSipctlError(e) && e.code === 'UNKNOWN_NODE' && /edge1, edge2/.test(e.hint ?? ''));
  });
  test('a bad URL is a usage error before anything is sent; duplicates are dropped', () => {
    assert.throws(() => resolveTargets(cfg({ SIPCTL_RPC: 'ftp://x' })), (e: unknown) => isSipctlError(e) && e.category === 'usage');
    assert.equal(resolveTargets(cfg({ SIPCTL_RPC: 'http://a/RPC http://a/RPC' })).length, 1);
  });
  test('a config file with an RPC password must be private', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipctl-cfg-'));
    const path = join(dir, 'c.json');
    writeFileSync(path, JSON.stringify({ rpcPassword: 'x' }), { mode: 0o644 });
    try {
      assert.throws(() => assertSecretPrivate(resolveConfig({ env: { HOME: dir }, searchPaths: [path] }), 'rpc'), (e: unknown) => isSipctlError(e) && e.code === 'CONFIG_INSECURE_MODE');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fan-out outcomes', () => {
  const err = (code: string, category: SipctlError['category']) => new SipctlError(code, `${code} happened`, { category, hint: 'h' });
  test('one node: its own error; several: names every failed node, exit category of the first', () => {
    const one: NodeOutcome<number>[] = [{ node: 'a', ok: false, error: err('RPC_TIMEOUT', 'timeout') }];
    assert.equal(nodesError(one)!.code, 'RPC_TIMEOUT');
    const many: NodeOutcome<number>[] = [
      { node: 'a', ok: true, value: 1 },
      { node: 'b', ok: false, error: err('RPC_UNREACHABLE', 'connection') },
      { node: 'c', ok: false, error: err('RPC_TIMEOUT', 'timeout') },
    ];
    const e = nodesError(many)!;
    assert.equal(e.code, 'NODES_FAILED');
    assert.equal(e.category, 'connection');
    assert.match(e.message, /^2 of 3 nodes failed \(1 ok\) — b: RPC_UNREACHABLE happened; c: RPC_TIMEOUT happened$/);
    assert.equal(nodesError([{ node: 'a', ok: true, value: 1 }]), undefined);
  });
  test('every node gets the call even when one throws', async () => {
    const ns = new NodeSet([{ name: 'a', url: 'http://127.0.0.1:1/RPC', display: 'a' }, { name: 'b', url: 'http://127.0.0.1:2/RPC', display: 'b' }], { timeoutMs: 1000 });
    const seen: string[] = [];
    const out = await ns.each(async (_c, n) => {
      seen.push(n.name);
      if (n.name === 'a') throw new Error('boom');
      return n.name;
    });
    await ns.close();
    assert.deepEqual(seen.sort(), ['a', 'b']);
    assert.equal(out[0]!.ok, false);
    assert.deepEqual(out[1], { node: 'b', ok: true, value: 'b' });
  });
});

describe('calls kept in order (batch)', () => {
  /** An HTTP JSON-RPC server that answers each request after a few ms and closes (as Kamailio does), noting the order and overlap of requests. */
  async function slowServer() {
    const state = { order: [] as number[], busy: 0, most: 0 };
    const server = net.createServer((sock) => {
      let buf = '';
      let answered = false;
      sock.on('error', () => undefined);
      sock.on('data', (d) => {
        if (answered) return; // like Kamailio: one request per connection, closed after the reply
        buf += d.toString('latin1');
        const end = buf.indexOf('\r\n\r\n');
        const len = Number(/content-length: (\d+)/i.exec(buf)?.[1] ?? -1);
        if (end < 0 || buf.length < end + 4 + len) return;
        const req = JSON.parse(buf.slice(end + 4, end + 4 + len));
        answered = true;
        state.order.push(req.params[0]);
        state.most = Math.max(state.most, ++state.busy);
        setTimeout(() => {
          state.busy--;
          const body = JSON.stringify({ jsonrpc: '2.0', result: req.params[0], id: req.id });
          sock.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        }, 3);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/RPC`;
    return { url, state, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  test('keepCallOrder: calls made at once reach an HTTP proxy one at a time, in the order made; callsMade counts them', async () => {
    const srv = await slowServer();
    try {
      const loose = new NodeSet([{ name: 'a', url: srv.url, display: 'a' }], { timeoutMs: 5000 });
      await Promise.all(Array.from({ length: 8 }, (_, i) => loose.each((c) => c.call('m', [i]))));
      await loose.close();
      assert.ok(srv.state.most > 1, 'without it, calls overlap (the test can see overlap)');
      srv.state.order.length = 0;
      srv.state.most = 0;

      const ns = new NodeSet([{ name: 'a', url: srv.url, display: 'a' }], { timeoutMs: 5000 });
      ns.keepCallOrder();
      await ns.each((c) => c.call('m', [-1])); // the RPC layer is loaded from here on
      const made = ns.callsMade;
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => ns.each((c) => c.call<number>('m', [i]))));
      assert.equal(ns.callsMade - made, 20);
      await ns.close();
      assert.deepEqual(results.map((r) => (r[0]!.ok ? r[0]!.value : NaN)), Array.from({ length: 20 }, (_, i) => i));
      assert.deepEqual(srv.state.order, [-1, ...Array.from({ length: 20 }, (_, i) => i)]);
      assert.equal(srv.state.most, 1);
      assert.equal(ns.pipelines, false);
      assert.equal(new NodeSet([{ name: 'f', url: 'fifo:/run/k.fifo', display: 'f' }], { timeoutMs: 1 }).pipelines, true);
    } finally {
      await srv.close();
    }
  });

  test('quick lines make their one call before run() returns; others are not quick', async () => {
    const seen: string[] = [];
    const client = {
      call: async (m: string) => {
        seen.push(m);
        return m === 'htable.get' ? { item: { name: 'k', value: 'v', flags: 0, expire: 0 } } : 'Ok';
      },
      kind: () => 'http',
    } as unknown as RpcClient;
    const nodes = { nodes: [{ name: 'a' }], multi: false, each: async (fn: (c: RpcClient) => Promise<unknown>) => [{ node: 'a', ok: true, value: await fn(client) }] } as unknown as NodeSet;
    const ctx = { nodes, longTimeoutMs: 1000, reloadBudgetMs: 1000, assumeYes: true };
    for (const line of ['htable sets t k v', 'htable seti t k 1', 'htable get t k', 'htable delete t k']) {
      const p = prepareLine(line, ctx)!;
      assert.equal(p.quick, true, line);
      const before = seen.length;
      const done = p.run();
      assert.equal(seen.length, before + 1, `${line}: its call was made before run() returned`);
      await done;
    }
    for (const line of ['htable dump t', 'rpc core.uptime', 'core.uptime', 'address reload', 'ul show 1001', 'unban 192.0.2.1']) assert.ok(!prepareLine(line, ctx)!.quick, line);
    assert.ok(!prepareLine('htable delete t k', { ...ctx, confirm: async () => true })!.quick, 'a line that may ask is not quick');
  });
});

describe('batch and shell lines', () => {
  test('tokenizer: quotes, escapes, comments', () => {
    assert.deepEqual(tokenizeLine('htable sets ipban 1.2.3.4 1'), ['htable', 'sets', 'ipban', '1.2.3.4', '1']);
    assert.deepEqual(tokenizeLine(`htable sets t k 'two words' # note`), ['htable', 'sets', 't', 'k', 'two words']);
    assert.deepEqual(tokenizeLine('htable sets t k "a \\"q\\" b"'), ['htable', 'sets', 't', 'k', 'a "q" b']);
    assert.deepEqual(tokenizeLine('a\\ b c'), ['a b', 'c']);
    assert.deepEqual(tokenizeLine("x ''"), ['x', '']);
    assert.deepEqual(tokenizeLine('   # only a comment'), []);
    assert.throws(() => tokenizeLine('x "open'), (e: unknown) => isSipctlError(e) && e.category === 'usage');
  });
  test('lines map onto commands; bad lines are usage errors; raw calls are recognised', () => {
    const ctx = { nodes: {} as NodeSet, longTimeoutMs: 1, reloadBudgetMs: 1 };
    assert.equal(prepareLine('', ctx), undefined);
    assert.equal(prepareLine('# x', ctx), undefined);
    assert.equal(prepareLine('htable sets ipban 1.2.3.4 1', ctx)!.command, 'htable sets');
    assert.equal(prepareLine('sipctl htable dump ipban --filter "1.*"', ctx)!.command, 'htable dump');
    assert.equal(prepareLine('core.uptime', ctx)!.command, 'rpc core.uptime');
    assert.equal(prepareLine('rpc htable.get ipban s:1', ctx)!.command, 'rpc htable.get');
    assert.equal(prepareLine('ul rm alice --table location', ctx)!.command, 'ul rm');
    // the database commands (issue 12): parsed like the others, run over the session's one connection
    assert.equal(prepareLine('address add 1 1.1.1.1 --tag gw', ctx)!.command, 'address add');
    assert.equal(prepareLine('passwd alice@example.com Secret-pw-1', ctx)!.command, 'passwd');
    assert.equal(prepareLine('subscriber list', ctx)!.command, 'show');
    assert.match(LINE_HELP, /\n {2}passwd USER\[@DOMAIN\] PASSWORD/, 'help lists the database lines');
    for (const bad of ['bogus', 'htable', 'htable sets ipban k', 'htable get a b c', 'ul dump --nope', 'address frob 1 1.1.1.1', 'address add 1', 'passwd alice', 'add a b c', 'subscriber frob', 'rpc', 'status now', 'rpc x i:abc']) {
      assert.throws(() => prepareLine(bad, ctx), (e: unknown) => isSipctlError(e) && e.category === 'usage', bad);
    }
  });
  test('htable flush in a batch needs --yes', async () => {
    const ctx = { nodes: { nodes: [] } as unknown as NodeSet, longTimeoutMs: 1, reloadBudgetMs: 1 };
    await assert.rejects(prepareLine('htable flush ipban', ctx)!.run(), (e: unknown) => isSipctlError(e) && e.code === 'CONFIRMATION_REQUIRED');
  });
  test('tab completion: commands, sub-commands, method names, table names', async () => {
    let fetched = 0;
    const src = { methods: async () => (fetched++, ['core.uptime', 'core.version', 'htable.dump']), tables: async () => ['ipban', 'userban'] };
    assert.deepEqual(await completeLine('ht', src), [['htable'], 'ht']);
    assert.deepEqual(await completeLine('htable d', src), [['delete', 'dump'], 'd']);
    assert.deepEqual(await completeLine('htable dump ', src), [['ipban', 'userban'], '']);
    assert.deepEqual(await completeLine('htable get u', src), [['userban'], 'u']);
    assert.deepEqual(await completeLine('rpc core.u', src), [['core.uptime'], 'core.u']);
    assert.deepEqual(await completeLine('core.v', src), [['core.version'], 'core.v']);
    assert.ok(fetched >= 1);
    const down = { methods: async () => { throw new Error('down'); }, tables: async () => { throw new Error('down'); } };
    assert.deepEqual(await completeLine('rpc co', down), [[], 'co']);
  });
});

test('filters: glob with * and ?, else substring', () => {
  assert.ok(makeFilter('1.2.3.*')('1.2.3.4'));
  assert.ok(!makeFilter('1.2.3.*')('11.2.3.4'));
  assert.ok(makeFilter('6131')('61312341234'));
  assert.ok(makeFilter('u?')('u1'));
  assert.ok(!makeFilter('u?')('u10'));
  assert.ok(makeFilter(undefined)('anything'));
});

test('YAML-like rendering escapes what the proxy sends', () => {
  const text = renderYamlish({ name: 'ipban', ua: 'evil\u001b[2J\u009b', empty: '', num: '500', list: [{ a: 1 }, 'x'], none: [] });
  assert.equal(text, ['name: ipban', 'ua: "evil\\u001b[2J\\u009b"', 'empty: ""', 'num: "500"', 'list:', '  - a: 1', '  - x', 'none: []'].join('\n'));
  assert.ok(!/[\x00-\x1f\x7f-\x9f]/.test(text.replace(/\n/g, '')));
  assert.equal(renderYamlish('Reload OK'), 'Reload OK');
});

test('address reload waits out "ongoing reload" within its budget, then gives up', async () => {
  let calls = 0;
  const busy = remoteError('permissions.addressReload', 500, 'ongoing reload', undefined, 'x');
  const fake = (failFirst: number) => ({ timeoutMs: 1000, call: async () => { calls++; if (calls <= failFirst) throw busy; return 'Reload OK'; } }) as unknown as RpcClient;
  const naps: number[] = [];
  const sleep = async (ms: number) => { naps.push(ms); };
  const r = await reloadAddresses(fake(3), { budgetMs: 60_000, sleep });
  assert.equal(r.message, 'Reload OK');
  assert.equal(r.retries, 3);
  assert.deepEqual(naps, [250, 500, 1000]);
  assert.match(r.warnings[0]!, /ongoing reload/);
  calls = 0;
  await assert.rejects(reloadAddresses(fake(1000), { budgetMs: 30 }), (e: unknown) => e instanceof RpcError && e.category === 'remote');
  calls = 0;
  const other = { timeoutMs: 1000, call: async () => { throw remoteError('permissions.addressReload', 500, 'Reload failed', undefined, 'x'); } } as unknown as RpcClient;
  await assert.rejects(reloadAddresses(other, { budgetMs: 60_000, sleep }), /Reload failed/);
});

test('--timeout and the auth file', () => {
  assert.equal(parseTimeout('2000'), 2000);
  assert.equal(parseTimeout('2s'), 2000);
  assert.equal(parseTimeout('250ms'), 250);
  assert.equal(parseTimeout(undefined), undefined);
  for (const bad of ['0', '-1', 'soon', '5h']) assert.throws(() => parseTimeout(bad), (e: unknown) => isSipctlError(e) && e.category === 'usage');
  const dir = mkdtempSync(join(tmpdir(), 'sipctl-auth-'));
  try {
    const f = join(dir, 'auth');
    writeFileSync(f, 'kam:pa:ss\n', { mode: 0o600 });
    assert.deepEqual(readAuthFile(f), { user: 'kam', password: 'pa:ss' });
    writeFileSync(f, 'Bearer abc.def\n', { mode: 0o600 });
    assert.deepEqual(readAuthFile(f), { bearer: 'abc.def' });
    writeFileSync(f, 'tok\n');
    assert.deepEqual(readAuthFile(f), { bearer: 'tok' });
    chmodSync(f, 0o644);
    assert.throws(() => readAuthFile(f), (e: unknown) => isSipctlError(e) && e.code === 'CONFIG_INSECURE_MODE');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(formatDuration(93784), '1d 2h 3m 4s');
  assert.equal(formatDuration(0), '0s');
});
