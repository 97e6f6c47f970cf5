// Pike in a sipd cluster (issue 14): the INVITE, ACK and BYE of every call one node hands another
// come from the handing node's address, so pike (16 requests per 2 s from one source, the
// default) would ban a node after ~5 handed-off calls in 2 s — and a ban is shared by every
// node. Two sipd nodes (bin/sipd.js, built) on 127.0.0.1 and 127.0.0.2, one private Redis
// (test/helpers/redis.ts), one MariaDB; no address group, no pike.trusted_groups:
//   - sipp makes calls through B to a user registered through A (sipp UAS) at 6 calls/s: every
//     call connects, no node is banned anywhere, A's pike counted none of B's authenticated
//     requests;
//   - unsigned requests from B's address (another port: a forged source) are counted, dropped
//     over the limit, and never banned; a ban of a member's address over RPC is refused;
//   - a flood from 127.0.0.9 is still banned, on both nodes.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { until } from '../helpers/until.js';
import { register, scenario, sipp, type SippRun } from './calls-support.js';
import { clusterFixture, membershipRead, PASSWORD, REALM } from './cluster-fixture.js';
import { freeSipPort, options, udpExchange, udpListening, type SipdProcess } from './sipd-process.js';

const SECRET = randomBytes(24).toString('hex');
const CALLS = 30;
const CALLERS = 6;

interface PikeStats {
  bans: number;
  member_exempt: number;
  member_drops: number;
}

describe('pike in a sipd cluster: calls handed between nodes never get a node banned; strangers still are', () => {
  const fx = clusterFixture({
    name: 'sipd-cluster-pike-',
    users: ['alice', 'bob'],
    tools: ['sipp'],
    config: ({ ip, port, id, redisUrl }) => ({
      listen: [`udp:${ip}:${port}`, `tcp:${ip}:${port}`],
      // no Redis outage here: a slow reply on a loaded machine must not mark the cluster down
      cluster: { url: redisUrl, node_id: id, timeout_ms: 2000 },
      modules: {
        scanner: { user_agents: ['friendly-scanner', 'sipvicious', 'sipcli'] },
        'auth-db': { realm: REALM, secret: SECRET },
      },
    }),
  });
  let a: SipdProcess;
  let b: SipdProcess;

  const bans = async (n: SipdProcess) => JSON.stringify(await n.rpc('htable.dump', ['ipban']));

  before(async () => {
    [a, b] = fx.nodes as [SipdProcess, SipdProcess];
    // Each node learns the other's addresses from its heartbeats (every 2 s): the fixture saw
    // both alive in Redis; now each node has read the membership itself since then.
    await Promise.all([a, b].map(membershipRead));
  });

  test(`${CALLS} calls at ${CALLERS}/s (from ${CALLERS} callers) through B to alice, registered through A: all connect, no node banned, B's requests not counted by A's pike`, async () => {
    const alicePort = await freeSipPort();
    const reg: SippRun = await register({ proxyPort: a.sipPort, user: 'alice', password: PASSWORD, localIp: '127.0.0.50', localPort: alicePort });
    assert.equal(reg.code, 0, `alice registers through A: ${reg.output.slice(-1500)}`);
    const uas = sipp({ scenario: scenario('callee.xml'), localIp: '127.0.0.50', localPort: alicePort, calls: CALLS, timeoutMs: 40_000 });
    await udpListening('127.0.0.50', alicePort);
    // Six callers on their own addresses, one call a second each: every caller stays under B's
    // pike limit (5 requests a call: INVITE, ACK of the 407, INVITE with credentials, ACK, BYE),
    // while B hands A 3 requests a call from its one address: 18 a second, over A's 16 per 2 s.
    const callers = [];
    for (let i = 0; i < CALLERS; i++) {
      callers.push(sipp({
        scenario: scenario('caller.xml', { USER: 'bob', HOLD: 200 }),
        remote: `127.0.0.2:${b.sipPort}`,
        localIp: `127.0.0.${51 + i}`,
        localPort: await freeSipPort(),
        service: 'alice',
        user: 'bob',
        password: PASSWORD,
        calls: CALLS / CALLERS,
        rate: 1,
        timeoutMs: 40_000,
      }));
    }
    const [u, ...cs] = await Promise.all([uas.done, ...callers.map((c) => c.done)]);
    for (const [i, c] of cs.entries()) {
      assert.equal(c.timedOut, false, `caller ${i} timed out\n${c.output.slice(-2000)}`);
      assert.equal(c.successful, CALLS / CALLERS, `every call of caller ${i} connects (failed: ${c.failed})\n${c.output.slice(-2000)}`);
    }
    assert.equal(u.successful, CALLS, `alice answered every call\n${u.output.slice(-1500)}`);
    for (const n of [a, b]) {
      const dump = await bans(n);
      assert.ok(!dump.includes('127.0.0.2') && !dump.includes('127.0.0.1'), `no node's address banned: ${dump}`);
    }
    const sa = await a.rpc<PikeStats>('pike.stats');
    assert.equal(sa.bans, 0);
    assert.equal(sa.member_drops, 0);
    // INVITE, ACK and BYE of every call came from B: far more than pike's 16 per 2 s
    assert.ok(sa.member_exempt >= 3 * CALLS, `A did not count B's authenticated requests: ${JSON.stringify(sa)}`);
  });

  test('unsigned requests from B\'s address (a forged source) are counted and dropped over the limit, never banned; a ban of a member\'s address over RPC is refused', async () => {
    // INVITEs with no hand-off, not for a dialog: nothing proves them a node's
    const invite = (i: number) => [
      `INVITE sip:alice@127.0.0.1:${a.sipPort} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.2:5999;branch=z9hG4bK-forged${i}-${randomBytes(4).toString('hex')};rport`,
      `From: <sip:mallory@${REALM}>;tag=m${i}`,
      `To: <sip:alice@${REALM}>`,
      `Call-ID: forged-${i}-${randomBytes(4).toString('hex')}`,
      'CSeq: 1 INVITE',
      'Contact: <sip:mallory@127.0.0.2:5999>',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const before = await a.rpc<PikeStats>('pike.stats');
    for (let i = 0; i < 40; i++) await udpExchange(a.sipPort, invite(i), { bindAddress: '127.0.0.2', timeoutMs: 20 });
    const after = await a.rpc<PikeStats>('pike.stats');
    assert.ok(after.member_drops > before.member_drops, `the flood from a member's address was dropped over the limit: ${JSON.stringify(after)}`);
    assert.equal(after.bans, before.bans, 'and not banned');
    assert.ok(!(await bans(a)).includes('127.0.0.2'));
    assert.ok(a.lines().some((l) => String(l.msg ?? l.message ?? '').includes('no node signed')), 'A logged the drop');

    await assert.rejects(a.rpc('htable.seti', ['ipban', '127.0.0.2', 1]), /Key refused: a live cluster member/);
    assert.ok(!(await bans(a)).includes('127.0.0.2'));
    assert.ok(a.lines().some((l) => String(l.msg ?? l.message ?? '').includes('ipban entry refused')), 'A logged the refusal');
  });

  test('a flood from 127.0.0.9 is still banned, on A and (replicated) on B', async () => {
    for (let i = 0; i < 40; i++) await udpExchange(a.sipPort, options(a.sipPort, { from: '127.0.0.9' }), { bindAddress: '127.0.0.9', timeoutMs: 20 });
    assert.ok((await bans(a)).includes('127.0.0.9'), 'A banned the flooder');
    await until('B has the ban', async () => (await bans(b)).includes('127.0.0.9'), 5000);
    assert.equal(await udpExchange(b.sipPort, options(b.sipPort, { host: '127.0.0.2', from: '127.0.0.9' }), { host: '127.0.0.2', bindAddress: '127.0.0.9', timeoutMs: 800 }), undefined, 'B drops it');
  });
});
