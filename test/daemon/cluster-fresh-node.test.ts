// A node that has received nothing over SIP since it started still sends requests of its own from
// its listen sockets (the proxy has them from the kernel, CoreApi.sipSockets; before, it learnt a
// UDP socket only from a datagram arriving on it, and such a node could send nothing: 503 inside,
// no BYE on the wire). Two sipd nodes (bin/sipd.js, built) over a private Redis and one MariaDB
// (cluster-fixture.ts): A on 127.0.0.1, B on 127.0.0.2. A call is set up through A, A is killed
// with SIGKILL, and `dialog.endCall` over RPC is the first thing B does on SIP: B takes the call
// over and both parties get a BYE from B's SIP port.
// Under Node.js >= 22.12 also a fresh `sipd --workers 2` on 127.0.0.3 (a third cluster member):
// worker 0 takes the call over the same way; the BYEs leave from the shared port and their Via
// names the worker's private port (5717d8c).
// The UAs are dialog-ua.ts' (they keep every message with its source).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRpcClient } from '../../src/core/rpc/client.js';
import { supportsReusePort } from '../../src/daemon/workers.js';
import { until } from '../helpers/until.js';
import { clusterFixture, REALM } from './cluster-fixture.js';
import { Ua, type Addr, type Leg } from './dialog-ua.js';
import { header, headers } from './sip-message.js';
import { SIPD, freeSipPort, startSipd } from './sipd-process.js';

const SECRET = randomBytes(24).toString('hex');

describe('a sipd node that has received nothing since it started sends requests of its own (sipd --cluster)', () => {
  let redisUrl = '';
  const modules = {
    scanner: { user_agents: ['friendly-scanner', 'sipvicious', 'sipcli'] },
    'auth-db': { realm: REALM, secret: SECRET },
  };
  const nodeConfig = (ip: string, port: number, id: string) => ({
    listen: [`udp:${ip}:${port}`, `tcp:${ip}:${port}`],
    cluster: { url: redisUrl, node_id: id, timeout_ms: 2000, dialog_ttl_sec: 60 },
    modules,
  });
  const fx = clusterFixture({
    name: 'sipd-fresh-node-',
    users: ['alice', 'bob', 'carol', 'dave'],
    config: (n) => {
      redisUrl = n.redisUrl;
      return nodeConfig(n.ip, n.port, n.id);
    },
  });
  const a = () => fx.nodes[0]!;
  const b = () => fx.nodes[1]!;
  const A = (): Addr => ({ host: '127.0.0.1', port: a().sipPort });
  const uas: Ua[] = [];
  after(() => {
    for (const u of uas) u.close();
  });

  async function ua(ip: string, user: string): Promise<Ua> {
    const u = new Ua(ip, user);
    uas.push(u);
    await u.open();
    return u;
  }

  /** callee registered through A, called by the caller through A: the call is up on A */
  async function callThroughA(callee: Ua, caller: Ua): Promise<Leg> {
    assert.equal(await callee.register(A()), 200, `${callee.user} registers through A`);
    const leg = await caller.call(A(), callee.user);
    await callee.wait('ACK', (m) => m.method === 'ACK' && header(m.text, 'Call-ID') === leg.callId);
    return leg;
  }

  const aliveOn = async (rpc: <T>(m: string) => Promise<T>, node: string) => (await rpc<{ nodes: Array<{ node: string; alive: boolean }> }>('cluster.nodes')).nodes.find((n) => n.node === node)?.alive;

  test('B has received no SIP since it started; A dies; dialog.endCall through B → B takes the call over and sends the BYE to both sides from its SIP port', async () => {
    const received = async () => {
      const lines = await b().rpc<string[]>('stats.get_statistics', ['core:']);
      return lines.filter((l) => /^core:rcv_(requests|replies) = /.test(l)).map((l) => Number(l.split(' = ')[1]));
    };
    assert.deepEqual(await received(), [0, 0], 'B has received no request and no response');
    const alice = await ua('127.0.0.90', 'alice');
    const bob = await ua('127.0.0.91', 'bob');
    const leg = await callThroughA(alice, bob);
    assert.equal((await a().stop('SIGKILL')).signal, 'SIGKILL');
    await until('B sees A dead', async () => (await aliveOn(b().rpc, 'node-a')) === false, 15_000);
    assert.deepEqual(await received(), [0, 0], 'still nothing received by B');
    const r = await b().rpc<{ ended: number; node: string }>('dialog.endCall', [leg.callId]);
    assert.deepEqual({ ended: r.ended, node: r.node }, { ended: 1, node: 'node-b' });
    for (const u of [alice, bob]) {
      const bye = await u.wait('BYE', (m) => m.method === 'BYE' && header(m.text, 'Call-ID') === leg.callId);
      assert.deepEqual(bye.from, { address: '127.0.0.2', port: b().sipPort }, `${u.user}'s BYE came from B's SIP port`);
      assert.match(headers(bye.text, 'Via')[0] ?? '', new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.2:${b().sipPort};`), 'its Via names B');
    }
    // both 200s reached B: the BYE transactions end, and so does the call
    await until('B answered by both sides', async () => (await b().rpc<Array<{ 'call-id': string }>>('dlg.list')).every((d) => d['call-id'] !== leg.callId));
  });

  if (supportsReusePort()) test('a fresh sipd --workers 2 (Node.js >= 22.12): worker 0 takes a dead node\'s call over on dialog.endCall and sends the BYEs from the shared port, its private port in Via', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipd-fresh-workers-'));
    let w: ChildProcess | undefined;
    let out = '';
    try {
      // A again (the test above killed it); the fixture stops what fx.nodes holds
      if (a().child.exitCode !== null || a().child.signalCode !== null) {
        fx.nodes[0] = await startSipd({ dbUrl: fx.tdb.fullUrl, sipPort: a().sipPort, config: nodeConfig('127.0.0.1', a().sipPort, 'node-a') });
      }
      const port = await freeSipPort();
      const rpcPort = await freeSipPort();
      const cfg = join(dir, 'sipd.json');
      writeFileSync(cfg, JSON.stringify({
        listen: [`udp:127.0.0.3:${port}`, `tcp:127.0.0.3:${port}`],
        rpcListen: [`http://127.0.0.1:${rpcPort}/RPC`],
        cluster: { url: redisUrl, node_id: 'w', timeout_ms: 2000, dialog_ttl_sec: 60 },
        workers: 2,
        modules,
      }));
      w = spawn(process.execPath, [SIPD, '--config', cfg, '--state-dir', join(dir, 'state'), '--log-format', 'json'], {
        env: { PATH: process.env.PATH, HOME: dir, SIPCTL_DB: fx.tdb.fullUrl, LANG: 'C.UTF-8' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      w.stdout!.on('data', (d) => (out += d));
      w.stderr!.on('data', (d) => (out += d));
      const child = w;
      process.once('exit', () => child.kill('SIGKILL'));
      const rpc = async <T>(method: string, params?: unknown[]): Promise<T> => {
        const c = createRpcClient(`http://127.0.0.1:${rpcPort}/RPC`, { timeoutMs: 5000 });
        try {
          return await c.call<T>(method, params);
        } finally {
          await c.close();
        }
      };
      await until('both workers and node-a alive', async () => {
        assert.equal(child.exitCode, null, `sipd --workers exited:\n${out.slice(-3000)}`);
        const n = await rpc<{ nodes: Array<{ node: string; alive: boolean }> }>('cluster.nodes').catch(() => undefined);
        const alive = new Set(n?.nodes.filter((x) => x.alive).map((x) => x.node));
        return alive.has('w#0') && alive.has('w#1') && alive.has('node-a');
      }, 30_000);
      const carol = await ua('127.0.0.92', 'carol');
      const dave = await ua('127.0.0.93', 'dave');
      const leg = await callThroughA(carol, dave);
      assert.equal((await a().stop('SIGKILL')).signal, 'SIGKILL');
      await until('worker 0 sees A dead', async () => (await aliveOn(rpc, 'node-a')) === false, 15_000);
      const r = await rpc<{ ended: number; node: string }>('dialog.endCall', [leg.callId]);
      assert.deepEqual({ ended: r.ended, node: r.node }, { ended: 1, node: 'w#0' });
      for (const u of [carol, dave]) {
        const bye = await u.wait('BYE', (m) => m.method === 'BYE' && header(m.text, 'Call-ID') === leg.callId);
        assert.deepEqual(bye.from, { address: '127.0.0.3', port }, `${u.user}'s BYE came from the shared port`);
        const via = /^SIP\/2\.0\/UDP 127\.0\.0\.3:(\d+);/.exec(headers(bye.text, 'Via')[0] ?? '');
        assert.ok(via !== null && Number(via[1]) !== port, `its Via names the worker's private port: ${headers(bye.text, 'Via')[0]}`);
      }
      await until('worker 0 answered by both sides', async () => (await rpc<Array<{ 'call-id': string }>>('dlg.list')).every((d) => d['call-id'] !== leg.callId));
    } finally {
      if (w !== undefined && w.exitCode === null && w.signalCode === null) {
        const gone = new Promise((r) => w!.once('exit', r));
        w.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
