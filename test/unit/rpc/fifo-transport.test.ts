import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, writeFileSync, readFileSync, mkdirSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRpcClient, flattenHtableDump, flattenUlDump, type HtableDumpResult, type UlDumpResult } from '../../../src/core/rpc/index.js';
import { kamailioFifoJson, FIFO_MAX_REQUEST_BYTES } from '../../../src/core/rpc/fifo-transport.js';
import { recordedFifo, withId, bigUlDump } from './recorded.js';
import { startFakeKamailioFifo, mkfifo, type FakeKamailioFifo, type FifoRequestSeen, type FifoAnswer } from './servers.js';
import { expectRpcError, withClient } from '../../helpers/rpc.js';
import { NodeSet } from '../../../src/core/proxy/node-set.js';
import { requireRoot } from '../../helpers/require.js';

describe('fifo: transport against a fake Kamailio FIFO replaying recorded replies', () => {
  let dir: string;
  let replyDir: string;
  let kam: FakeKamailioFifo;
  let answer: (req: FifoRequestSeen) => FifoAnswer;
  let url: string;
  const clientOpts = (timeoutMs = 2000) => ({ fifoReplyDir: replyDir, timeoutMs });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipctl-fifo-'));
    replyDir = join(dir, 'replies');
    mkdirSync(replyDir);
    kam = await startFakeKamailioFifo(dir, replyDir, (req) => answer(req));
    url = `fifo:${kam.path}`;
  });
  after(async () => {
    await kam.close();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    assert.deepEqual(readdirSync(replyDir), [], 'reply FIFO left behind');
  });

  const replay = (label: string) => (req: FifoRequestSeen) => withId(recordedFifo(label), req.json.id);

  test('core.uptime round trip; request written as kamctl does', async () => {
    answer = replay('core.uptime');
    await withClient(url, clientOpts(), async (c) => {
      assert.deepEqual(await c.call('core.uptime'), { now: 'Sat Nov 21 05:38:54 2026', up_since: 'Sat Nov 21 05:27:11 2026', uptime: 703 });
      const req = kam.seen.at(-1)!;
      assert.match(req.replyName, /^sipctl_\d+_[0-9a-f]{16}$/);
      assert.deepEqual(req.json, { jsonrpc: '2.0', method: 'core.uptime', id: req.json.id, reply_name: req.replyName });
      assert.equal(req.replyStat!.mode & 0o777, 0o600);
      assert.ok(req.replyStat!.isFIFO());
    });
  });

  test('htable.dump ipban flattens', async () => {
    answer = replay('htable.dump ipban');
    await withClient(url, clientOpts(), async (c) => {
      const r = await c.call<HtableDumpResult>('htable.dump', ['ipban']);
      assert.deepEqual(kam.seen.at(-1)!.json.params, ['ipban']);
      assert.deepEqual(flattenHtableDump(r).map((x) => x.name), ['1.1.1.2', '1.1.1.1', '5.6.7.8', '1.2.3.4']);
    });
  });

  test('JSON-RPC error over the FIFO is remote with Kamailio\'s code', async () => {
    answer = replay('ERR unknown htable');
    await withClient(url, clientOpts(), async (c) => {
      const e = await expectRpcError(c.call('htable.dump', ['nosuchtable']));
      assert.equal(e.category, 'remote');
      assert.equal(e.code, 'RPC_ERROR');
      assert.equal(e.message, 'htable.dump: No such htable (code 500)');
      assert.deepEqual([e.details?.rpcCode, e.details?.rpcMessage], [500, 'No such htable']);
    });
  });

  test('a string ending in a backslash does not wedge Kamailio\'s reader', async () => {
    answer = (req) => Buffer.from(JSON.stringify({ jsonrpc: '2.0', result: req.json.params, id: req.json.id }));
    const params = ['C:\\dir\\', 'quote"inside', 'back\\"slash-quote', "it's {not} a brace", 'ünïcode'];
    await withClient(url, clientOpts(), async (c) => {
      assert.deepEqual(await c.call('echo', params), params);
      assert.ok(kam.seen.at(-1)!.raw.includes('\\u005c'));
      // and the next request is framed correctly too
      assert.deepEqual(await c.call('echo', ['x']), ['x']);
    });
  });

  test('kamailioFifoJson is the same JSON value', () => {
    for (const v of ['a\\', '\\\\', 'a\\"b', { k: ['\\', '"', '\\n'] }, 'plain']) {
      assert.deepEqual(JSON.parse(kamailioFifoJson(v)), v);
      assert.ok(!/\\\\/.test(kamailioFifoJson(v)));
    }
  });

  test('concurrent calls are serialized and each gets its reply', async () => {
    answer = (req) => Buffer.from(JSON.stringify({ jsonrpc: '2.0', result: req.json.params[0], id: req.json.id }));
    await withClient(url, clientOpts(), async (c) => {
      assert.deepEqual(await Promise.all([1, 2, 3, 4, 5, 6].map((n) => c.call('echo', [n]))), [1, 2, 3, 4, 5, 6]);
    });
  });

  test('a 20 MB reply through the FIFO', async () => {
    answer = (req) => bigUlDump(23_000, req.json.id);
    await withClient(url, clientOpts(20_000), async (c) => {
      assert.equal(flattenUlDump(await c.call<UlDumpResult>('ul.dump')).length, 23_000);
    });
  });

  test('no reply (what a wedged FIFO does) times out and removes the reply FIFO', async () => {
    answer = () => 'ignore';
    await withClient(url, clientOpts(300), async (c) => {
      const e = await expectRpcError(c.call('core.uptime'));
      assert.equal(e.code, 'RPC_TIMEOUT');
      assert.equal(e.category, 'timeout');
      assert.equal(e.message, `no reply from ${url} within 300 ms`);
      assert.match(e.hint ?? '', /wedges/);
    });
  });

  test('close() fails an in-flight call at once and removes its reply FIFO', async () => {
    answer = () => 'ignore';
    const c = createRpcClient(url, clientOpts(5000));
    const pending = c.call('core.uptime');
    // in flight once its reply FIFO exists (polled: a fixed sleep loses on a loaded machine)
    for (let i = 0; i < 250 && readdirSync(replyDir).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(readdirSync(replyDir).length, 1);
    await c.close();
    // the close ended it, not the 5 s timeout (that would be RPC_TIMEOUT)
    const e = await expectRpcError(pending);
    assert.equal(e.code, 'RPC_CLIENT_CLOSED');
  });

  test('a reply FIFO that cannot be removed: the client\'s close() and NodeSet.close() say so (it was ignored before)', async () => {
    answer = replay('core.uptime');
    const ns = new NodeSet([{ name: 'k', url, display: url }], { timeoutMs: 2000, fifoReplyDir: replyDir });
    const [o] = await ns.each((c) => c.call<{ uptime: number }>('core.uptime'));
    assert.ok(o!.ok, JSON.stringify(o));
    const [name] = readdirSync(replyDir);
    const fifo = join(replyDir, name!);
    // a non-empty directory where the reply FIFO was: unlink(2) fails (EISDIR), also for root
    rmSync(fifo);
    mkdirSync(fifo);
    writeFileSync(join(fifo, 'x'), '');
    try {
      await assert.rejects(ns.close(), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'RPC_REPLY_FIFO_LEFT');
        assert.ok(e.message.includes(fifo), e.message);
        return true;
      });
    } finally {
      rmSync(fifo, { recursive: true, force: true });
    }
  });

  test('garbage reply is RPC_BAD_REPLY; reply FIFO removed', async () => {
    answer = () => Buffer.from('500 command not found\n');
    await withClient(url, clientOpts(), async (c) => {
      assert.equal((await expectRpcError(c.call('core.uptime'))).code, 'RPC_BAD_REPLY');
    });
  });

  test('proxy opens the reply FIFO and closes it without writing: the call times out, the next call works', async () => {
    // The reply FIFO stays open between replies (pipelining), so an empty reply is no end-of-file.
    answer = () => Buffer.alloc(0);
    await withClient(url, clientOpts(300), async (c) => {
      assert.equal((await expectRpcError(c.call('core.uptime'))).code, 'RPC_TIMEOUT');
      answer = replay('core.uptime');
      assert.equal(((await c.call('core.uptime')) as { uptime: number }).uptime, 703);
    });
  });

  test('a request the proxy cannot execute gets no reply: it fails as soon as the next reply arrives', async () => {
    answer = (req) => (req.json.method === 'bad' ? 'ignore' : Buffer.from(JSON.stringify({ jsonrpc: '2.0', result: 'ok', id: req.json.id })));
    await withClient(url, clientOpts(60_000), async (c) => {
      const [bad, good] = await Promise.allSettled([c.call('bad'), c.call('good')]);
      assert.equal(good.status === 'fulfilled' && good.value, 'ok');
      assert.equal(bad.status === 'rejected' && (bad.reason as { code?: string }).code, 'RPC_CONNECTION_LOST');
    });
  });

  test('one reply FIFO serves every call of a client, and pipelined calls all reach the proxy', async () => {
    answer = (req) => Buffer.from(JSON.stringify({ jsonrpc: '2.0', result: req.json.params[0], id: req.json.id }));
    const before = kam.seen.length;
    await withClient(url, clientOpts(), async (c) => {
      const n = Array.from({ length: 200 }, (_, i) => i);
      assert.deepEqual(await Promise.all(n.map((i) => c.call('echo', [i]))), n);
      assert.equal(readdirSync(replyDir).length, 1);
    });
    const names = new Set(kam.seen.slice(before).map((r) => r.replyName));
    assert.equal(names.size, 1);
  });

  test('as root, the reply FIFO is handed to the proxy\'s user (owner of the request FIFO), still 0600',
    async () => {
      requireRoot('this test chowns the request FIFO to another user, as Kamailio does after dropping root');
      answer = replay('core.uptime');
      chownSync(kam.path, 65534, 65534); // Kamailio creates its FIFO after dropping to its own user
      try {
        await withClient(url, clientOpts(), async (c) => {
          await c.call('core.uptime');
          const st = kam.seen.at(-1)!.replyStat!;
          assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [65534, 65534, 0o600]);
        });
      } finally {
        chownSync(kam.path, 0, 0);
      }
    });

  test('requests Kamailio cannot read (> 8 KB) are refused before anything is written', async () => {
    const before = kam.seen.length;
    await withClient(url, clientOpts(), async (c) => {
      const e = await expectRpcError(c.call('htable.sets', ['t', 'k', 'x'.repeat(FIFO_MAX_REQUEST_BYTES)]));
      assert.equal(e.code, 'RPC_REQUEST_TOO_LARGE');
      assert.equal(e.category, 'usage');
      assert.equal(kam.seen.length, before);
    });
  });
});

describe('fifo: unreachable', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sipctl-fifo-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('FIFO with no reader is a clean connection error, nothing left behind', async () => {
    const path = join(dir, 'noreader.fifo');
    mkfifo(path);
    const replyDir = join(dir, 'r1');
    mkdirSync(replyDir);
    await withClient(`fifo:${path}`, { fifoReplyDir: replyDir, timeoutMs: 1000 }, async (c) => {
      // blocking on open would end in the 1 s timeout (RPC_TIMEOUT), not in this error
      const e = await expectRpcError(c.call('core.uptime'));
      assert.equal(e.category, 'connection');
      assert.equal(e.code, 'RPC_UNREACHABLE');
      assert.equal(e.message, `cannot reach fifo:${path}: no proxy is reading the FIFO`);
      assert.deepEqual(readdirSync(replyDir), []);
    });
  });

  test('missing FIFO is RPC_UNREACHABLE', async () => {
    await withClient(`fifo:${join(dir, 'missing.fifo')}`, { fifoReplyDir: dir }, async (c) => {
      const e = await expectRpcError(c.call('core.uptime'));
      assert.equal(e.code, 'RPC_UNREACHABLE');
      assert.match(e.message, /no such FIFO$/);
    });
  });

  test('a regular file is refused and left untouched', async () => {
    const path = join(dir, 'not-a-fifo');
    writeFileSync(path, 'keep me\n');
    await withClient(`fifo:${path}`, { fifoReplyDir: dir }, async (c) => {
      const e = await expectRpcError(c.call('core.uptime'));
      assert.equal(e.code, 'RPC_BAD_URL');
      assert.equal(e.message, `fifo:${path} is not a FIFO`);
      assert.equal(readFileSync(path, 'utf8'), 'keep me\n');
    });
  });

  test('process.exit() during a call still removes the reply FIFO', () => {
    const kdir = mkdtempSync(join(dir, 'exit-'));
    const replyDir = join(kdir, 'r');
    mkdirSync(replyDir);
    const script = `
      import { startFakeKamailioFifo } from ${JSON.stringify(join(import.meta.dirname, 'servers.ts'))};
      import { createRpcClient } from ${JSON.stringify(join(import.meta.dirname, '../../../src/core/rpc/index.ts'))};
      import { readdirSync } from 'node:fs';
      const kam = await startFakeKamailioFifo(${JSON.stringify(kdir)}, ${JSON.stringify(replyDir)}, () => 'ignore');
      const c = createRpcClient('fifo:' + kam.path, { fifoReplyDir: ${JSON.stringify(replyDir)} });
      c.call('core.uptime').catch(() => {});
      setTimeout(() => { console.log(readdirSync(${JSON.stringify(replyDir)}).length); process.exit(3); }, 300);
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stdout.trim(), '1'); // the reply FIFO existed while the call was in flight
    assert.deepEqual(readdirSync(replyDir), []);
  });

  test('unusable reply directory is a usage error, request not sent', async () => {
    const kdir = mkdtempSync(join(dir, 'k-'));
    const seen: FifoRequestSeen[] = [];
    const kam = await startFakeKamailioFifo(kdir, kdir, (r) => { seen.push(r); return 'ignore'; });
    try {
      await withClient(`fifo:${kam.path}`, { fifoReplyDir: join(dir, 'does-not-exist') }, async (c) => {
        const e = await expectRpcError(c.call('core.uptime'));
        assert.equal(e.code, 'RPC_BAD_OPTION');
        assert.equal(e.category, 'usage');
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(seen.length, 0);
      });
    } finally {
      await kam.close();
    }
  });
});
