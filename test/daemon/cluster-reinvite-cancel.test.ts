// A re-INVITE that reaches a node which does not own the call (issue 14): two sipd nodes on
// 127.0.0.1 (A) and 127.0.0.2 (B) over one private Redis (cluster-fixture.ts). The call is set up
// through A (A owns it); the caller sends a re-INVITE to B, which looks the owner up in Redis and
// relays it there, and CANCELs it through B while B is still waiting for Redis (held by CLIENT
// PAUSE). B answered the CANCEL 200 at once, so the re-INVITE must end there with 487 and never
// reach the callee (before: B relayed it to A once Redis answered, the callee answered it 200 and
// the caller, whose CANCEL had been accepted, got the 200 of a re-INVITE it had cancelled).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { clusterFixture, digestNodeConfig } from './cluster-fixture.js';
import { Ua, inDialogRequest, type Addr } from './dialog-ua.js';
import { redisCommand } from './raw-sip.js';
import { cseqOf, header } from './sip-message.js';

const SECRET = randomBytes(24).toString('hex');

describe('a re-INVITE CANCELled at a node that does not own the call (sipd --cluster)', () => {
  const fx = clusterFixture({
    name: 'sipd-reinvite-cancel-',
    users: ['alice', 'bob'],
    // Redis is held for 1.5 s below: longer than that before a command counts as failed
    config: digestNodeConfig(SECRET, { cluster: { timeout_ms: 5000 } }),
    // a failed test must not leave Redis paused for the nodes' shutdown
    beforeStop: async (f) => void (await redisCommand(f.redis.port, 'CLIENT UNPAUSE').catch(() => undefined)),
  });

  test('CANCEL while B looks the owner up → 200 for the CANCEL, 487 for the re-INVITE, which never reaches the callee', async () => {
    const A: Addr = { host: '127.0.0.1', port: fx.nodes[0]!.sipPort };
    const B: Addr = { host: '127.0.0.2', port: fx.nodes[1]!.sipPort };
    const alice = new Ua('127.0.0.31', 'alice');
    const bob = new Ua('127.0.0.32', 'bob');
    const raw = dgram.createSocket('udp4');
    try {
      await alice.open();
      await bob.open();
      assert.equal(await alice.register(A), 200);
      const leg = await bob.call(A, 'alice');
      await alice.wait('ACK', (m) => m.method === 'ACK' && header(m.text, 'Call-ID') === leg.callId);

      // bob's re-INVITE and its CANCEL, from bob's address (only the INVITE's sender may cancel it)
      await new Promise<void>((r) => raw.bind({ address: '127.0.0.32', port: 0 }, () => r()));
      const got: string[] = [];
      raw.on('message', (d) => void got.push(d.toString('utf8')));
      const cseq = leg.cseq + 1;
      const via = `SIP/2.0/UDP 127.0.0.32:${raw.address().port};branch=z9hG4bK-${randomBytes(6).toString('hex')};rport`;
      // CANCEL: the same Request-URI, Via, Route, From, To, Call-ID and CSeq number (RFC 3261 §9.1)
      const request = (method: 'INVITE' | 'CANCEL' | 'ACK') =>
        inDialogRequest(method, leg, cseq, `Via: ${via}`, method === 'INVITE' ? [`Contact: ${bob.contact}`] : []);
      const send = (text: string) => raw.send(text, B.port, B.host);
      const reply = async (what: string, match: (t: string) => boolean, ms: number) => {
        const end = Date.now() + ms;
        for (;;) {
          const r = got.find(match);
          if (r !== undefined) return r;
          assert.ok(Date.now() < end, `no ${what} within ${ms} ms; got:\n${got.join('\n---\n')}`);
          await new Promise((res) => setTimeout(res, 20));
        }
      };
      const final = (method: string) => (t: string) => /^SIP\/2\.0 [2-6]\d\d /.test(t) && cseqOf(t) === `${cseq} ${method}`;

      assert.equal(await redisCommand(fx.redis.port, 'CLIENT PAUSE 1500 ALL'), '+OK');
      send(request('INVITE'));
      await new Promise((r) => setTimeout(r, 200));
      send(request('CANCEL'));
      const cancelled = await reply('final response to the CANCEL', final('CANCEL'), 1000);
      assert.match(cancelled, /^SIP\/2\.0 200 /, 'the CANCEL is answered while B still waits for Redis');
      const answer = await reply('final response to the re-INVITE', final('INVITE'), 8000);
      send(request('ACK'));
      assert.match(answer, /^SIP\/2\.0 487 /, `the cancelled re-INVITE ends with 487:\n${answer}`);
      // whatever B had relayed would have reached alice by now
      await new Promise((r) => setTimeout(r, 1000));
      const reinvites = alice.messages.filter((m) => m.method === 'INVITE' && header(m.text, 'Call-ID') === leg.callId && cseqOf(m.text) === `${cseq} INVITE`);
      assert.equal(reinvites.length, 0, 'the cancelled re-INVITE never reached the callee');
    } finally {
      raw.close();
      alice.close();
      bob.close();
    }
  });
});
