import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { recordedDgram, withId } from './recorded.js';
import { startFakeDgramServer, type DgramAnswer, type DgramSeen, type FakeDgramServer } from './dgram-servers.js';
import { expectRpcError, withClient } from '../../helpers/rpc.js';
import { requireNodeModule } from '../../helpers/require.js';

describe('unix: datagram socket (Kamailio jsonrpcs dgram_socket, kamcmd -j)', () => {
  before(() => requireNodeModule('unix-dgram'));
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
    await withClient(url, { dgramReplyDir: replyDir }, async (c) => {
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
    });
    assert.deepEqual(readdirSync(replyDir), [], 'reply socket and its directory removed on close');
  });

  test('JSON-RPC error is remote (exit 6 category)', async () => {
    answer = (req) => withId(recordedDgram('ERR unknown method'), req.json.id);
    await withClient(url, { dgramReplyDir: replyDir }, async (c) => {
      const e = await expectRpcError(c.call('no.such'));
      assert.equal(e.category, 'remote');
      assert.equal(e.message, 'no.such: Method Not Found (code 500)');
    });
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
    await withClient(url, { timeoutMs: 200, dgramReplyDir: replyDir }, async (c) => {
      const e = await expectRpcError(c.call('core.uptime'));
      assert.equal(e.code, 'RPC_TIMEOUT');
      assert.equal(await c.call('core.uptime'), 'fresh');
    });
  });

  test('garbage and cut-off replies are bad replies with a way out', async () => {
    await withClient(url, { dgramReplyDir: replyDir }, async (c) => {
      answer = () => Buffer.from('hello');
      assert.equal((await expectRpcError(c.call('core.uptime'))).code, 'RPC_BAD_REPLY');
      answer = () => Buffer.alloc(70_000, 0x20);
      const e = await expectRpcError(c.call('ul.dump'));
      assert.equal(e.code, 'RPC_BAD_REPLY');
      assert.match(e.message, /cut off/);
    });
  });

  test('a socket file nobody listens on is unreachable (exit 5), at once', async () => {
    const d = mkdtempSync(join(tmpdir(), 'sipctl-dgram-stale-'));
    const stale = startFakeDgramServer(join(d, 'old.sock'), () => 'ignore');
    stale.close(); // the file stays, as after a crash
    assert.ok(existsSync(stale.path));
    try {
      await withClient(`unix:${stale.path}`, { timeoutMs: 3000, dgramReplyDir: replyDir }, async (c) => {
        // "at once": waiting for a reply would end in the 3 s timeout (RPC_TIMEOUT) instead
        const e = await expectRpcError(c.call('core.uptime'));
        assert.equal(e.code, 'RPC_UNREACHABLE');
        assert.equal(e.category, 'connection');
      });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('concurrent first calls find the socket type once: one reply socket, serialized calls, nothing left open', async () => {
    answer = (req) => Buffer.from(JSON.stringify({ jsonrpc: '2.0', result: req.json.params[0], id: req.json.id }));
    const before = srv.seen.length;
    await withClient(url, { dgramReplyDir: replyDir }, async (c) => {
      assert.deepEqual(await Promise.all([1, 2, 3, 4, 5].map((k) => c.call('echo', [k]))), [1, 2, 3, 4, 5]);
      assert.equal(new Set(srv.seen.slice(before).map((r) => r.from)).size, 1);
    });
    // a leaked socket would also keep the process alive (the addon's poll handle)
    assert.deepEqual(readdirSync(replyDir), []);
  });
});
