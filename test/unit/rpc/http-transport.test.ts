import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { createRpcClient, RpcError, flattenHtableDump, flattenUlDump, type HtableDumpResult, type UlDumpResult, type CoreUptimeResult } from '../../../src/core/rpc/index.js';
import { recordedHttp, withId, httpResponseBytes, bigUlDump, parseRecorded } from './recorded.js';
import { startRawHttpServer, closedPort, type HttpAnswer, type RawHttpServer } from './servers.js';
import { expectRpcError, startHttpsRpcServer, withClient, type HttpsRpcServer } from '../../helpers/rpc.js';
import { requireTools } from '../../helpers/require.js';
import { until } from '../../helpers/until.js';

/** Replay the recorded Kamailio reply for `label`, answering the request's id. */
function replay(label: string) {
  const rec = recordedHttp(label);
  const isJsonRpc = rec.body[0] === 0x7b; // HTML bodies are replayed as they are
  return (req: { json: any }) => httpResponseBytes(rec, isJsonRpc ? withId(rec.body, req.json.id) : rec.body);
}

describe('http transport against replayed Kamailio replies', () => {
  let srv: RawHttpServer;
  let route: (req: any) => any;
  before(async () => {
    srv = await startRawHttpServer((req) => route(req));
  });
  after(() => srv.close());

  test('core.uptime: result of the recorded 200 reply', async () => {
    route = replay('core.uptime');
    await withClient(srv.url, async (c) => {
      const r = await c.call<CoreUptimeResult>('core.uptime');
      assert.deepEqual(r, { now: 'Sat Nov 21 05:38:23 2026', up_since: 'Sat Nov 21 05:27:11 2026', uptime: 672 });
      const last = srv.seen.at(-1)!;
      assert.equal(last.requestLine, 'POST /RPC HTTP/1.1');
      assert.equal(last.headers['content-type'], 'application/json');
      assert.deepEqual(last.json, { jsonrpc: '2.0', method: 'core.uptime', id: last.json.id });
    });
  });

  test('params are sent positionally; htable.dump flattens', async () => {
    route = replay('htable.dump ipban (after seti)');
    await withClient(srv.url, async (c) => {
      const r = await c.call<HtableDumpResult>('htable.dump', ['ipban']);
      assert.deepEqual(srv.seen.at(-1)!.json.params, ['ipban']);
      assert.deepEqual(flattenHtableDump(r), [
        { name: '5.6.7.8', value: 1, type: 'int' },
        { name: '1.2.3.4', value: 1, type: 'int' },
      ]);
    });
  });

  test('JSON-RPC error with 500 in the status line is a remote error, not an HTTP error', async () => {
    route = replay('ERR unknown htable (get)');
    await withClient(srv.url, async (c) => {
      const e = await expectRpcError(c.call('htable.get', ['nosuchtable', 'k']));
      assert.equal(e.category, 'remote');
      assert.equal(e.code, 'RPC_ERROR');
      assert.equal(e.message, 'htable.get: No such htable (code 500)');
      assert.equal(e.details?.rpcCode, 500);
      assert.equal(e.details?.rpcMessage, 'No such htable');
    });
  });

  test('404 in the status line with a JSON-RPC body keeps code 404', async () => {
    route = replay('htable.delete again (missing key)');
    await withClient(srv.url, async (c) => {
      const e = await expectRpcError(c.call('htable.delete', ['MessageCount', 'ExampleAdd']));
      assert.equal(e.category, 'remote');
      assert.equal(e.details?.rpcCode, 404);
      assert.equal(e.message, 'htable.delete: Key not found in htable. (code 404)');
    });
  });

  test('HTTP 403 with an HTML body is RPC_HTTP_ERROR showing the status', async () => {
    route = replay('HTTP on SIP tcp port 5060');
    await withClient(srv.url, async (c) => {
      const e = await expectRpcError(c.call('core.uptime'));
      assert.equal(e.code, 'RPC_HTTP_ERROR');
      assert.equal(e.category, 'protocol');
      assert.equal(e.message, `HTTP 403 Forbidden from ${srv.url}`);
      assert.equal(e.details?.httpStatus, 403);
      assert.match(String(e.details?.bodySnippet), /HTTP not served on port 5060/);
    });
  });

  test('200 with an HTML body (Kamailio "Wrong URL") is RPC_BAD_REPLY', async () => {
    route = replay('wrong URL path /foo');
    await withClient(srv.url.replace('/RPC', '/foo'), async (c) => {
      const e = await expectRpcError(c.call('core.uptime'));
      assert.equal(e.code, 'RPC_BAD_REPLY');
      assert.equal(e.category, 'protocol');
      assert.match(e.message, /not JSON \(text\/html, 40 bytes\)/);
    });
  });

  test('garbage body with application/json is RPC_BAD_REPLY', async () => {
    const rec = recordedHttp('core.uptime');
    route = () => httpResponseBytes(rec, Buffer.from('{"jsonrpc":\t"2.0", "result": {'));
    await withClient(srv.url, async (c) => {
      const e = await expectRpcError(c.call('core.uptime'));
      assert.equal(e.code, 'RPC_BAD_REPLY');
    });
  });

  test('a reply for another id is RPC_BAD_REPLY (and does not hang)', async () => {
    const rec = recordedHttp('core.uptime');
    route = () => httpResponseBytes(rec, rec.body); // recorded id 18, ours differs
    await withClient(srv.url, { timeoutMs: 2000 }, async (c) => {
      const e = await expectRpcError(c.call('core.uptime'));
      assert.equal(e.code, 'RPC_BAD_REPLY');
      assert.match(e.message, /reply id 18 does not match request id 1/);
    });
  });

  test('Kamailio batch answer (result {} without id) is a bad reply, not a hang', async () => {
    const rec = recordedHttp('batch array');
    route = () => httpResponseBytes(rec, rec.body);
    await withClient(srv.url, { timeoutMs: 2000 }, async (c) => {
      const e = await expectRpcError(c.call('core.uptime'));
      assert.equal(e.code, 'RPC_BAD_REPLY');
    });
  });

  test('an accepted request that is never answered ends in the client\'s timeout error', async () => {
    route = () => 'hang'; // what Kamailio does with malformed JSON
    await withClient(srv.url, { timeoutMs: 300 }, async (c) => {
      const e = await expectRpcError(c.call('core.uptime'));
      assert.equal(e.code, 'RPC_TIMEOUT');
      assert.equal(e.category, 'timeout');
      assert.equal(e.message, `no reply from ${srv.url} within 300 ms`);
    });
  });

  test('connection dropped before a reply is a connection error', async () => {
    route = () => 'close';
    await withClient(srv.url, async (c) => {
      const e = await expectRpcError(c.call('core.uptime'));
      assert.equal(e.category, 'connection');
      assert.equal(e.code, 'RPC_CONNECTION_LOST');
    });
  });

  test('reply cut short (fewer bytes than Content-Length) is a connection error', async () => {
    const rec = recordedHttp('ul.dump');
    route = (req) => httpResponseBytes(rec, withId(rec.body, req.json.id)).subarray(0, 500);
    await withClient(srv.url, async (c) => {
      const e = await expectRpcError(c.call('ul.dump'));
      assert.equal(e.category, 'connection');
    });
  });

  test('sequential calls work although Kamailio closes every connection', async () => {
    route = replay('core.version');
    await withClient(srv.url, async (c) => {
      for (let i = 0; i < 5; i++) assert.equal(await c.call('core.version'), 'kamailio 5.6.3 (x86_64/linux) ');
      const results = await Promise.all([1, 2, 3, 4].map(() => c.call('core.version')));
      assert.equal(results.length, 4);
    });
  });

  test('keep-alive: a server that keeps the connection serves several calls on one socket', async () => {
    const rec = recordedHttp('core.version');
    route = (req) => ({ bytes: httpResponseBytes(rec, withId(rec.body, req.json.id)), keepOpen: true as const });
    const before = srv.connections;
    await withClient(srv.url, async (c) => {
      for (let i = 0; i < 3; i++) await c.call('core.version');
      assert.equal(srv.connections - before, 1);
    });
  });

  test('a 20 MB ul.dump is received and parsed', async () => {
    route = (req) => httpResponseBytes(recordedHttp('ul.dump'), bigUlDump(23_000, req.json.id));
    await withClient(srv.url, { timeoutMs: 20_000 }, async (c) => {
      const r = await c.call<UlDumpResult>('ul.dump');
      const rows = flattenUlDump(r);
      assert.equal(rows.length, 23_000);
      assert.equal(rows[22_999]!.aor, 'u22999');
      assert.equal(r.Domains[0]!.Domain.Stats.Records, 23_000);
    });
  });

  test('basic auth from options is sent; the password never shows in errors', async () => {
    route = replay('core.uptime');
    await withClient(srv.url, { auth: { user: 'admin', password: 's3cr3t-pw' } }, async (c) => {
      await c.call('core.uptime');
      assert.equal(srv.seen.at(-1)!.headers.authorization, 'Basic ' + Buffer.from('admin:s3cr3t-pw').toString('base64'));
    });
  });

  test('user:password in the URL becomes basic auth and is masked in client.url', async () => {
    route = replay('core.uptime');
    await withClient(`http://ops:p%40ss@127.0.0.1:${srv.port}/RPC`, async (c) => {
      assert.equal(c.url, `http://ops:***@127.0.0.1:${srv.port}/RPC`);
      await c.call('core.uptime');
      assert.equal(srv.seen.at(-1)!.headers.authorization, 'Basic ' + Buffer.from('ops:p@ss').toString('base64'));
    });
  });

  test('bearer auth', async () => {
    route = replay('core.uptime');
    await withClient(srv.url, { auth: { bearer: 'tok-123' } }, async (c) => {
      await c.call('core.uptime');
      assert.equal(srv.seen.at(-1)!.headers.authorization, 'Bearer tok-123');
    });
  });

  test('batch: calls in order, remote errors per entry', async () => {
    route = (req) => {
      const label = req.json.method === 'core.version' ? 'core.version' : 'ERR unknown method';
      return replay(label)(req);
    };
    await withClient(srv.url, async (c) => {
      const out = await c.batch([{ method: 'core.version' }, { method: 'no.such.method' }, { method: 'core.version' }]);
      assert.equal(out.length, 3);
      assert.deepEqual(out[0], { ok: true, result: 'kamailio 5.6.3 (x86_64/linux) ' });
      assert.equal(out[1]!.ok, false);
      assert.equal(!out[1]!.ok && out[1]!.error.message, 'no.such.method: Method Not Found (code 500)');
      assert.equal(out[2]!.ok, true);
    });
  });

  test('call after close is a usage error', async () => {
    const c = createRpcClient(srv.url);
    await c.close();
    const e = await expectRpcError(c.call('core.uptime'));
    assert.equal(e.code, 'RPC_CLIENT_CLOSED');
    assert.equal(e.category, 'usage');
  });
});

describe('http transport: connections and reply framing (plain http client)', () => {
  const version = recordedHttp('core.version');
  const versionReply = (id: number) => httpResponseBytes(version, withId(version.body, id));
  const expected = 'kamailio 5.6.3 (x86_64/linux) ';

  test('a server that closes after each reply: every call in order, the next connection opened ahead, closed by close()', async () => {
    const srv = await startRawHttpServer((req) => versionReply(req.json.id));
    try {
      const c = createRpcClient(srv.url);
      for (let i = 0; i < 6; i++) assert.equal(await c.call('core.version'), expected);
      // one connection per call (Kamailio closes each), plus the one opened for the next call
      await until('the spare connection accepted', () => srv.connections === 7);
      assert.deepEqual(srv.seen.map((r) => r.json.id), [1, 2, 3, 4, 5, 6]);
      assert.equal(new Set(srv.seen.map((r) => r.connection)).size, 6, 'never two requests on one connection');
      // once the client has seen the server close, it says so itself
      assert.equal(srv.seen[0]!.headers.connection, undefined);
      assert.equal(srv.seen.at(-1)!.headers.connection, 'close');
      await c.close();
      await until('every connection closed', () => srv.open === 0);
    } finally {
      await srv.close();
    }
  });

  test('connections the server drops unused (idle timeout, restart) cost no call', async () => {
    // every third connection is closed by the server as soon as it is accepted
    const srv = await startRawHttpServer((req) => versionReply(req.json.id), { dropConnection: (n) => n % 3 === 0 });
    try {
      await withClient(srv.url, async (c) => {
        for (let i = 0; i < 12; i++) assert.equal(await c.call('core.version'), expected);
      });
      assert.deepEqual(srv.seen.map((r) => r.json.id), Array.from({ length: 12 }, (_, i) => i + 1), 'each request once, in order');
    } finally {
      await srv.close();
    }
  });

  test('the server ends the connection opened ahead just as the call takes it: retried once on a new connection', async () => {
    const srv = await startRawHttpServer((req) => versionReply(req.json.id));
    try {
      await withClient(srv.url, async (c) => {
        for (let i = 0; i < 3; i++) await c.call('core.version');
        for (let i = 0; i < 3; i++) {
          await until('the spare connection accepted', () => srv.open === 1);
          srv.endAll(); // the client cannot have read this FIN before the call below writes
          assert.equal(await c.call('core.version'), expected);
        }
      });
      assert.deepEqual(srv.seen.map((r) => r.json.id), [1, 2, 3, 4, 5, 6], 'each request once, in order');
    } finally {
      await srv.close();
    }
  });

  test('keep-alive server that closes idle connections: the next call opens a new one', async () => {
    let keep = true;
    const srv = await startRawHttpServer((req) => (keep ? { bytes: versionReply(req.json.id), keepOpen: true as const } : versionReply(req.json.id)));
    try {
      await withClient(srv.url, async (c) => {
        await c.call('core.version');
        await c.call('core.version');
        assert.equal(srv.connections, 1);
        keep = false;
        await c.call('core.version'); // answered, then closed by the server
        await until('server closed the connection', () => srv.open === 0);
        keep = true;
        assert.equal(await c.call('core.version'), expected);
        assert.equal(srv.connections, 2);
      });
    } finally {
      await srv.close();
    }
  });

  test('reply framing: byte by byte, chunked, a 100 Continue first, HTTP/1.0 read to the end', async () => {
    const body = (id: number) => withId(version.body, id);
    const cases: Array<[string, (id: number) => HttpAnswer]> = [
      ['byte by byte', (id) => ({ pieces: [...versionReply(id)].map((b) => Buffer.from([b])) })],
      ['chunked', (id) => {
        const b = body(id);
        const head = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n', 'latin1');
        const chunk = (x: Buffer) => Buffer.concat([Buffer.from(x.length.toString(16) + ';ext=1\r\n'), x, Buffer.from('\r\n')]);
        return { pieces: [head, chunk(b.subarray(0, 7)), Buffer.concat([chunk(b.subarray(7)), Buffer.from('0\r\nX-Trailer: 1\r\n\r\n')])], keepOpen: true };
      }],
      ['100 Continue first', (id) => Buffer.concat([Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'), versionReply(id)])],
      ['HTTP/1.0 without Content-Length', (id) => ({ pieces: [Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n'), body(id)] })],
    ];
    for (const [name, answer] of cases) {
      const srv = await startRawHttpServer((req) => answer(req.json.id));
      try {
        await withClient(srv.url, async (c) => {
          assert.equal(await c.call('core.version'), expected, name);
          assert.equal(await c.call('core.version'), expected, `${name}, second call`);
        });
      } finally {
        await srv.close();
      }
    }
  });

  test('a reply that is not HTTP is RPC_BAD_REPLY', async () => {
    const srv = await startRawHttpServer(() => Buffer.from('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n'));
    try {
      await withClient(srv.url, async (c) => {
        const e = await expectRpcError(c.call('core.version'));
        assert.equal(e.code, 'RPC_BAD_REPLY');
        assert.match(e.message, /not an HTTP reply/);
      });
    } finally {
      await srv.close();
    }
  });

  test('more calls at once than the client opens connections for: all answered', async () => {
    const srv = await startRawHttpServer((req) => versionReply(req.json.id));
    try {
      await withClient(srv.url, async (c) => {
        const results = await Promise.all(Array.from({ length: 30 }, () => c.call('core.version')));
        assert.equal(results.filter((r) => r === expected).length, 30);
      });
      assert.equal(srv.seen.length, 30);
    } finally {
      await srv.close();
    }
  });

  test('a script that never calls close() still exits: kept and opened-ahead connections do not hold the process', async () => {
    const client = fileURLToPath(new URL('../../../src/core/rpc/client.ts', import.meta.url));
    const script = `import { createRpcClient } from ${JSON.stringify(client)};
      const c = createRpcClient(process.argv[1]);
      for (let i = 0; i < 3; i++) await c.call('core.version');
      console.log('done');`;
    for (const keepOpen of [false, true]) {
      const srv = await startRawHttpServer((req) => (keepOpen ? { bytes: versionReply(req.json.id), keepOpen: true as const } : versionReply(req.json.id)));
      try {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, srv.url], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
        assert.equal(code, 0);
        assert.equal(out, 'done\n');
      } finally {
        await srv.close();
      }
    }
  });

  test('close() while a call waits: the call fails at once with RPC_CLIENT_CLOSED', async () => {
    const srv = await startRawHttpServer(() => 'hang');
    try {
      const c = createRpcClient(srv.url, { timeoutMs: 60_000 });
      const pending = expectRpcError(c.call('core.version'));
      await until('request received', () => srv.seen.length === 1);
      await c.close();
      const e = await pending;
      assert.equal(e.code, 'RPC_CLIENT_CLOSED');
      await until('connection closed', () => srv.open === 0);
    } finally {
      await srv.close();
    }
  });
});

describe('http transport: unreachable endpoints', () => {
  test('connection refused is RPC_UNREACHABLE naming the URL', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}/RPC`;
    await withClient(url, async (c) => {
      const e = await expectRpcError(c.call('core.uptime'));
      assert.equal(e.code, 'RPC_UNREACHABLE');
      assert.equal(e.category, 'connection');
      assert.equal(e.message, `cannot reach ${url}: connection refused (ECONNREFUSED)`);
    });
  });

  test('credentials never leak into messages, hints, details or causes', async () => {
    const port = await closedPort();
    for (const [url, opts] of [
      [`http://root:hunter2-secret@127.0.0.1:${port}/RPC`, {}],
      [`http://127.0.0.1:${port}/RPC`, { auth: { user: 'root', password: 'hunter2-secret' } }],
      [`http://127.0.0.1:${port}/RPC`, { auth: { bearer: 'hunter2-secret' } }],
    ] as const) {
      await withClient(url, opts, async (c) => {
        const e = await expectRpcError(c.call('core.uptime'));
        const everything = [e.message, e.hint ?? '', JSON.stringify(e.details), inspect(e, { depth: 10 }), c.url].join('\n');
        assert.ok(!everything.includes('hunter2'), everything);
        assert.ok(!everything.includes(Buffer.from('root:hunter2-secret').toString('base64')));
      });
    }
  });

  test('unsupported scheme and bad URLs are usage errors', () => {
    for (const url of ['udp:127.0.0.1:5060', 'binrpc:unix:/run/kamailio/kamailio_ctl', '/run/kamailio/kamailio_rpc.fifo', 'unix:relative.sock', 'fifo:', 'http://[bad']) {
      assert.throws(() => createRpcClient(url), (e: unknown) => e instanceof RpcError && e.category === 'usage' && e.code === 'RPC_BAD_URL', url);
    }
  });

  test('a bad URL with a password does not echo it', () => {
    assert.throws(() => createRpcClient('ftp://u:topsecret@host/x'), (e: unknown) => e instanceof RpcError && !e.message.includes('topsecret'));
  });

  test('unreadable CA file is a usage error', () => {
    assert.throws(() => createRpcClient('https://127.0.0.1:1/RPC', { caFile: '/nonexistent/ca.pem' }),
      (e: unknown) => e instanceof RpcError && e.code === 'RPC_BAD_OPTION' && e.category === 'usage');
  });

  test('non-positive timeout is a usage error', () => {
    assert.throws(() => createRpcClient('http://127.0.0.1:1/RPC', { timeoutMs: 0 }), (e: unknown) => e instanceof RpcError && e.category === 'usage');
  });
});

describe('https transport', () => {
  before(() => requireTools('openssl'));
  let srv: HttpsRpcServer;
  let url: string;
  before(async () => {
    const rec = recordedHttp('core.version');
    srv = await startHttpsRpcServer((req) => ({ status: rec.status, reason: rec.reason, body: withId(rec.body, req.id) }));
    url = srv.url;
  });
  after(() => srv.close());

  test('with the CA file the call succeeds', async () => {
    await withClient(url, { caFile: srv.caFile }, async (c) => {
      assert.equal(await c.call('core.version'), parseRecorded(recordedHttp('core.version').body));
    });
  });

  test('an untrusted certificate is RPC_TLS_ERROR', async () => {
    await withClient(url, async (c) => {
      const e = await expectRpcError(c.call('core.version'));
      assert.equal(e.code, 'RPC_TLS_ERROR');
      assert.equal(e.category, 'connection');
    });
  });

  test('insecure skips verification', async () => {
    await withClient(url, { insecure: true }, async (c) => {
      assert.equal(await c.call('core.version'), 'kamailio 5.6.3 (x86_64/linux) ');
    });
  });
});
