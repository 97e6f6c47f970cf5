import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRpcClient, flattenUlDump, type UlDumpResult } from '../../../src/core/rpc/index.js';
import { recordedDgram, withId, bigUlDump } from './recorded.js';
import { startUnixServer, type UnixServer } from './servers.js';
import { expectRpcError, withClient } from '../../helpers/rpc.js';

describe('unix: stream socket transport', () => {
  let dir: string;
  let srv: UnixServer;
  let url: string;
  let onRequest: (req: any, sock: import('node:net').Socket) => void;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipctl-unix-'));
    srv = await startUnixServer(join(dir, 'sipd.sock'), (req, sock) => onRequest(req, sock));
    url = `unix:${srv.path}`;
  });
  after(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('round trip with the recorded reply, connection left open by the server', async () => {
    let seen: any;
    onRequest = (req, sock) => {
      seen = req;
      sock.write(withId(recordedDgram('core.uptime'), req.id)); // pretty-printed, no trailing newline, not closed
    };
    await withClient(url, async (c) => {
      assert.deepEqual(await c.call('core.uptime'), { now: 'Sat Nov 21 05:39:16 2026', up_since: 'Sat Nov 21 05:27:11 2026', uptime: 725 });
      assert.deepEqual(seen, { jsonrpc: '2.0', method: 'core.uptime', id: seen.id });
    });
  });

  test('reply split into tiny chunks, server closes after', async () => {
    onRequest = (req, sock) => {
      const bytes = withId(recordedDgram('htable.get ipban 1.2.3.4'), req.id);
      let i = 0;
      const next = (): void => {
        if (i >= bytes.length) { sock.end(); return; }
        sock.write(bytes.subarray(i, i + 7));
        i += 7;
        setImmediate(next);
      };
      next();
    };
    await withClient(url, async (c) => {
      assert.deepEqual(await c.call('htable.get', ['ipban', '1.2.3.4']), { item: { name: '1.2.3.4', value: 1, flags: 0, expire: '2026-11-21 05:43:23' } });
    });
  });

  test('JSON-RPC error is remote', async () => {
    onRequest = (req, sock) => sock.end(withId(recordedDgram('ERR unknown method'), req.id));
    await withClient(url, async (c) => {
      const e = await expectRpcError(c.call('no.such'));
      assert.equal(e.category, 'remote');
      assert.equal(e.details?.rpcCode, 500);
      assert.equal(e.message, 'no.such: Method Not Found (code 500)');
    });
  });

  test('never answering times out; garbage is a bad reply; silent close is connection lost', async () => {
    await withClient(url, { timeoutMs: 250 }, async (c) => {
      onRequest = () => undefined;
      const e1 = await expectRpcError(c.call('core.uptime'));
      assert.equal(e1.code, 'RPC_TIMEOUT');
      assert.equal(e1.message, `no reply from ${url} within 250 ms`);

      onRequest = (_req, sock) => sock.end('OK\n');
      assert.equal((await expectRpcError(c.call('core.uptime'))).code, 'RPC_BAD_REPLY');

      onRequest = (_req, sock) => sock.end('{"jsonrpc": "2.0", "resu');
      assert.equal((await expectRpcError(c.call('core.uptime'))).code, 'RPC_BAD_REPLY');

      onRequest = (_req, sock) => sock.end();
      const e4 = await expectRpcError(c.call('core.uptime'));
      assert.equal(e4.code, 'RPC_CONNECTION_LOST');
      assert.equal(e4.category, 'connection');
    });
  });

  test('a 20 MB reply', async () => {
    onRequest = (req, sock) => sock.end(bigUlDump(23_000, req.id));
    await withClient(url, { timeoutMs: 20_000 }, async (c) => {
      const rows = flattenUlDump(await c.call<UlDumpResult>('ul.dump'));
      assert.equal(rows.length, 23_000);
    });
  });

  test('concurrent calls each get their own reply', async () => {
    onRequest = (req, sock) => setTimeout(() => sock.end(JSON.stringify({ jsonrpc: '2.0', result: req.params[0], id: req.id })), 20 - req.params[0]);
    await withClient(url, async (c) => {
      const out = await Promise.all([1, 2, 3, 4, 5].map((n) => c.call('echo', [n])));
      assert.deepEqual(out, [1, 2, 3, 4, 5]);
    });
  });

  test('close() fails an in-flight call at once', async () => {
    onRequest = () => undefined;
    const c = createRpcClient(url, { timeoutMs: 5000 });
    const pending = c.call('core.uptime');
    await new Promise((r) => setTimeout(r, 50));
    await c.close();
    // the close ended it, not the 5 s timeout (that would be RPC_TIMEOUT)
    const e = await expectRpcError(pending);
    assert.equal(e.code, 'RPC_CLIENT_CLOSED');
  });

  test('missing socket is RPC_UNREACHABLE', async () => {
    const missing = `unix:${join(dir, 'nope.sock')}`;
    await withClient(missing, async (c) => {
      const e = await expectRpcError(c.call('core.uptime'));
      assert.equal(e.code, 'RPC_UNREACHABLE');
      assert.equal(e.category, 'connection');
      assert.equal(e.message, `cannot reach ${missing}: no such file or directory (ENOENT)`);
    });
  });

  test('unix:///abs form is accepted', () => {
    const c = createRpcClient('unix:///run/sipd/sipd.sock');
    assert.equal(c.url, 'unix:/run/sipd/sipd.sock');
  });
});

// Kamailio's datagram socket over unix: is tested in dgram-transport.test.ts.
