// The 200 OK of a REGISTER names every current binding of the AoR, each with its expires (RFC 3261
// §10.3 step 8), in a sipd cluster too: the bindings made through the other nodes as well as the
// answering node's. Before, a node listed only the bindings it held itself. Two sipd nodes on
// 127.0.0.1 (A) and 127.0.0.2 (B) over one private Redis and one MariaDB (cluster-fixture.ts).
// Two phones of alice, each with its own socket and Call-ID: X registers through A, Y through B.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { clusterFixture, clusterUa, digestNodeConfig, type ClusterFixture } from './cluster-fixture.js';
import { headers } from './sip-message.js';
import { statusOf } from './sipd-process.js';

const SECRET = randomBytes(24).toString('hex');

/** One phone: a UDP socket on `ip`, its own Call-ID; register(node, expires) of its contact, without `expires` a query. */
async function phone(fx: ClusterFixture, ip: string) {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address: ip, port: 0 }, () => r()));
  const ua = clusterUa(fx, sock, 'alice', 'reply');
  const uri = ua.uri();
  return {
    uri,
    register: (node: 0 | 1, expires?: number) => ua.register(node, expires === undefined ? undefined : `<${uri}>`, expires ?? 0),
    close: () => sock.close(),
  };
}

/** The contacts a reply names: URI → expires. */
function listed(reply: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const h of headers(reply ?? '', 'Contact')) {
    for (const m of h.matchAll(/<([^>]+)>([^,]*)/g)) {
      const e = /;expires=(\d+)/.exec(m[2]!);
      out.set(m[1]!, e === null ? NaN : Number(e[1]));
    }
  }
  return out;
}

/** `got` names exactly the URIs of `want`, each with an expires within 10 s under the granted one. */
function assertListed(got: Map<string, number>, want: Record<string, number>, what: string): void {
  assert.deepEqual([...got.keys()].sort(), Object.keys(want).sort(), `${what}: the contacts listed`);
  for (const [uri, granted] of Object.entries(want)) {
    const e = got.get(uri)!;
    assert.ok(e <= granted && e > granted - 10, `${what}: ${uri} expires=${e}, granted ${granted}`);
  }
}

describe('the 200 OK of a REGISTER through any node lists the AoR\'s bindings on every node', () => {
  const fx = clusterFixture({
    name: 'sipd-register-reply-',
    users: ['alice'],
    config: digestNodeConfig(SECRET, { cluster: { timeout_ms: 10_000 }, modules: { usrloc: {} } }),
  });

  test('X through A, Y through B → B\'s 200 lists X and Y; a query through A lists both; X un-registered through B → B\'s 200 lists Y only', async () => {
    const x = await phone(fx, '127.0.0.41');
    const y = await phone(fx, '127.0.0.42').catch((e: unknown) => (x.close(), Promise.reject(e)));
    try {
      const ax = await x.register(0, 300);
      assert.equal(statusOf(ax), 200, 'X through A');
      assertListed(listed(ax), { [x.uri]: 300 }, 'A\'s 200 for X');

      const by = await y.register(1, 600);
      assert.equal(statusOf(by), 200, 'Y through B');
      assertListed(listed(by), { [x.uri]: 300, [y.uri]: 600 }, 'B\'s 200 for Y');

      const query = await x.register(0);
      assert.equal(statusOf(query), 200, 'a query (no Contact) through A');
      assertListed(listed(query), { [x.uri]: 300, [y.uri]: 600 }, 'A\'s 200 for the query');

      const unreg = await x.register(1, 0);
      assert.equal(statusOf(unreg), 200, 'X un-registered through B');
      assertListed(listed(unreg), { [y.uri]: 600 }, 'B\'s 200 for the un-REGISTER of X');
    } finally {
      x.close();
      y.close();
    }
  });
});
