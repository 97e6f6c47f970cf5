import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JSONRPCErrorException } from 'json-rpc-2.0';
import { SipctlError, UsageError } from '../../../src/core/errors.js';
import { createRpcClient } from '../../../src/core/rpc/client.js';
import { defineModule } from '../../../src/daemon/kernel/module.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { RpcFault } from '../../../src/daemon/kernel/rpc-fault.js';
import { parseRpcListen, startRpcListener, type RpcListener } from '../../../src/daemon/kernel/rpc-listeners.js';
import { RpcDispatcher } from '../../../src/daemon/kernel/rpc-server.js';

const logged: Array<[string, Record<string, unknown> | undefined]> = [];
const log = {
  debug() {},
  info() {},
  warn(m: string, f?: Record<string, unknown>) {
    logged.push([m, f]);
  },
  error(m: string, f?: Record<string, unknown>) {
    logged.push([m, f]);
  },
};

function registry(): ModuleRegistry {
  const reg = new ModuleRegistry();
  reg.register(
    defineModule({
      name: 'demo',
      params: {},
      init() {},
      destroy() {},
      rpc: {
        'demo.echo': { doc: 'echo', handler: (p) => p ?? null },
        'demo.fault': { doc: 'Kamailio-style fault', handler: () => { throw new RpcFault(500, 'No such htable'); } },
        'demo.jsonrpcFault': { doc: 'library fault', handler: () => { throw new JSONRPCErrorException('Key not found in htable.', 404); } },
        'demo.remote': { doc: 'module fault as SipctlError', handler: () => { throw new SipctlError('RPC_FAULT', 'AOR not found in location table', { category: 'remote', details: { rpcCode: 500, rpcMessage: 'AOR not found in location table' } }); } },
        'demo.usage': { doc: 'bad params', handler: () => { throw new UsageError('X', 'expected a number'); } },
        'demo.bug': { doc: 'a bug', handler: () => { throw new Error('secret internal path /etc/shadow at line 42'); } },
        'demo.asyncBug': { doc: 'an async bug', handler: async () => { throw new TypeError("Cannot read properties of undefined (reading 'x')"); } },
        'demo.bigint': { doc: 'unserialisable result', handler: () => ({ n: 1n }) },
        'demo.undef': { doc: 'no result', handler: () => undefined },
      },
    }),
  );
  return reg;
}

const d = new RpcDispatcher(registry(), { maxBatch: 5, log });
const call = async (body: unknown) => {
  const text = await d.handle(typeof body === 'string' ? body : JSON.stringify(body));
  return text === undefined ? undefined : JSON.parse(text);
};
const req = (method: unknown, params?: unknown, id: unknown = 1) => ({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }), id });

test('dispatcher: results, named and positional params, null for no result', async () => {
  assert.deepEqual(await call(req('demo.echo', [1, 'a'])), { jsonrpc: '2.0', id: 1, result: [1, 'a'] });
  assert.deepEqual(await call(req('demo.echo', { a: 1 }, 'x')), { jsonrpc: '2.0', id: 'x', result: { a: 1 } });
  assert.deepEqual(await call(req('demo.undef', undefined, null)), { jsonrpc: '2.0', id: null, result: null });
  assert.deepEqual(await call(req('system.listMethods')), { jsonrpc: '2.0', id: 1, result: registry().listMethods() });
});

test('dispatcher: -32700 parse error for bad JSON, empty body, binary', async () => {
  for (const body of ['{"jsonrpc":"2.0","method":"core.uptime","id":110', 'hello', '', '\u0000\u0001\u00ff', '[' .repeat(200_000)]) {
    assert.deepEqual(await call(body), { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }, JSON.stringify(body.slice(0, 20)));
  }
});

test('dispatcher: -32700 for bytes that are not valid UTF-8, instead of running the call with U+FFFD (issue 16)', async () => {
  // a valid request whose string argument holds a lone 0xff byte, an overlong "/" (0xc0 0xaf), a cut sequence
  for (const bad of [Buffer.from([0xff]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xe2, 0x82])]) {
    const body = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","method":"demo.echo","params":["a'), bad, Buffer.from('"],"id":7}')]);
    assert.deepEqual(JSON.parse((await d.handle(body))!), { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
  }
  // valid UTF-8 bytes: the call runs
  const ok = Buffer.from('{"jsonrpc":"2.0","method":"demo.echo","params":["a\u00e9\u{1f600}"],"id":7}', 'utf8');
  assert.deepEqual(JSON.parse((await d.handle(ok))!), { jsonrpc: '2.0', id: 7, result: ['a\u00e9\u{1f600}'] });
});

test('dispatcher: -32600 invalid request, keeping the id when it is usable', async () => {
  const bad = async (body: unknown, id: unknown = null) => {
    const r = await call(body);
    assert.equal(r.error.code, -32600, JSON.stringify(body));
    assert.equal(r.id, id);
    assert.match(r.error.message, /^Invalid Request/);
  };
  await bad({ jsonrpc: '2.0', id: 111 }, 111); // missing method
  await bad({ method: 'core.uptime', id: 112 }, 112); // missing jsonrpc
  await bad({ jsonrpc: '1.0', method: 'core.uptime', id: 113 }, 113);
  await bad({ jsonrpc: '2.0', method: 5, id: 117 }, 117);
  await bad({ jsonrpc: '2.0', method: 'demo.echo', params: 'x', id: 3 }, 3);
  await bad({ jsonrpc: '2.0', method: 'demo.echo', params: null, id: 3 }, 3);
  await bad({ jsonrpc: '2.0', method: 'demo.echo', id: { a: 1 } });
  await bad(42);
  await bad('"just a string"');
  await bad(null);
  await bad([]);
});

test('dispatcher: -32601 for unknown methods, including prototype names', async () => {
  for (const m of ['no.such.method', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '__proto__.x', 'system.listMethods.call', '']) {
    assert.deepEqual(await call(req(m)), { jsonrpc: '2.0', id: 1, error: { code: -32601, message: 'Method not found' } }, m);
  }
});

test('dispatcher: faults keep their code and message; -32602 for usage errors', async () => {
  assert.deepEqual((await call(req('demo.fault'))).error, { code: 500, message: 'No such htable' });
  assert.deepEqual((await call(req('demo.jsonrpcFault'))).error, { code: 404, message: 'Key not found in htable.' });
  assert.deepEqual((await call(req('demo.remote'))).error, { code: 500, message: 'AOR not found in location table' });
  assert.deepEqual((await call(req('demo.usage'))).error, { code: -32602, message: 'expected a number' });
  assert.deepEqual((await call(req('system.methodHelp', [5]))).error.code, -32602);
});

test('dispatcher: unexpected errors are -32603 "Internal error", nothing of the message leaks', async () => {
  logged.length = 0;
  for (const m of ['demo.bug', 'demo.asyncBug', 'demo.bigint']) {
    const r = await call(req(m));
    assert.deepEqual(r, { jsonrpc: '2.0', id: 1, error: { code: -32603, message: 'Internal error' } }, m);
  }
  assert.equal(logged.length, 3, 'each logged for the operator');
  assert.match(String(logged[0][1]?.error), /shadow/);
  assert.ok(d.counts.internal >= 3);
});

test('dispatcher: notifications get no reply; batches answer with an array in order', async () => {
  assert.equal(await call({ jsonrpc: '2.0', method: 'demo.echo', params: [1] }), undefined);
  assert.equal(await call({ jsonrpc: '2.0', method: 'demo.bug' }), undefined);
  assert.deepEqual(await call([req('demo.echo', [1], 1)]), [{ jsonrpc: '2.0', id: 1, result: [1] }], 'one-call batch is still an array');
  const r = await call([req('demo.echo', [1], 1), { jsonrpc: '2.0', method: 'demo.echo' }, req('no.such', undefined, 2), 7, req('demo.fault', undefined, 3)]);
  assert.deepEqual(r, [
    { jsonrpc: '2.0', id: 1, result: [1] },
    { jsonrpc: '2.0', id: 2, error: { code: -32601, message: 'Method not found' } },
    { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } },
    { jsonrpc: '2.0', id: 3, error: { code: 500, message: 'No such htable' } },
  ]);
  assert.equal(await call([{ jsonrpc: '2.0', method: 'demo.echo' }]), undefined, 'only notifications: no reply');
  const big = await call(Array.from({ length: 6 }, (_, i) => req('demo.echo', [i], i)));
  assert.equal(big.error.code, -32600);
  assert.match(big.error.message, /at most 5/);
});

// ---------------------------------------------------------------- listeners

const dir = mkdtempSync(join(tmpdir(), 'sipd-rpc-'));
const listeners: RpcListener[] = [];
after(async () => {
  for (const l of listeners) await l.close();
});

async function listen(spec: string, maxRequestBytes = 4096): Promise<RpcListener> {
  const l = await startRpcListener(parseRpcListen(spec), { dispatcher: d, log, maxRequestBytes, timeoutMs: 2000, maxConnections: 16 });
  listeners.push(l);
  return l;
}

function post(url: string, body: string | Buffer, opts: { method?: string; path?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const r = http.request({ host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port, path: opts.path ?? u.pathname, method: opts.method ?? 'POST', headers: { 'Content-Type': 'application/json', ...opts.headers } }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b, headers: res.headers }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

test('parseRpcListen', () => {
  assert.deepEqual(parseRpcListen('http://127.0.0.1:5071/RPC'), { kind: 'http', host: '127.0.0.1', port: 5071, path: '/RPC' });
  assert.deepEqual(parseRpcListen('http://[::1]:5071'), { kind: 'http', host: '::1', port: 5071, path: '/RPC' });
  assert.deepEqual(parseRpcListen('unix:///run/sipd.sock'), { kind: 'unix', path: '/run/sipd.sock' });
  assert.throws(() => parseRpcListen('http://localhost:5071/RPC'), /IP address/);
  assert.throws(() => parseRpcListen('https://127.0.0.1:5071/RPC'), /expected http/);
  assert.throws(() => parseRpcListen('unix:relative.sock'), /absolute/);
  assert.throws(() => parseRpcListen('http://u:p@127.0.0.1:1/RPC'), /credentials/);
});

test('HTTP: POST /RPC answers; sipctl\'s client works against it; IPv6 too', async () => {
  const l = await listen('http://127.0.0.1:0/RPC');
  const r = await post(l.url, JSON.stringify(req('demo.echo', ['x'])));
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(r.body), { jsonrpc: '2.0', id: 1, result: ['x'] });
  const client = createRpcClient(l.url, { timeoutMs: 2000 });
  assert.deepEqual(await client.call('demo.echo', [1, 2]), [1, 2]);
  await assert.rejects(client.call('demo.fault'), /No such htable \(code 500\)/);
  await client.close();
  const l6 = await listen('http://[::1]:0/RPC');
  assert.match(l6.url, /^http:\/\/\[::1\]:\d+\/RPC$/);
  assert.equal(JSON.parse((await post(l6.url, JSON.stringify(req('demo.echo', [6])))).body).result[0], 6);
});

test('HTTP: wrong path 404, GET 405, notification 204, oversized 413 (declared and streamed), parse error 200', async () => {
  const l = await listen('http://127.0.0.1:0/RPC', 1024);
  assert.equal((await post(l.url, '{}', { path: '/foo' })).status, 404);
  const g = await post(l.url, '', { method: 'GET' });
  assert.equal(g.status, 405);
  assert.equal(g.headers.allow, 'POST');
  assert.equal((await post(l.url, JSON.stringify({ jsonrpc: '2.0', method: 'demo.echo' }))).status, 204);
  const big = JSON.stringify(req('demo.echo', ['x'.repeat(5000)]));
  const r = await post(l.url, big);
  assert.equal(r.status, 413);
  assert.equal(JSON.parse(r.body).error.code, -32600);
  const chunked = await post(l.url, big, { headers: { 'Transfer-Encoding': 'chunked' } });
  assert.equal(chunked.status, 413);
  const bytes = await post(l.url, Buffer.concat([Buffer.from('{"jsonrpc":"2.0","method":"demo.echo","params":["'), Buffer.from([0xff]), Buffer.from('"],"id":1}')]));
  assert.equal(JSON.parse(bytes.body).error.code, -32700, 'invalid UTF-8 over HTTP');
  const pe = await post(l.url, 'hello');
  assert.equal(pe.status, 200);
  assert.equal(JSON.parse(pe.body).error.code, -32700);
  // still serving
  assert.equal((await post(l.url, JSON.stringify(req('demo.echo', [1])))).status, 200);
});

function unixExchange(path: string, payload: Buffer | string, opts: { end?: boolean } = {}): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ path });
    let text = '';
    s.on('connect', () => {
      s.write(payload);
      if (opts.end) s.end();
    });
    s.on('data', (c) => (text += c));
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closed: false });
    }, 3000);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    s.on('error', reject);
  });
}

test('unix socket: mode 0600; one request + newline per connection, reply + newline, then closed', async () => {
  const path = join(dir, 'rpc.sock');
  const l = await listen(`unix:${path}`);
  assert.equal(l.url, `unix:${path}`);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const r = await unixExchange(path, JSON.stringify(req('demo.echo', ['u'])) + '\n');
  assert.equal(r.closed, true);
  assert.ok(r.text.endsWith('\n'));
  assert.deepEqual(JSON.parse(r.text), { jsonrpc: '2.0', id: 1, result: ['u'] });
  // pretty-printed request split over writes, without a newline: the value closing is enough
  const r2 = await unixExchange(path, JSON.stringify(req('demo.echo', [{ a: '}' }]), null, 2));
  assert.deepEqual(JSON.parse(r2.text).result, [{ a: '}' }]);
  // sipctl's own client
  const client = createRpcClient(`unix:${path}`, { timeoutMs: 2000 });
  assert.deepEqual(await client.call('demo.echo', ['c']), ['c']);
  await assert.rejects(client.call('__proto__'), /Method not found \(code -32601\)/);
  await client.close();
});

test('unix socket: garbage, oversized, notification, half-close and a stale socket file', async () => {
  const path = join(dir, 'rpc2.sock');
  await listen(`unix:${path}`, 1024);
  assert.equal(JSON.parse((await unixExchange(path, 'hello\n')).text).error.code, -32700);
  assert.equal(JSON.parse((await unixExchange(path, Buffer.from([0, 1, 2, 255]))).text).error.code, -32700);
  const notUtf8 = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","method":"demo.echo","params":["'), Buffer.from([0xff, 0xfe]), Buffer.from('"],"id":1}\n')]);
  assert.equal(JSON.parse((await unixExchange(path, notUtf8)).text).error.code, -32700, 'invalid UTF-8 over the unix socket');
  const big = await unixExchange(path, JSON.stringify(req('demo.echo', ['x'.repeat(5000)])));
  assert.equal(JSON.parse(big.text).error.code, -32600);
  const n = await unixExchange(path, JSON.stringify({ jsonrpc: '2.0', method: 'demo.echo' }) + '\n');
  assert.deepEqual(n, { text: '', closed: true });
  const half = await unixExchange(path, '{"jsonrpc":"2.0","method":"demo.echo","id":1', { end: true });
  assert.equal(JSON.parse(half.text).error.code, -32700);
  // a file in the way that is not a socket is never removed
  const file = join(dir, 'not-a-socket');
  writeFileSync(file, 'x');
  await assert.rejects(listen(`unix:${file}`), /not a socket/);
  // a live socket is not stolen
  await assert.rejects(listen(`unix:${path}`), /in use/);
});
