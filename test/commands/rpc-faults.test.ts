// Faults, through the built sipctl: a proxy that is down, one that accepts and never answers,
// garbage replies and JSON-RPC errors, on every transport. Each must be one clear line on
// stderr, the documented exit code (5 connection, 7 timeout, 8 protocol, 6 remote), and no
// wait past the timeout.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { closedPort, startFakeKamailioFifo, startRawHttpServer, startUnixServer, type FakeKamailioFifo, type RawHttpServer, type UnixServer } from '../unit/rpc/servers.js';
import { startFakeDgramServer, type FakeDgramServer } from '../unit/rpc/dgram-servers.js';
import { requireNodeModule } from '../helpers/require.js';

let dir: string;
let replyDir: string;
const env = () => isolatedEnv({ SIPCTL_RPC_FIFO_REPLY_DIR: replyDir });

// outcomes, not durations: a hang ends in runSipctl's kill at 15 s (a thrown error), a timeout
// in exit 7 whose message names the budget that was applied
async function sipctl(args: string[], extraEnv: Record<string, string> = {}) {
  return runSipctl(args, { env: { ...env(), ...extraEnv }, timeoutMs: 15000 });
}

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${stderr}`);
  return lines[0]!;
}

// a hanging proxy: accepts TCP and never answers
let hangTcp: net.Server;
const held: net.Socket[] = [];
let hangPort: number;
let garbageHttp: RawHttpServer;
let errorHttp: RawHttpServer;
let hangUnix: UnixServer;
let garbageUnix: UnixServer;
let hangFifo: FakeKamailioFifo;
let hangDgram: FakeDgramServer | undefined;
let garbageDgram: FakeDgramServer | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sipctl-faults-'));
  replyDir = mkdtempSync(join(tmpdir(), 'sipctl-faults-replies-'));
  hangTcp = net.createServer((s) => { held.push(s); s.on('error', () => undefined); });
  await new Promise<void>((r) => hangTcp.listen(0, '127.0.0.1', r));
  hangPort = (hangTcp.address() as net.AddressInfo).port;
  garbageHttp = await startRawHttpServer(() => Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\nhello world'));
  errorHttp = await startRawHttpServer((req) => {
    const body = JSON.stringify({ jsonrpc: '2.0', error: { code: 500, message: 'No such htable' }, id: req.json.id });
    return Buffer.from(`HTTP/1.1 500 No such htable\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });
  hangUnix = await startUnixServer(join(dir, 'hang.sock'), () => undefined);
  garbageUnix = await startUnixServer(join(dir, 'garbage.sock'), (_req, sock) => sock.end('<html>nope</html>\n'));
  hangFifo = await startFakeKamailioFifo(dir, replyDir, () => 'ignore');
  requireNodeModule('unix-dgram'); // the datagram cases below must run, not drop out
  {
    hangDgram = startFakeDgramServer(join(dir, 'hang.dgram'), () => 'ignore');
    garbageDgram = startFakeDgramServer(join(dir, 'garbage.dgram'), () => Buffer.from('not json at all'));
  }
});

after(async () => {
  held.forEach((s) => s.destroy());
  await new Promise<void>((r) => hangTcp.close(() => r()));
  await garbageHttp.close();
  await errorHttp.close();
  await hangUnix.close();
  await garbageUnix.close();
  await hangFifo.close();
  hangDgram?.close();
  garbageDgram?.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(replyDir, { recursive: true, force: true });
});

describe('proxy down: exit 5 at once', () => {
  test('http: connection refused', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/RPC`;
    const r = await sipctl(['htable', 'dump', 'ipban', '--rpc', url]);
    assert.equal(r.code, 5);
    assert.equal(oneLine(r.stderr), `sipctl: cannot reach ${url}: connection refused (ECONNREFUSED) (is the proxy running, and is this the URL its RPC interface listens on?)`);
    assert.equal(r.stdout, '');
  });
  test('fifo: and unix: paths that do not exist', async () => {
    for (const url of [`fifo:${join(dir, 'none.fifo')}`, `unix:${join(dir, 'none.sock')}`]) {
      const r = await sipctl(['rpc', 'core.uptime', '--rpc', url]);
      assert.equal(r.code, 5, `${url}: ${r.stderr}`);
      assert.match(oneLine(r.stderr), /^sipctl: cannot reach (fifo|unix):.*no such/);
    }
  });
  test('--json: the error as one JSON document on stderr', async () => {
    const r = await sipctl(['status', '--json', '--rpc', `http://127.0.0.1:${await closedPort()}/RPC`]);
    assert.equal(r.code, 5);
    const e = JSON.parse(oneLine(r.stderr));
    assert.equal(e.error.code, 'RPC_UNREACHABLE');
    assert.equal(e.error.exitCode, 5);
  });
});

describe('proxy hanging (accepts, never answers): exit 7 right after --timeout', () => {
  const cases = () => [
    ['http', `http://127.0.0.1:${hangPort}/RPC`],
    ['unix stream', `unix:${hangUnix.path}`],
    ['fifo', `fifo:${hangFifo.path}`],
    ...(hangDgram ? [['unix datagram', `unix:${hangDgram.path}`]] : []),
  ] as Array<[string, string]>;
  test('every transport, a short call and a dump', async () => {
    for (const [name, url] of cases()) {
      for (const args of [['rpc', 'core.uptime'], ['htable', 'sets', 'ipban', '1.2.3.4', 'x']]) {
        const r = await sipctl([...args, '--rpc', url, '--timeout', '700']);
        assert.equal(r.code, 7, `${name} ${args[0]}: ${r.stderr}`);
        assert.match(oneLine(r.stderr), new RegExp(`^sipctl: no reply from ${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} within 700 ms`));
      }
    }
  });
  test('a dump obeys SIPCTL_TIMEOUT too (no minutes-long default when the user set one)', async () => {
    const r = await sipctl(['ul', 'dump', '--rpc', `http://127.0.0.1:${hangPort}/RPC`], { SIPCTL_TIMEOUT: '600' });
    assert.equal(r.code, 7, r.stderr);
    assert.match(oneLine(r.stderr), / within 600 ms/, 'the budget SIPCTL_TIMEOUT set');
  });
});

describe('garbage replies: exit 8', () => {
  test('http 200 with a non-JSON body, a unix socket speaking HTML, a datagram of nonsense', async () => {
    const urls = [garbageHttp.url, `unix:${garbageUnix.path}`, ...(garbageDgram ? [`unix:${garbageDgram.path}`] : [])];
    for (const url of urls) {
      const r = await sipctl(['htable', 'get', 'ipban', '1.2.3.4', '--rpc', url]);
      assert.equal(r.code, 8, `${url}: ${r.stderr}`);
      assert.match(oneLine(r.stderr), /^sipctl: malformed reply from /);
    }
  });
});

describe('a JSON-RPC error reply: exit 6', () => {
  test('raw rpc call: the proxy\'s own message and code', async () => {
    const r = await sipctl(['rpc', 'htable.dump', 'nosuch', '--rpc', errorHttp.url]);
    assert.equal(r.code, 6);
    assert.equal(oneLine(r.stderr), 'sipctl: htable.dump: No such htable (code 500)');
  });
  test('batch: the failing line is reported, the exit code follows', async () => {
    const r = await runSipctl(['batch', '--rpc', errorHttp.url], { env: env(), input: 'rpc htable.dump x\n' });
    assert.equal(r.code, 6);
    assert.equal(r.stdout, '1\terror\thtable.dump: No such htable (code 500)\n');
  });
});
