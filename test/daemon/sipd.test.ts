// The real sipd (bin/sipd.js, built) as a process: SIP over UDP/TCP on 127.0.0.1 and ::1,
// sipsak as a client, flood ban from 127.0.0.2 seen through JSON-RPC, SIGTERM / SIGKILL and
// restart with the ban and its expiry kept, SIGHUP reload, start-up refusals.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/core/db/database.js';
import { createRpcClient } from '../../src/core/rpc/client.js';
import { addSubscriber } from '../../src/core/subscribers/subscribers.js';
import { sipsakRegister } from '../helpers/sip-tools.js';
import { REPO, SIPD, assertBuilt, freeSipPort, makeDb, options, startSipd, statusOf, tcpOptions, udpExchange, type SipdProcess } from './sipd-process.js';
import { requireTools } from '../helpers/require.js';

let dbUrl: string;
let sipd: SipdProcess;

before(async () => {
  assertBuilt();
  dbUrl = await makeDb(mkdtempSync(join(tmpdir(), 'sipd-db-')));
  const db = await openDatabase(dbUrl);
  try {
    await addSubscriber(db, 'alice', '127.0.0.1', 'Tr0ub4dor-Horse-77', { hash: 'md5', storePlaintext: false });
  } finally {
    await db.close();
  }
  sipd = await startSipd({ dbUrl, ipv6: true });
});
after(async () => {
  if (sipd.child.exitCode === null) await sipd.stop('SIGKILL');
});

test('OPTIONS → 200 over UDP and TCP, on 127.0.0.1 and ::1; JSON-RPC over HTTP and the unix socket', async () => {
  for (const host of ['127.0.0.1', '::1']) {
    const r = await udpExchange(sipd.sipPort, options(sipd.sipPort, { host }), { host });
    assert.equal(statusOf(r), 200, `UDP ${host}: ${r}`);
    assert.match(r!, /\r\nAllow: OPTIONS, REGISTER\r\n/);
    assert.equal(statusOf(await tcpOptions(sipd.sipPort, host)), 200, `TCP ${host}`);
  }
  assert.match(await sipd.rpc<string>('core.version'), /^sipd \d+\.\d+\.\d+ \(\w+\/\w+\) $/);
  const up = await sipd.rpc<{ now: string; up_since: string; uptime: number }>('core.uptime');
  assert.deepEqual(Object.keys(up), ['now', 'up_since', 'uptime']);
  assert.match(up.now, /^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
  const methods = await sipd.rpc<string[]>('system.listMethods');
  for (const m of ['core.version', 'core.uptime', 'system.listMethods', 'htable.dump', 'htable.get', 'htable.seti', 'htable.sets', 'htable.delete', 'htable.flush', 'htable.listTables', 'htable.reload', 'pike.top']) {
    assert.ok(methods.includes(m), m);
  }
  const unix = createRpcClient(`unix:${sipd.unixPath}`, { timeoutMs: 3000 });
  try {
    assert.deepEqual((await unix.call<Array<{ name: string }>>('htable.listTables')).map((t) => t.name), ['ipban', 'userban']);
    await assert.rejects(unix.call('htable.dump', ['nosuchtable']), /No such htable \(code 500\)/);
  } finally {
    await unix.close();
  }
});

test('sipsak -s sip:127.0.0.1:PORT gets 200 (scanner list configured without sipsak)', async () => {
  requireTools('sipsak');
  const r = spawnSync('sipsak', ['-vv', '-s', `sip:127.0.0.1:${sipd.sipPort}`], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SIP\/2\.0 200 OK/);
});

test('REGISTER goes through auth-db (401 challenge, digest) and the registrar (ul.dump shows the binding)', async () => {
  requireTools('sipsak');
  const reg = { user: 'alice', domain: '127.0.0.1', proxyHost: '127.0.0.1', proxyPort: sipd.sipPort, contactPort: 5999, timeoutMs: 10_000 };
  const good = await sipsakRegister({ ...reg, password: 'Tr0ub4dor-Horse-77' });
  assert.ok(good.ok, good.output);
  const dump = await sipd.rpc<{ Domains: Array<{ Domain: { AoRs: Array<{ Info: { AoR: string } }> } }> }>('ul.dump');
  assert.deepEqual(dump.Domains[0].Domain.AoRs.map((a) => a.Info.AoR), ['alice']);
  const bad = await sipsakRegister({ ...reg, password: 'wrong-password' });
  assert.equal(bad.ok, false);
  const failed = sipd.lines().find((l) => l.event === 'auth-failed');
  assert.ok(failed, 'failed authentication logged as a security event');
  assert.equal(failed.sourceIp, '127.0.0.1');
  assert.equal(failed.method, 'REGISTER');
  assert.equal(failed.user, 'alice');
});

test('a flood from 127.0.0.2 is banned (visible in htable.dump ipban, logged); 127.0.0.1 keeps working', async () => {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address: '127.0.0.2', port: 0 }, () => r()));
  let replies = 0;
  sock.on('message', () => replies++);
  for (let i = 0; i < 200; i++) sock.send(options(sipd.sipPort, { from: '127.0.0.2' }), sipd.sipPort, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 500));
  sock.close();
  assert.equal(replies, 16, 'the first 16 in the sampling unit are answered, then the source is banned');

  const dump = await sipd.rpc<Array<{ entry: number; size: number; slot: Array<{ name: string; value: number; type: string }> }>>('htable.dump', ['ipban']);
  const names = dump.flatMap((e) => e.slot.map((s) => s.name));
  assert.deepEqual(names, ['127.0.0.2']);
  assert.deepEqual(dump[0].slot[0], { name: '127.0.0.2', value: 1, type: 'int' });
  const item = (await sipd.rpc<{ item: { expire: string } }>('htable.get', ['ipban', '127.0.0.2'])).item;
  assert.match(item.expire, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  // and as an operator sees it: sipctl htable dump over the unix socket (the built sipctl)
  {
    const r = spawnSync(process.execPath, [join(REPO, 'bin', 'run.cjs'), 'htable', 'dump', 'ipban', '--rpc', `unix:${sipd.unixPath}`], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: sipd.stateDir } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^127\.0\.0\.2\t1\tint$/m);
  }

  // banned: no answer over UDP, TCP connections refused
  assert.equal(await udpExchange(sipd.sipPort, options(sipd.sipPort, { from: '127.0.0.2' }), { bindAddress: '127.0.0.2', timeoutMs: 500 }), undefined);
  const tcpBanned = await new Promise<string>((r) => {
    const s = net.createConnection({ host: '127.0.0.1', port: sipd.sipPort, localAddress: '127.0.0.2' });
    let got = '';
    s.on('connect', () => s.write(options(sipd.sipPort, { transport: 'TCP' })));
    s.on('data', (d) => (got += d));
    s.on('error', () => undefined);
    s.on('close', () => r(got));
  });
  assert.equal(tcpBanned, '');
  // legitimate traffic from the proxy's own address keeps working, even at a flood's rate
  for (let i = 0; i < 30; i++) assert.equal(statusOf(await udpExchange(sipd.sipPort, options(sipd.sipPort))), 200);

  const ban = sipd.lines().find((l) => l.event === 'flood-ban');
  assert.ok(ban, 'flood-ban logged');
  assert.equal(ban.sourceIp, '127.0.0.2');
  assert.equal(ban.method, 'OPTIONS');
  assert.equal(ban.level, 'warn');
  const top = await sipd.rpc<{ max_hits: number; list: unknown[]; number_of_rows: number }>('pike.top', ['ALL']);
  assert.equal(top.max_hits, 16);
  // an operator lifts the ban by hand
  assert.equal(await sipd.rpc('htable.delete', ['ipban', '127.0.0.2']), 'Ok. Key deleted.');
  assert.equal(statusOf(await udpExchange(sipd.sipPort, options(sipd.sipPort, { from: '127.0.0.2' }), { bindAddress: '127.0.0.2' })), 200);
  await sipd.rpc('htable.seti', ['ipban', '127.0.0.2', 1]);
});

test('SIGHUP reloads config-derived tables (htables, scanner list) without a restart', async () => {
  const cfg = JSON.parse(readFileSync(sipd.configFile, 'utf8')) as Record<string, unknown>;
  cfg.htables = { MessageCount: { autoexpire: 60 } };
  cfg.modules = { scanner: { user_agents: ['probe-agent'] } };
  writeFileSync(sipd.configFile, JSON.stringify(cfg));
  sipd.child.kill('SIGHUP');
  const deadline = Date.now() + 5000;
  while (!sipd.lines().some((l) => l.msg === 'configuration reloaded')) {
    assert.ok(Date.now() < deadline, `no reload logged:\n${sipd.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual((await sipd.rpc<Array<{ name: string }>>('htable.listTables')).map((t) => t.name), ['ipban', 'userban', 'MessageCount']);
  assert.equal(await udpExchange(sipd.sipPort, options(sipd.sipPort, { userAgent: 'probe-agent 1.0' }), { timeoutMs: 500 }), undefined, 'new scanner list in force');
  assert.equal(sipd.lines().filter((l) => l.event === 'scanner-dropped').length, 1);
  assert.ok((await sipd.rpc<{ item: unknown }>('htable.get', ['ipban', '127.0.0.2'])).item, 'contents kept');
});

test('SIGTERM: stops taking requests, saves state, exits 0', async () => {
  const r = await sipd.stop('SIGTERM');
  assert.deepEqual(r, { code: 0, signal: null }, sipd.output());
  const state = JSON.parse(readFileSync(join(sipd.stateDir, 'htable.state.json'), 'utf8')) as { data: { tables: Record<string, Array<[string, string, number, number]>> } };
  assert.deepEqual(state.data.tables.ipban.map((e) => e.slice(0, 3)), [['127.0.0.2', 'int', 1]]);
  assert.ok(!existsSync(join(sipd.stateDir, 'sipd.pid')), 'pid file removed');
  assert.ok(!existsSync(join(sipd.stateDir, 'sipd.runtime.json')), 'runtime file removed');
  assert.ok(!existsSync(sipd.unixPath), 'unix socket removed');
  assert.ok(sipd.lines().some((l) => l.msg === 'sipd stopped'));
  assert.equal(await udpExchange(sipd.sipPort, options(sipd.sipPort), { timeoutMs: 300 }), undefined);
});

test('SIGKILL and restart: the ban survives with its expiry (periodic atomic save)', async () => {
  const a = await startSipd({ dbUrl });
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address: '127.0.0.3', port: 0 }, () => r()));
  for (let i = 0; i < 40; i++) sock.send(options(a.sipPort, { from: '127.0.0.3' }), a.sipPort, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 300));
  sock.close();
  const before = (await a.rpc<{ item: { expire: string; value: number } }>('htable.get', ['ipban', '127.0.0.3'])).item;
  // wait for the periodic save (stateSaveIntervalSec 1 in the test config)
  const stateFile = join(a.stateDir, 'htable.state.json');
  const deadline = Date.now() + 5000;
  while (!(existsSync(stateFile) && readFileSync(stateFile, 'utf8').includes('127.0.0.3'))) {
    assert.ok(Date.now() < deadline, 'state not saved periodically');
    await new Promise((r) => setTimeout(r, 50));
  }
  const killed = await a.stop('SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');
  assert.ok(existsSync(join(a.stateDir, 'sipd.pid')), 'a crash leaves a stale pid file behind');

  const b = await startSipd({ dbUrl, stateDir: a.stateDir, sipPort: a.sipPort });
  try {
    const after = (await b.rpc<{ item: { expire: string; value: number } }>('htable.get', ['ipban', '127.0.0.3'])).item;
    assert.deepEqual(after, before, 'same value and the same expiry time, not a fresh 300 s');
    assert.equal(await udpExchange(b.sipPort, options(b.sipPort, { from: '127.0.0.3' }), { bindAddress: '127.0.0.3', timeoutMs: 500 }), undefined, 'still banned after the restart');
    assert.equal(statusOf(await udpExchange(b.sipPort, options(b.sipPort))), 200);
    assert.ok(b.lines().some((l) => l.msg === 'htable state restored' && Number(l.entries) >= 1));
  } finally {
    assert.equal((await b.stop()).code, 0);
  }
});

test('start-up refusals: a second sipd on the same state dir, a bad config, a taken port', async () => {
  const a = await startSipd({ dbUrl });
  const run = (args: string[]) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(process.execPath, [SIPD, ...args], { env: { PATH: process.env.PATH, HOME: a.stateDir, SIPCTL_DB: dbUrl }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (out += d));
      c.on('exit', (code) => resolve({ code, out }));
    });
  try {
    const second = await run(['--state-dir', a.stateDir, '--listen', `udp:127.0.0.1:${await freeSipPort()}`, '--rpc-listen', 'http://127.0.0.1:0/RPC', '--log-format', 'text']);
    assert.equal(second.code, 4, second.out);
    assert.match(second.out, /another sipd \(pid \d+\) uses state directory/);
    const dir = mkdtempSync(join(tmpdir(), 'sipd-bad-'));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ listen: ['udp:localhost:5060'] }));
    const bad = await run(['--config', join(dir, 'bad.json'), '--state-dir', dir]);
    assert.equal(bad.code, 10, bad.out);
    assert.match(bad.out, /expected udp:IP:PORT/);
    const taken = await run(['--state-dir', dir, '--listen', `udp:127.0.0.1:${a.sipPort}`, '--rpc-listen', 'http://127.0.0.1:0/RPC', '--log-format', 'text']);
    assert.equal(taken.code, 5, taken.out);
    assert.match(taken.out, /EADDRINUSE/);
    assert.ok(!existsSync(join(dir, 'sipd.pid')), 'a failed start leaves no pid file');
    const usage = await run(['--bogus']);
    assert.equal(usage.code, 2);
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /stateSaveIntervalSec/);
  } finally {
    await a.stop();
  }
});
