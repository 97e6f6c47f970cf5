// How the built sipctl finds and authenticates to proxies: --rpc, SIPCTL_RPC, config `nodes`
// with --node, HTTP basic/bearer auth from env, config or an auth file (never a flag), TLS CA
// for https, kamcmd-style parameter typing on the wire.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedEnv, runSipctl } from '../helpers/cli.js';
import { startHttpsRpcServer, type HttpsRpcServer } from '../helpers/rpc.js';
import { startRawHttpServer, type RawHttpServer } from '../unit/rpc/servers.js';
import { requireTools } from '../helpers/require.js';

let dir: string;
let a: RawHttpServer;
let b: RawHttpServer;
const reply = (name: string) => (req: { json: any }) => {
  const body = JSON.stringify({ jsonrpc: '2.0', result: req.json.method === 'core.version' ? `proxy ${name}` : { echo: req.json.params ?? null }, id: req.json.id });
  return Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sipctl-rpccfg-'));
  a = await startRawHttpServer(reply('a'));
  b = await startRawHttpServer(reply('b'));
});
after(async () => {
  await a.close();
  await b.close();
  rmSync(dir, { recursive: true, force: true });
});

function configFile(obj: object, mode = 0o600): string {
  const p = join(dir, `config-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(p, JSON.stringify(obj));
  chmodSync(p, mode);
  return p;
}

describe('choosing proxies', () => {
  test('config nodes: all by default, --node one, JSON names them', async () => {
    const cfg = configFile({ nodes: { alpha: a.url, beta: b.url } });
    const env = isolatedEnv({ SIPCTL_CONFIG: cfg });
    const all = await runSipctl(['version', '--json'], { env });
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(JSON.parse(all.stdout).nodes.map((p: { node: string; result: { version: string } }) => [p.node, p.result.version]), [['alpha', 'proxy a'], ['beta', 'proxy b']]);
    const one = await runSipctl(['version', '--json', '--node', 'beta'], { env });
    assert.deepEqual(JSON.parse(one.stdout).nodes.map((p: { node: string }) => p.node), ['beta']);
    // SIPCTL_RPC (env) beats the config's nodes, --rpc beats both
    const viaEnv = await runSipctl(['version', '--json'], { env: { ...env, SIPCTL_RPC: b.url } });
    assert.deepEqual(JSON.parse(viaEnv.stdout).nodes.map((p: { result: { version: string } }) => p.result.version), ['proxy b']);
    const viaFlag = await runSipctl(['version', '--json', '--rpc', a.url, '--rpc', b.url], { env: { ...env, SIPCTL_RPC: b.url } });
    assert.deepEqual(JSON.parse(viaFlag.stdout).nodes.map((p: { result: { version: string } }) => p.result.version), ['proxy a', 'proxy b']);
  });

  test('kamcmd-style parameter typing on the wire', async () => {
    const r = await runSipctl(['rpc', 'x.echo', '5', 's:5', 'abc', 'i:7', 'd:1.5', 'j:{"a":[1]}', '61312341234', '--json', '--rpc', a.url], { env: isolatedEnv() });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).nodes[0].result, { echo: [5, '5', 'abc', 7, 1.5, { a: [1] }, '61312341234'] });
    const bad = await runSipctl(['rpc', 'x.echo', 'i:abc', '--rpc', a.url], { env: isolatedEnv() });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /parameter 1 \(i:abc\)/);
  });

  test('unusable URLs are usage errors before anything is sent', async () => {
    const before = a.seen.length;
    const r = await runSipctl(['htable', 'sets', 'ipban', 'k', 'v', '--rpc', a.url, '--rpc', 'ftp://x/RPC'], { env: isolatedEnv() });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unsupported RPC URL scheme/);
    assert.equal(a.seen.length, before, 'no node got half a change');
  });
});

describe('authentication: never from a flag value', () => {
  const lastAuth = (s: RawHttpServer) => s.seen.at(-1)!.headers.authorization;

  test('basic from env, bearer from env, user:password in the URL masked in errors', async () => {
    await runSipctl(['uptime', '--rpc', a.url], { env: isolatedEnv({ SIPCTL_RPC_USER: 'kam', SIPCTL_RPC_PASSWORD: 's3cret' }) });
    assert.equal(lastAuth(a), 'Basic ' + Buffer.from('kam:s3cret').toString('base64'));
    await runSipctl(['uptime', '--rpc', a.url], { env: isolatedEnv({ SIPCTL_RPC_TOKEN: 'tok-123' }) });
    assert.equal(lastAuth(a), 'Bearer tok-123');
    const r = await runSipctl(['uptime', '--rpc', 'http://kam:hunter2@127.0.0.1:1/RPC'], { env: isolatedEnv() });
    assert.equal(r.code, 5);
    assert.ok(!r.stderr.includes('hunter2'));
    assert.match(r.stderr, /kam:\*\*\*@/);
  });

  test('auth file (0600) and config file; a readable one is refused; no password flag exists', async () => {
    const f = join(dir, 'auth');
    writeFileSync(f, 'Bearer from-file\n');
    chmodSync(f, 0o600);
    await runSipctl(['uptime', '--rpc', a.url, '--rpc-auth-file', f], { env: isolatedEnv() });
    assert.equal(lastAuth(a), 'Bearer from-file');
    chmodSync(f, 0o644);
    const loose = await runSipctl(['uptime', '--rpc', a.url, '--rpc-auth-file', f], { env: isolatedEnv() });
    assert.equal(loose.code, 10);
    assert.match(loose.stderr, /chmod 600/);

    await runSipctl(['uptime'], { env: isolatedEnv({ SIPCTL_CONFIG: configFile({ rpc: [a.url], rpcUser: 'cfg', rpcPassword: 'pw' }) }) });
    assert.equal(lastAuth(a), 'Basic ' + Buffer.from('cfg:pw').toString('base64'));
    const insecure = await runSipctl(['uptime'], { env: isolatedEnv({ SIPCTL_CONFIG: configFile({ rpc: [a.url], rpcToken: 't' }, 0o644) }) });
    assert.equal(insecure.code, 10);

    const flag = await runSipctl(['uptime', '--rpc', a.url, '--rpc-password', 'x'], { env: isolatedEnv() });
    assert.equal(flag.code, 2);
  });
});

describe('https with a private CA', () => {
  before(() => requireTools('openssl'));
  let tls: HttpsRpcServer;
  let url: string;
  before(async () => {
    tls = await startHttpsRpcServer((req) => ({ body: JSON.stringify({ jsonrpc: '2.0', result: { now: 'n', up_since: 'u', uptime: 9 }, id: req.id }) }));
    url = tls.url;
  });
  after(() => tls.close());

  test('untrusted certificate: exit 5 with a hint; --rpc-ca-file / SIPCTL_RPC_CA_FILE trusts it', async () => {
    const no = await runSipctl(['uptime', '--rpc', url], { env: isolatedEnv() });
    assert.equal(no.code, 5);
    assert.match(no.stderr, /TLS handshake .* failed/);
    const yes = await runSipctl(['uptime', '--json', '--rpc', url, '--rpc-ca-file', tls.caFile], { env: isolatedEnv() });
    assert.equal(yes.code, 0, yes.stderr);
    assert.equal(JSON.parse(yes.stdout).nodes[0].result.uptime, 9);
    const env = await runSipctl(['uptime', '--rpc', url], { env: isolatedEnv({ SIPCTL_RPC_CA_FILE: tls.caFile }) });
    assert.equal(env.code, 0, env.stderr);
  });
});
