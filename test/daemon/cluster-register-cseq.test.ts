// RFC 3261 §10.3 step 7 across the nodes of a sipd cluster (issue 14): a REGISTER whose binding
// (same contact, same Call-ID) another node accepted with a higher CSeq is refused as on one node
// — 400 Invalid CSeq number, nothing registered — instead of being checked against the node's own
// copy only (before: 200, and a second, older binding of the same contact on the other node).
// Two sipd nodes on 127.0.0.1 (A) and 127.0.0.2 (B) over one private Redis (cluster-fixture.ts);
// one UA socket with one Call-ID sends every REGISTER (digest answered each time).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { clusterFixture, digestNodeConfig, PASSWORD, REALM } from './cluster-fixture.js';
import { redisCommand } from './raw-sip.js';
import { header, registerRequest, registerWithDigest, udpFinalReply } from './sip-message.js';
import { statusOf } from './sipd-process.js';

const SECRET = randomBytes(24).toString('hex');

describe('the REGISTER CSeq rule holds over all nodes of a cluster', () => {
  const fx = clusterFixture({
    name: 'sipd-register-cseq-',
    users: ['carol'],
    config: digestNodeConfig(SECRET),
  });

  test('a lower CSeq of one Call-ID through B than A accepted → 400 Invalid CSeq number, nothing registered on B; a higher one → 200', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind({ address: '127.0.0.41', port: 0 }, () => r()));
    const local = sock.address().port;
    const callId = `${randomBytes(8).toString('hex')}@register-cseq`;
    const contact = `<sip:carol@127.0.0.41:${local}>`;
    /** REGISTER through `node` (0: A, 1: B), its first request with CSeq `from` (the 401), the authenticated one `from + 1` */
    const register = async (node: 0 | 1, from: number): Promise<string | undefined> => {
      const n = fx.nodes[node]!;
      const host = node === 0 ? '127.0.0.1' : '127.0.0.2';
      const uri = `sip:${host}:${n.sipPort}`;
      let cseq = from;
      const request = (auth?: string) => registerRequest({ uri, via: `UDP 127.0.0.41:${local}`, user: 'carol', realm: REALM, fromTag: randomBytes(4).toString('hex'), callId, cseq: auth === undefined ? cseq : ++cseq, contact, expires: 300, auth });
      const exchange = (text: string) => udpFinalReply(sock, text, n.sipPort, host);
      return registerWithDigest({ user: 'carol', password: PASSWORD, uri, request, exchange });
    };
    const held = async (node: 0 | 1) => {
      const d = await fx.nodes[node]!.rpc<{ Domains: Array<{ Domain: { AoRs: Array<{ Info: { AoR: string; Contacts: Array<{ Contact: { CSeq: number } }> } }> } }> }>('ul.dump');
      return d.Domains[0]!.Domain.AoRs.filter((a) => a.Info.AoR === 'carol').flatMap((a) => a.Info.Contacts.map((c) => c.Contact.CSeq));
    };
    try {
      assert.equal(statusOf(await register(0, 1)), 200, 'CSeq 2 through A');
      assert.equal(statusOf(await register(0, 9)), 200, 'CSeq 10 through A');
      assert.deepEqual(await held(0), [10]);

      // an older REGISTER of the same Call-ID reaches B (reordered, or replayed): refused as A would
      const stale = await register(1, 4);
      assert.equal(statusOf(stale), 400, `CSeq 5 through B after 10 through A:\n${stale}`);
      assert.equal(header(stale!, 'P-Registrar-Error'), 'Invalid CSeq number');
      // the refusal lists the AoR's bindings on every node, as the script that refused read them: A's
      assert.match(header(stale!, 'Contact') ?? '', new RegExp(`^<sip:carol@127\\.0\\.0\\.41:${local}>;expires=\\d+$`), `the 400 lists the binding A holds:\n${stale}`);
      assert.deepEqual(await held(1), [], 'nothing registered on B');
      const inRedis = await redisCommand(fx.redis.port, 'HLEN sipd:loc:carol');
      assert.equal(inRedis.trim(), ':1', 'one binding in the cluster store');

      // a newer one through B is a refresh like any other
      assert.equal(statusOf(await register(1, 11)), 200, 'CSeq 12 through B');
      assert.deepEqual(await held(1), [12]);
    } finally {
      sock.close();
    }
  });
});
