import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_KEYS, clampedSettings, defaultConfig, loadSipdConfig, resolveDb } from '../../../src/daemon/config/sipd-config.js';
import { htableDefinitions } from '../../../src/daemon/kernel/daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'sipd-config-'));
const env = { HOME: dir, XDG_CONFIG_HOME: join(dir, '.config'), XDG_DATA_HOME: join(dir, 'data') } as NodeJS.ProcessEnv;
function file(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

test('defaults: loopback only, HTTP RPC on 5071 and a unix socket in the state dir', () => {
  const { config } = loadSipdConfig({}, env, dir);
  assert.deepEqual(config.listen, ['udp:127.0.0.1:5060', 'tcp:127.0.0.1:5060']);
  assert.equal(config.stateDir, join(dir, '.local', 'state', 'sipd'));
  assert.deepEqual(config.rpcListen, ['http://127.0.0.1:5071/RPC', `unix:${join(dir, '.local', 'state', 'sipd', 'sipd.sock')}`]);
  assert.equal(config.logFormat, 'auto');
  assert.equal(config.stateSaveIntervalSec, 5);
  assert.deepEqual(config.disableModules, []);
  assert.deepEqual(htableDefinitions(config).map((d) => [d.name, d.autoexpire, d.initval]), [['ipban', 300, undefined], ['userban', 900, 0]]);
  // every key of the config type is documented
  const documented = new Set(CONFIG_KEYS.map((k) => k.key.split('.')[0]));
  for (const k of Object.keys(defaultConfig(env))) assert.ok(documented.has(k), `${k} documented`);
});

test('file over defaults, flags over the file; the default socket follows --state-dir', () => {
  const p = file('a.json', {
    listen: ['udp:[::1]:5070'],
    domain: ['sip.example.com'],
    tcp: { maxConnectionsPerSource: 4 },
    htables: { ipban: { autoexpire: 60 }, MessageCount: {} },
    modules: { scanner: { user_agents: ['friendly-scanner', 'sipvicious'], action: 'reply' }, pike: { reqs_density_per_unit: 8 } },
  });
  const { config, file: used } = loadSipdConfig({ config: p, listen: ['udp:127.0.0.1:5999'], stateDir: 'st' }, env, dir);
  assert.equal(used, p);
  assert.deepEqual(config.listen, ['udp:127.0.0.1:5999']);
  assert.deepEqual(config.domain, ['sip.example.com']);
  assert.equal(config.tcp.maxConnectionsPerSource, 4);
  assert.equal(config.tcp.maxConnections, 2048);
  assert.equal(config.stateDir, join(dir, 'st'));
  assert.equal(config.rpcListen[1], `unix:${join(dir, 'st', 'sipd.sock')}`);
  assert.deepEqual(config.modules.scanner, { user_agents: 'friendly-scanner,sipvicious', action: 'reply' });
  assert.deepEqual(htableDefinitions(config).map((d) => [d.name, d.autoexpire]), [['ipban', 60], ['userban', 900], ['MessageCount', 0]]);
  // an explicit rpcListen in the file is kept even when --state-dir moves
  const q = file('b.json', { rpcListen: ['http://127.0.0.1:6000/RPC'] });
  assert.deepEqual(loadSipdConfig({ config: q, stateDir: 'x' }, env, dir).config.rpcListen, ['http://127.0.0.1:6000/RPC']);
  assert.deepEqual(loadSipdConfig({ config: q, rpcListen: ['unix:/tmp/a.sock'] }, env, dir).config.rpcListen, ['unix:/tmp/a.sock']);
  // SIPD_CONFIG / SIPD_STATE_DIR
  assert.equal(loadSipdConfig({}, { ...env, SIPD_CONFIG: q, SIPD_STATE_DIR: '/tmp/sd' }, dir).config.stateDir, '/tmp/sd');
});

test('strict: unknown keys, wrong types, out of range, YAML, bad JSON', () => {
  const bad = (content: unknown, re: RegExp) => assert.throws(() => loadSipdConfig({ config: file('bad.json', content) }, env, dir), re);
  bad({ listen: [] }, /listen must list at least one address/);
  bad({ lisen: ['udp:127.0.0.1:5060'] }, /unknown key "lisen"/);
  bad({ tcp: { idleTimeout: 5 } }, /unknown key "tcp.idleTimeout"/);
  bad({ tcp: { idleTimeoutSec: 0 } }, /tcp.idleTimeoutSec must be an integer/);
  bad({ listen: 'udp:127.0.0.1:5060', logLevel: 'loud' }, /logLevel must be one of/);
  bad({ listen: [5060] }, /listen must be a list of strings/);
  bad({ domain: ['bad domain'] }, /not a host name/);
  bad({ modules: { pike: { x: { y: 1 } } } }, /modules.pike.x/);
  bad({ htables: { ipban: 300 } }, /htables must be an object/);
  bad('{ not json', /not valid JSON/);
  bad('[1,2]', /must hold a JSON object/);
  assert.throws(() => loadSipdConfig({ config: file('c.yaml', 'listen: []') }, env, dir), /YAML/);
  assert.throws(() => loadSipdConfig({ config: join(dir, 'missing.json') }, env, dir), /cannot read config file/);
  assert.throws(() => loadSipdConfig({ logFormat: 'xml' }, env, dir), /command line: logFormat/);
  assert.throws(() => htableDefinitions({ ...defaultConfig(env), htables: { 'bad name': {} } }), /htables: htable name/);
});

test('limits: the kernel bounds (reply cache, requests in flight, security log, heap growth) default, are configurable, are range-checked; clamped per-source caps are reported', () => {
  const d = defaultConfig(env);
  assert.deepEqual(d.limits, { replyCacheEntries: 32_768, requestsInFlight: 1024, securityLogSources: 10_000, heapGrowthPercent: 25, heapOptimizeForSize: true });
  const c = loadSipdConfig({ config: file('limits.json', { limits: { replyCacheEntries: 4096, securityLogSources: 64, heapGrowthPercent: 0, heapOptimizeForSize: false } }) }, env, dir).config;
  assert.deepEqual(c.limits, { replyCacheEntries: 4096, requestsInFlight: 1024, securityLogSources: 64, heapGrowthPercent: 0, heapOptimizeForSize: false });
  assert.deepEqual(loadSipdConfig({ config: file('limits2.json', { limits: { requestsInFlight: 8 } }) }, env, dir).config.limits, { ...d.limits, requestsInFlight: 8 }, 'keys not given keep their defaults');
  assert.throws(() => loadSipdConfig({ config: file('l6.json', { limits: { heapOptimizeForSize: 'yes' } }) }, env, dir), /limits.heapOptimizeForSize must be true or false/);
  assert.throws(() => loadSipdConfig({ config: file('l7.json', { limits: 5 }) }, env, dir), /limits must be an object/);
  assert.throws(() => loadSipdConfig({ config: file('l4.json', { limits: { heapGrowthPercent: 401 } }) }, env, dir), /limits.heapGrowthPercent must be an integer 0–400/);
  assert.throws(() => loadSipdConfig({ config: file('l5.json', { limits: { heapGrowthPercent: 12.5 } }) }, env, dir), /limits.heapGrowthPercent must be an integer/);
  assert.throws(() => loadSipdConfig({ config: file('l1.json', { limits: { replyCacheEntries: 10 } }) }, env, dir), /limits.replyCacheEntries must be an integer 1024–10000000/);
  assert.throws(() => loadSipdConfig({ config: file('l2.json', { limits: { requestsInFlight: 0 } }) }, env, dir), /limits.requestsInFlight must be an integer/);
  assert.throws(() => loadSipdConfig({ config: file('l3.json', { limits: { nonces: 5 } }) }, env, dir), /unknown key "limits.nonces"/);
  for (const k of ['limits.replyCacheEntries', 'limits.requestsInFlight', 'limits.securityLogSources', 'limits.heapGrowthPercent', 'limits.heapOptimizeForSize']) assert.ok(CONFIG_KEYS.some((x) => x.key === k), `${k} documented`);
  assert.equal(d.sip.udpReceiveBuffer, 4_194_304, 'UDP receive buffer: 4 MiB');
  assert.equal(loadSipdConfig({ config: file('rb.json', { sip: { udpReceiveBuffer: 1_048_576 } }) }, env, dir).config.sip.udpReceiveBuffer, 1_048_576);
  assert.throws(() => loadSipdConfig({ config: file('rb2.json', { sip: { udpReceiveBuffer: 1024 } }) }, env, dir), /sip.udpReceiveBuffer must be an integer 65536–67108864/);
  assert.deepEqual(clampedSettings(d), [], 'the defaults clamp nothing');
  const clamped = loadSipdConfig({ config: file('clamp.json', { tcp: { maxConnections: 10, maxConnectionsPerSource: 6 }, rpc: { maxConnections: 64, maxConnectionsPerSource: 40 } }) }, env, dir).config;
  assert.deepEqual(clampedSettings(clamped), [
    'tcp.maxConnectionsPerSource 6 is more than half of tcp.maxConnections (10); 5 is applied',
    'rpc.maxConnectionsPerSource 40 is more than half of rpc.maxConnections (64); 32 is applied',
  ]);
});

test('database URL: --db, then SIPCTL_DB, then sipd\'s file, then sipctl\'s configuration', () => {
  const cfg = { ...defaultConfig(env), db: 'sqlite:///from/sipd.db' };
  assert.equal(resolveDb(cfg, 'sqlite:///from/flag.db', env).url, 'sqlite:///from/flag.db');
  assert.equal(resolveDb(cfg, undefined, { ...env, SIPCTL_DB: 'sqlite:///from/env.db', SIPCTL_DB_PASSWORD: 'pw' }).url, 'sqlite:///from/env.db');
  assert.equal(resolveDb(cfg, undefined, { ...env, SIPCTL_DB_PASSWORD: 'pw' }).password, 'pw');
  assert.deepEqual(resolveDb(cfg, undefined, env), { url: 'sqlite:///from/sipd.db', password: undefined, source: 'sipd config file' });
  // no db in sipd's file: sipctl's own config file, then its default
  const sipctlCfg = join(dir, '.config', 'sipctl');
  mkdirSync(sipctlCfg, { recursive: true });
  writeFileSync(join(sipctlCfg, 'config.json'), JSON.stringify({ db: 'sqlite:///from/sipctl.db' }));
  assert.equal(resolveDb(defaultConfig(env), undefined, env).url, 'sqlite:///from/sipctl.db');
  assert.match(resolveDb(defaultConfig({ HOME: '/nonexistent-home' }), undefined, { HOME: '/nonexistent-home' }).url, /^sqlite:\/\/\/nonexistent-home\/\.local\/share\/sipctl\/sipctl\.db$/);
});

test('cluster.address: one IP of this machine (IPv6 in its canonical form); 0.0.0.0, ::, a name or a port refused', () => {
  const address = (a: unknown) => loadSipdConfig({ config: file('addr.json', { cluster: { address: a } }) }, env, dir).config.cluster.address;
  assert.equal(address('192.0.2.11'), '192.0.2.11');
  assert.equal(address('2001:DB8:0:0::7'), '2001:db8::7');
  for (const bad of ['0.0.0.0', '::', '0:0:0:0:0:0:0:0', 'sip.example.com', '192.0.2.11:5060', '', 5060])
    assert.throws(() => address(bad), /cluster\.address must be an IP address of this machine \(not 0\.0\.0\.0 or ::\)/, String(bad));
});

test('cluster.url: redis://, rediss://, or a unix socket by absolute path (unix:///PATH?db=N), which reaches ioredis as path and db', async () => {
  const url = (u: string) => loadSipdConfig({ config: file('cl.json', { cluster: { url: u } }) }, env, dir).config.cluster.url;
  assert.equal(url('redis://127.0.0.1:6379/2'), 'redis://127.0.0.1:6379/2');
  assert.equal(url('unix:///run/redis/redis-server.sock'), 'unix:///run/redis/redis-server.sock');
  assert.equal(url('unix:///run/redis/redis-server.sock?db=3'), 'unix:///run/redis/redis-server.sock?db=3');
  for (const bad of ['unix://run/redis.sock', 'unix:///run/redis.sock?db=x', 'unix:///run/redis.sock?password=x', 'unix:///'])
    assert.throws(() => url(bad), /cluster\.url must be redis:\/\/HOST:PORT\/DB, rediss:\/\/HOST:PORT\/DB or unix:\/\/\/PATH\/redis\.sock\?db=DB/, bad);
  const { redisOptions } = await import('../../../src/daemon/modules/cluster/cluster-module.js');
  const unix = redisOptions('unix:///run/redis/redis-server.sock?db=3', undefined, 500);
  assert.equal(unix.url, undefined);
  assert.deepEqual([unix.options.path, unix.options.db, unix.options.tls], ['/run/redis/redis-server.sock', 3, undefined]);
  assert.equal(redisOptions('unix:///run/redis/redis-server.sock', undefined, 500).options.db, 0);
  const tcp = redisOptions('redis://127.0.0.1:6379/2', undefined, 500);
  assert.equal(tcp.url, 'redis://127.0.0.1:6379/2');
  assert.equal(tcp.options.path, undefined);
});
