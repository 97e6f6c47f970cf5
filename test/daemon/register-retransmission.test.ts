// A retransmitted REGISTER (UDP, RFC 3261 §17.2.2) that arrives while the first copy is still
// being worked on must be absorbed, never refused as a nonce replay (found in the cluster
// benchmark: "replay" security events under load, an error for a valid registration). A real
// sipd --cluster whose registrar waits on a Redis held by CLIENT PAUSE WRITE; a raw UDP client
// sends the same authenticated REGISTER (byte for byte) several times before the first is
// answered, and again after: exactly one final response per copy answered, all 200, no replay
// event, no failed-auth count, no lockout.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { scenario, sipp } from './calls-support.js';
import type { RedisServer } from '../helpers/redis.js';
import { clusterFixture, PASSWORD, REALM } from './cluster-fixture.js';
import { freeSipPort, statusOf, type SipdProcess } from './sipd-process.js';
import { redisCommand } from './raw-sip.js';
import { digestCredentials, header } from './sip-message.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * alice's UDP client for the REGISTER tests: REGISTERs to sipd on one Call-ID (a branch per CSeq)
 * and every reply it gets. `authorization` answers a 401 as a UA builds it: a fresh cnonce each call.
 */
async function registerClient(sipdPort: number, label: string) {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address: '127.0.0.1', port: 0 }, () => r()));
  const replies: string[] = [];
  sock.on('message', (m) => replies.push(m.toString('utf8')));
  const local = sock.address().port;
  const uri = `sip:127.0.0.1:${sipdPort}`;
  const callId = `${randomBytes(8).toString('hex')}@${label}-test`;
  const fromTag = randomBytes(4).toString('hex');
  const finals = () => replies.filter((r) => !/^SIP\/2\.0 1\d\d /.test(r));
  return {
    local,
    replies,
    finals,
    msg: (cseq: number, auth?: string) =>
      [
        `REGISTER ${uri} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-${label}${cseq}-${callId.slice(0, 8)};rport`,
        `From: <sip:alice@${REALM}>;tag=${fromTag}`,
        `To: <sip:alice@${REALM}>`,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} REGISTER`,
        `Contact: <sip:alice@127.0.0.1:${local}>`,
        'Expires: 60',
        'Max-Forwards: 70',
        ...(auth ? [`Authorization: ${auth}`] : []),
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    authorization: (challenge: string) => digestCredentials(header(challenge, 'WWW-Authenticate') ?? '', 'alice', PASSWORD, 'REGISTER', uri),
    send: (data: string) => sock.send(data, sipdPort, '127.0.0.1'),
    waitFor: async (n: number, ms: number) => {
      const end = Date.now() + ms;
      while (finals().length < n && Date.now() < end) await sleep(20);
    },
    close: () => sock.close(),
  };
}

describe('sipd: a retransmitted REGISTER is absorbed while the first copy waits on Redis, never a replay', () => {
  // one node (sipd's default listen: 127.0.0.1)
  const fx = clusterFixture({
    name: 'sipd-retrans-',
    users: ['alice', 'bob'],
    nodes: 1,
    config: ({ redisUrl }) => ({
      cluster: { url: redisUrl, node_id: 'node-r', timeout_ms: 10_000 },
      modules: { 'auth-db': { realm: REALM }, dialog: { max_calls_per_user: 5 } },
    }),
    beforeStop: (f) => redisCommand(f.redis.port, 'CLIENT UNPAUSE').then(() => undefined, () => undefined),
  });
  let redis: RedisServer;
  let sipd: SipdProcess;
  let port: number;
  before(() => {
    [sipd] = fx.nodes as [SipdProcess];
    redis = fx.redis;
    port = sipd.sipPort;
  });

  test('copies at 0, 0.5, 1, 2 s while Redis is paused, and one after: every answer 200, one binding, no replay, no failure counted', async () => {
    const alice = await registerClient(port, 'retrans');
    try {
      const { local, replies, finals, msg, send, waitFor } = alice;
      send(msg(1));
      await waitFor(1, 5000);
      const challenge = replies.shift();
      assert.equal(statusOf(challenge), 401, `challenge: ${challenge}`);
      const register = msg(2, alice.authorization(challenge!));

      // Writes to Redis wait (the registrar's location write) for 2.5 s: the first copy is in flight.
      assert.equal(await redisCommand(redis.port, 'CLIENT PAUSE 2500 WRITE'), '+OK');
      send(register);
      for (const at of [500, 1000, 2000]) {
        await sleep(at === 500 ? 500 : at === 1000 ? 500 : 1000);
        send(register); // the UA's retransmissions (Timer E: 0.5, 1, 2 s), byte for byte
      }
      await waitFor(1, 15_000);
      // once answered, a late retransmission gets the final response again
      send(register);
      await waitFor(2, 5000);
      await sleep(300);
      assert.deepEqual(finals().map(statusOf), [200, 200], `finals:\n${finals().join('\n----\n')}\n${sipd.output().slice(-3000)}`);

      const lines = sipd.lines();
      const replays = lines.filter((l) => JSON.stringify(l).includes('replay') || l.event === 'auth-failed');
      assert.deepEqual(replays, [], 'no replay / auth-failed security event');
      const stats = await sipd.rpc<Record<string, number>>('stats.fetch', ['auth:']);
      const get = (k: string) => Number(stats[k] ?? stats[k.replace(':', '.')] ?? 0);
      assert.equal(get('auth:failures'), 0, `auth stats ${JSON.stringify(stats)}`);
      assert.equal(get('auth:lockouts'), 0);
      const ul = await sipd.rpc<unknown>('ul.dump');
      assert.equal(JSON.stringify(ul).split(`alice@127.0.0.1:${local}`).length - 1, 1, `one binding: ${JSON.stringify(ul).slice(0, 2000)}`);
    } finally {
      alice.close();
    }
  });

  test('a copy re-sent by the UA with fresh cnonce (same branch, Call-ID, CSeq, nonce: sipp answers a retransmitted 401 so) is the same transaction: absorbed while pending, answered 200 after, never a replay', async () => {
    const alice = await registerClient(port, 'rebuilt');
    try {
      const { replies, finals, msg, send, waitFor } = alice;
      send(msg(1));
      await waitFor(1, 5000);
      const challenge = replies.shift();
      assert.equal(statusOf(challenge), 401, `challenge: ${challenge}`);
      // the UA builds the authenticated REGISTER again for each copy: a new cnonce each time
      const build = () => msg(2, alice.authorization(challenge!));
      const before = sipd.lines().length;
      assert.equal(await redisCommand(redis.port, 'CLIENT PAUSE 2000 WRITE'), '+OK');
      send(build());
      await sleep(500);
      send(build()); // while the first is waiting on Redis (Trying): absorbed
      await waitFor(1, 15_000);
      send(build()); // after the 200 (Completed): the 200 again
      await waitFor(2, 5000);
      await sleep(500);
      assert.deepEqual(finals().map(statusOf), [200, 200], `finals:\n${finals().join('\n----\n')}`);
      const events = sipd.lines().slice(before).filter((l) => l.event === 'auth-failed' || JSON.stringify(l).includes('replay'));
      assert.deepEqual(events, [], 'no replay / auth-failed security event');
      const stats = await sipd.rpc<Record<string, string>>('stats.fetch', ['auth:']);
      assert.equal(Number(stats['auth.failures'] ?? 0), 0, JSON.stringify(stats));
    } finally {
      alice.close();
    }
  });

  test('sipp (register.xml, retransmitting every 0.5 s) while Redis writes wait 2.5 s: registered, no replay, no failure', async () => {
    assert.equal(await redisCommand(redis.port, 'CLIENT PAUSE 2500 WRITE'), '+OK');
    const before = sipd.lines().length;
    const r = await sipp({ scenario: scenario('register.xml', { USER: 'alice', EXPIRES: 300 }), remote: `127.0.0.1:${port}`, localPort: await freeSipPort(), user: 'alice', password: PASSWORD, timeoutMs: 20_000, traceMessages: true }).done;
    const trace = `${r.output.slice(-2000)}\n${(r.messages ?? '').slice(-6000)}`;
    assert.equal(r.successful, 1, `sipp: ${trace}`);
    const events = sipd.lines().slice(before).filter((l) => l.event === 'auth-failed' || JSON.stringify(l).includes('replay'));
    assert.deepEqual(events, [], `no replay / auth-failed event\n${trace}`);
    const stats = await sipd.rpc<Record<string, number>>('stats.fetch', ['auth:']);
    assert.equal(Number(stats['auth.failures'] ?? 0), 0, JSON.stringify(stats));
  });

  test('INVITE: a retransmission of the authenticated INVITE while call admission waits on Redis is absorbed, never a replay', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind({ address: '127.0.0.1', port: 0 }, () => r()));
    const got: string[] = [];
    sock.on('message', (m) => got.push(m.toString('latin1')));
    try {
      const local = sock.address().port;
      const ruri = `sip:alice@127.0.0.1:${port}`;
      const callId = `${randomBytes(8).toString('hex')}@retrans-invite`;
      const invite = (cseq: number, extra: string[] = []) => [
        `INVITE ${ruri} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-inv${cseq}-${callId.slice(0, 8)};rport`,
        'Max-Forwards: 70',
        `From: <sip:bob@127.0.0.1>;tag=b${cseq}x`,
        `To: <${ruri}>`,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} INVITE`,
        `Contact: <sip:bob@127.0.0.1:${local}>`,
        ...extra,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      sock.send(invite(1), port, '127.0.0.1');
      const end = Date.now() + 5000;
      while (!got.some((g) => statusOf(g) === 407) && Date.now() < end) await sleep(20);
      const challenge = got.find((g) => statusOf(g) === 407);
      assert.ok(challenge, `407: ${got.join('\n')}`);
      const cred = `Proxy-Authorization: ${digestCredentials(header(challenge, 'Proxy-Authenticate') ?? '', 'bob', PASSWORD, 'INVITE', ruri)}`;
      got.length = 0;
      const before = sipd.lines().length;
      assert.equal(await redisCommand(redis.port, 'CLIENT PAUSE 2500 WRITE'), '+OK');
      const second = invite(2, [cred]);
      sock.send(second, port, '127.0.0.1');
      for (const wait of [500, 500, 1000]) {
        await sleep(wait);
        sock.send(second, port, '127.0.0.1');
      }
      await sleep(3000);
      const stats = await sipd.rpc<Record<string, string>>('stats.fetch', ['auth:']);
      const events = sipd.lines().slice(before).filter((l) => l.event === 'auth-failed' || JSON.stringify(l).includes('replay'));
      const statuses = got.map(statusOf);
      assert.deepEqual(events, [], `no replay / auth-failed event; replies ${JSON.stringify(statuses)}; auth ${JSON.stringify(stats)}`);
      assert.ok(!statuses.includes(407), `no second challenge: ${JSON.stringify(statuses)}\n${got.join('\n----\n').slice(0, 3000)}`);
    } finally {
      sock.close();
    }
  });
});
