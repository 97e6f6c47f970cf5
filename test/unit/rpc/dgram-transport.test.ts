import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inspect } from 'node:util';
import { createRpcClient, RpcError } from '../../../src/core/rpc/index.js';
import { recordedDgram, withId } from './recorded.js';
import { haveUnixDgram, startFakeDgramServer, type DgramAnswer, type DgramSeen, type FakeDgramServer } from './dgram-servers.js';

async function rejects(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RpcError, `expected RpcError, got ${inspect(e)}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

describe('unix: datagram socket (Kamailio jsonrpcs dgram_socket, kamcmd -j)', { skip: haveUnixDgram() ? false : 'unix-dgram addon not installed' }, () => {
  let dir: string;
  let replyDir: string;
  let srv: FakeDgramServer;
  let url: string;
  let answer: (req: DgramSeen) => DgramAnswer;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sipctl-dgram-'));
    replyDir = mkdtempSync(join(tmpdir(), 'sipctl-dgram-replies-'));
    srv = startFakeDgramServer(join(dir, 'kamailio_rpc.sock'), (req) => answer(req));
    url = `unix:${srv.path}`;
  });
  after(() => {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(replyDir, { recursive: true, force: true });
  });

  test('detects the datagram socket, round-trips the recorded reply, and keeps one private reply socket', async () => {
    answer = (req) => withId(recordedDgram('core.uptime'), req.json.id);
    const c = createRpcClient(url, { dgramReplyDir: replyDir });
    try {
      assert.equal(c.kind(), 'unix');
      const r = await c.call('core.uptime');
      assert.deepEqual(r, { now: 'Sat Nov 21 05:39:16 2026', up_since: 'Sat Nov 21 05:27:11 2026', uptime: 725 });
      assert.equal(c.kind(), 'unix-dgram');
      await c.call('core.uptime');
      const from = srv.seen.at(-1)!.from!;
      assert.equal(srv.seen.at(-2)!.from, from, 'one reply socket for the client');
      assert.ok(from.startsWith(replyDir + '/'));
      assert.equal(statSync(from).mode & 0o777, 0o600);
      assert.equal(statSync(dirname(from)).mode & 0o777, 0o700);
      assert.deepEqual(srv.seen.at(-1)!.json.method, 'core.uptime');
    } finally {
      await c.close();
    }
    assert.deepEqual(readdirSync(replyDir), [], 'reply socket and its directory removed on close');
  });

  test('JSON-RPC error is remote (exit 6 category)', async () => {
    answer = (req) => withId(recordedDgram('ERR unknown method'), req.json.id);
    const c = createRpcClient(url, { dgramReplyDir: replyDir });
    try {
      const e = await rejects(c.call('no.such'));
      assert.equal(e.category, 'remote');
      assert.equal(e.message, 'no.such: Method Not Found (code 500)');
    } finally {
      await c.close();
    }
  });

  test('no answer times out on time; a late reply to that call is not taken for the next one', async () => {
    let n = 0;
    let late: { id: number; from: string } | undefined;
    answer = (req) => {
      n++;
      if (n === 1) {
        late = { id: req.json.id, from: req.from! };
        return 'ignore';
      }
      // the late answer to call 1 arrives first, then the real one
      return [Buffer.from(JSON.stringify({ jsonrpc: '2.0', result: 'stale', id: late!.id })), Buffer.from(JSON.stringify({ jsonrpc: '2.0', result: 'fresh', id: req.json.id }))];
    };
    const c = createRpcClient(url, { timeoutMs: 200, dgramReplyDir: replyDir });
    try {
      const t0 = Date.now();
      const e = await rejects(c.call('core.uptime'));
      assert.equal(e.code, 'RPC_TIMEOUT');
      assert.ok(Date.now() - t0 < 700);
      assert.equal(await c.call('core.uptime'), 'fresh');
    } finally {
      await c.close();
    }
  });

  test('garbage and cut-off replies are bad replies with a way out', async () => {
    const c = createRpcClient(url, { dgramReplyDir: replyDir });
    try {
      answer = () => Buffer.from('hello');
      assert.equal((await rejects(c.call('core.uptime'))).code, 'RPC_BAD_REPLY');
      answer = () => Buffer.alloc(70_000, 0x20);
      const e = await rejects(c.call('ul.dump'));
      assert.equal(e.code, 'RPC_BAD_REPLY');
      assert.match(e.message, /cut off/);
    } finally {
      await c.close();
    }
  });

  test('a socket file nobody listens on is unreachable (exit 5), at once', async () => {
    const d = mkdtempSync(join(tmpdir(), 'sipctl-dgram-stale-'));
    const stale = startFakeDgramServer(join(d, 'old.sock'), () => 'ignore');
    stale.close(); // the file stays, as after a crash
    assert.ok(existsSync(stale.path));
    const c = createRpcClient(`unix:${stale.path}`, { timeoutMs: 3000, dgramReplyDir: replyDir });
    try {
      const t0 = Date.now();
      const e = await rejects(c.call('core.uptime'));
      assert.equal(e.code, 'RPC_UNREACHABLE');
      assert.equal(e.category, 'connection');
      assert.ok(Date.now() - t0 < 1000);
    } finally {
      await c.close();
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('concurrent first calls find the socket type once: one reply socket, serialized calls, nothing left open', async () => {
    answer = (req) => Buffer.from(JSON.stringify({ jsonrpc: '2.0', result: req.json.params[0], id: req.json.id }));
    const c = createRpcClient(url, { dgramReplyDir: replyDir });
    const before = srv.seen.length;
    try {
      assert.deepEqual(await Promise.all([1, 2, 3, 4, 5].map((k) => c.call('echo', [k]))), [1, 2, 3, 4, 5]);
      assert.equal(new Set(srv.seen.slice(before).map((r) => r.from)).size, 1);
    } finally {
      await c.close();
    }
    // a leaked socket would also keep the process alive (the addon's poll handle)
    assert.deepEqual(readdirSync(replyDir), []);
  });
});
