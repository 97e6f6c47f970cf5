/**
 * The registrar over usrloc against real databases: REGISTER requests written as text and
 * parsed by sipd's parser; save / refresh / unregister / "*", expiry bounds, max contacts,
 * Call-ID/CSeq ordering, received, and registrations surviving a restart.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../../src/core/db/database.js';
import { parseMessage } from '../../../src/core/sip/parser.js';
import type { SipRequest } from '../../../src/core/sip/message.js';
import { flattenUlDump, type UlDumpResult } from '../../../src/core/rpc/methods.js';
import type { Endpoint, ReplySpec, RequestContext } from '../../../src/daemon/kernel/contracts.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import type { Logger } from '../../../src/daemon/kernel/module.js';
import { createRegistrarModule } from '../../../src/daemon/modules/registrar/registrar-module.js';
import { formatQ, receivedFor } from '../../../src/daemon/modules/registrar/registrar.js';
import { createStatsModule } from '../../../src/daemon/modules/stats/stats-module.js';
import { createUsrlocModule, type UsrlocModuleApi } from '../../../src/daemon/modules/usrloc/usrloc-module.js';
import { fromDbDatetime } from '../../../src/daemon/modules/usrloc/location-db.js';
import { parseUri, type SipUri } from '../../../src/core/sip/uri.js';
import { createTestDb, forEachEngine } from '../../helpers/db.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const T0 = 1_800_000_000;

interface Reg {
  user?: string;
  toUser?: string;
  domain?: string;
  contacts?: string[] | '*';
  expires?: number;
  callId?: string;
  cseq?: number;
  ua?: string | null;
  allow?: string;
  path?: string;
}

/** A REGISTER as a UA sends it, parsed by sipd's parser. */
function register(o: Reg = {}): SipRequest {
  const user = o.user ?? 'alice';
  const domain = o.domain ?? 'example.com';
  const lines = [
    `REGISTER sip:${domain} SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-test;rport',
    'Max-Forwards: 70',
    `From: <sip:${user}@${domain}>;tag=from1`,
    `To: <sip:${o.toUser ?? user}@${domain}>`,
    `Call-ID: ${o.callId ?? 'call-1@192.0.2.10'}`,
    `CSeq: ${o.cseq ?? 1} REGISTER`,
  ];
  const contacts = o.contacts ?? ['<sip:alice@192.0.2.10:5060>'];
  if (contacts === '*') lines.push('Contact: *');
  else for (const c of contacts) lines.push(`Contact: ${c}`);
  if (o.expires !== undefined) lines.push(`Expires: ${o.expires}`);
  if (o.ua !== null) lines.push(`User-Agent: ${o.ua ?? 'TestPhone/1.0'}`);
  if (o.allow !== undefined) lines.push(`Allow: ${o.allow}`);
  if (o.path !== undefined) lines.push(`Path: ${o.path}`);
  lines.push('Content-Length: 0', '', '');
  return parseMessage(lines.join('\r\n')) as SipRequest;
}

function context(msg: SipRequest, source: Partial<Endpoint> = {}): RequestContext {
  return {
    msg,
    source: { ip: '192.0.2.10', port: 5060, transport: 'udp', ...source },
    local: { ip: '127.0.0.1', port: 5060, transport: 'udp' },
    receivedAt: Date.now(),
    isMyself: () => true,
  };
}

function header(reply: ReplySpec, name: string): string | undefined {
  return reply.headers?.find(([n]) => n === name)?.[1];
}

async function start(db: Database | undefined, params: { usrloc?: Record<string, unknown>; registrar?: Record<string, unknown> } = {}, clock = { ms: T0 * 1000 }) {
  const reg = new ModuleRegistry();
  const stats = createStatsModule();
  const usrloc = createUsrlocModule({ db });
  const registrar = createRegistrarModule();
  reg.register(stats);
  reg.register(usrloc);
  reg.register(registrar);
  await reg.initAll({ params: new Map([['usrloc', params.usrloc ?? (db ? {} : { db_mode: 0 })], ['registrar', params.registrar ?? {}]]), log: quiet, now: () => clock.ms });
  const ul = usrloc.api as UsrlocModuleApi;
  return {
    reg,
    clock,
    ul,
    stats: stats.api!,
    save: (msg: SipRequest, source?: Partial<Endpoint>, user = 'alice', domain = 'example.com') => registrar.api!.save(context(msg, source), user, domain),
    dump: () => flattenUlDump(reg.lookup('ul.dump')!.handler([]) as UlDumpResult),
    advance: (s: number) => {
      clock.ms += s * 1000;
    },
  };
}

test('q and received formatting helpers', () => {
  assert.deepEqual([1, 0, 0.5, 0.25, 0.125, 0.1, 0.001].map(formatQ), ['1', '0', '0.5', '0.25', '0.125', '0.1', '0.001']);
  const uri = (s: string) => parseUri(s) as SipUri;
  const udp = (ip: string, port: number): Endpoint => ({ ip, port, transport: 'udp' });
  assert.equal(receivedFor(uri('sip:a@192.0.2.10:5060'), udp('192.0.2.10', 5060)), undefined, 'same ip:port: not NAT-ed');
  assert.equal(receivedFor(uri('sip:a@192.0.2.10'), udp('192.0.2.10', 5060)), undefined, 'default port 5060');
  assert.equal(receivedFor(uri('sip:a@192.168.1.20:5060'), udp('198.51.100.7', 40000)), 'sip:198.51.100.7:40000');
  assert.equal(receivedFor(uri('sip:a@192.0.2.10:5060'), udp('192.0.2.10', 5062)), 'sip:192.0.2.10:5062', 'port differs');
  assert.equal(receivedFor(uri('sip:a@phone.example.com'), udp('192.0.2.10', 5060)), 'sip:192.0.2.10:5060', 'a host name cannot be compared');
  assert.equal(receivedFor(uri('sip:a@10.0.0.2;transport=tcp'), { ip: '198.51.100.7', port: 5070, transport: 'tcp' }), 'sip:198.51.100.7:5070;transport=tcp');
  assert.equal(receivedFor(uri('sip:a@[2001:db8::7]:5060'), udp('2001:0db8:0:0::7', 5060)), undefined, 'IPv6 spellings compare equal');
  assert.equal(receivedFor(uri('sip:a@[fd00::7]:5060'), udp('2001:db8::7', 5060)), 'sip:[2001:db8::7]:5060');
  assert.equal(receivedFor(uri('sip:a@192.0.2.10:5060'), udp('::ffff:192.0.2.10', 5060)), undefined, 'IPv4-mapped source');
});

forEachEngine('registrar', (engine, track) => {
  let db: Database;
  before(async () => {
    db = await track(await createTestDb(engine)).open();
  });
  after(async () => {
    await db?.close();
  });
  const fresh = async (params?: Parameters<typeof start>[1]) => {
    await db.execute('DELETE FROM location');
    return start(db, params);
  };

  test('save, list, refresh and unregister one contact; the 200 lists bindings with their remaining time', async () => {
    const r = await fresh();
    try {
      let reply = await r.save(register({ contacts: ['<sip:alice@192.0.2.10:5060>;expires=600'] }));
      assert.deepEqual(reply, { status: 200, reason: 'OK', headers: [['Contact', '<sip:alice@192.0.2.10:5060>;expires=600']] });
      const [c] = r.ul.lookup('alice');
      assert.deepEqual([c.contact, c.expires, c.callId, c.cseq, c.userAgent, c.received, c.socket, c.q], ['sip:alice@192.0.2.10:5060', T0 + 600, 'call-1@192.0.2.10', 1, 'TestPhone/1.0', undefined, 'udp:127.0.0.1:5060', -1]);
      const [row] = await db.query<{ ruid: string; expires: unknown; user_agent: string }>('SELECT ruid, expires, user_agent FROM location');
      assert.deepEqual([row.ruid, fromDbDatetime(row.expires), row.user_agent], [c.ruid, T0 + 600, 'TestPhone/1.0']);

      r.advance(100);
      reply = await r.save(register({ contacts: [] as string[] }));
      assert.equal(header(reply, 'Contact'), '<sip:alice@192.0.2.10:5060>;expires=500', 'no Contact: the current bindings');

      reply = await r.save(register({ cseq: 2, contacts: ['<sip:alice@192.0.2.10:5060>'], expires: 1800 }));
      assert.equal(header(reply, 'Contact'), '<sip:alice@192.0.2.10:5060>;expires=1800', 'Expires header when the contact has none');
      const [refreshed] = r.ul.lookup('alice');
      assert.equal(refreshed.ruid, c.ruid, 'a refresh keeps the binding');
      assert.deepEqual([refreshed.cseq, refreshed.lastModified], [2, T0 + 100]);

      reply = await r.save(register({ cseq: 3, contacts: ['<sip:alice@192.0.2.10:5060>;expires=0'] }));
      assert.deepEqual(reply, { status: 200, reason: 'OK', headers: [] });
      assert.deepEqual(r.ul.lookup('alice'), []);
      assert.deepEqual(await db.query('SELECT ruid FROM location'), []);
    } finally {
      await r.reg.destroyAll();
    }
  });

  test('several contacts, q order, Expires: 0 for one, then "Contact: *" with "Expires: 0" for all', async () => {
    const r = await fresh();
    try {
      await r.save(register({ callId: 'desk', contacts: ['<sip:alice@192.0.2.10:5060>;q=0.5'] }));
      await r.save(register({ callId: 'mobile', contacts: ['<sip:alice@192.0.2.11:5060>;q=1'] }), { ip: '192.0.2.11' });
      const reply = await r.save(register({ callId: 'soft', contacts: ['<sip:alice@192.0.2.12:5060>'] }), { ip: '192.0.2.12' });
      assert.equal(header(reply, 'Contact'), '<sip:alice@192.0.2.11:5060>;q=1;expires=3600, <sip:alice@192.0.2.10:5060>;q=0.5;expires=3600, <sip:alice@192.0.2.12:5060>;expires=3600');
      await r.save(register({ callId: 'desk', cseq: 2, contacts: ['<sip:alice@192.0.2.10:5060>'], expires: 0 }));
      assert.deepEqual(r.ul.lookup('alice').map((c) => c.contact), ['sip:alice@192.0.2.11:5060', 'sip:alice@192.0.2.12:5060']);

      for (const expires of [undefined, 60]) {
        const bad = await r.save(register({ callId: 'x', cseq: 9, contacts: '*', expires }));
        assert.deepEqual([bad.status, bad.reason, header(bad, 'P-Registrar-Error')], [400, 'Bad Request', '* used in contact and expires is not zero']);
      }
      assert.equal(r.ul.lookup('alice').length, 2);
      const reordered = await r.save(register({ callId: 'mobile', cseq: 1, contacts: '*', expires: 0 }));
      assert.deepEqual([reordered.status, header(reordered, 'P-Registrar-Error')], [400, 'Invalid CSeq number'], 'RFC 3261 §10.3: not with an old CSeq of a binding\'s Call-ID');
      assert.equal(r.ul.lookup('alice').length, 2, 'nothing removed');
      const ok = await r.save(register({ callId: 'x', cseq: 10, contacts: '*', expires: 0 }));
      assert.deepEqual(ok, { status: 200, reason: 'OK', headers: [] });
      assert.deepEqual(r.ul.lookup('alice'), []);
      assert.deepEqual(await db.query('SELECT ruid FROM location'), []);
    } finally {
      await r.reg.destroyAll();
    }
  });

  test('expiry bounds: raised to min_expires, cut to max_expires, default_expires; min_expires_mode 1 answers 423', async () => {
    const r = await fresh({ registrar: { min_expires: 60, max_expires: 3600, default_expires: 1200 } });
    try {
      let n = 0;
      const exp = async (contact: string, expires?: number) => {
        await r.save(register({ callId: `cid-${++n}`, contacts: [contact], expires }));
        return r.ul.lookup('alice').find((c) => contact.includes(c.contact))!.expires - T0;
      };
      assert.equal(await exp('<sip:alice@192.0.2.20>;expires=10'), 60);
      assert.equal(await exp('<sip:alice@192.0.2.21>;expires=100000'), 3600);
      assert.equal(await exp('<sip:alice@192.0.2.22>'), 1200);
      assert.equal(await exp('<sip:alice@192.0.2.23>', 30), 60);
    } finally {
      await r.reg.destroyAll();
    }
    const strict = await fresh({ registrar: { min_expires_mode: 1 } });
    try {
      const reply = await strict.save(register({ contacts: ['<sip:alice@192.0.2.10>;expires=10'] }));
      assert.deepEqual(reply, { status: 423, reason: 'Interval Too Brief', headers: [['Min-Expires', '60'], ['P-Registrar-Error', 'Interval too brief']] });
      assert.equal((await strict.save(register({ contacts: ['<sip:alice@192.0.2.10>;expires=0'] }))).status, 200, 'removal is never too brief');
    } finally {
      await strict.reg.destroyAll();
    }
  });

  test('max_contacts: 503 "Service Unavailable" with P-Registrar-Error, nothing changed; default limit is 10', async () => {
    const r = await fresh({ registrar: { max_contacts: 2 } });
    try {
      await r.save(register({ callId: 'a', contacts: ['<sip:alice@192.0.2.1>'] }));
      await r.save(register({ callId: 'b', contacts: ['<sip:alice@192.0.2.2>'] }));
      const reply = await r.save(register({ callId: 'c', contacts: ['<sip:alice@192.0.2.3>'] }));
      assert.deepEqual([reply.status, reply.reason, header(reply, 'P-Registrar-Error')], [503, 'Service Unavailable', 'Too many registered contacts']);
      assert.equal(
        header(reply, 'Contact'),
        '<sip:alice@192.0.2.1>;expires=3600;received="sip:192.0.2.10:5060", <sip:alice@192.0.2.2>;expires=3600;received="sip:192.0.2.10:5060"',
        'the current bindings, as Kamailio',
      );
      assert.equal(r.ul.lookup('alice').length, 2);
      assert.equal((await r.save(register({ callId: 'a', cseq: 2, contacts: ['<sip:alice@192.0.2.1>'] }))).status, 200, 'refreshing at the limit is fine');
      assert.equal((await r.save(register({ callId: 'c', cseq: 2, contacts: ['<sip:alice@192.0.2.3>', '<sip:alice@192.0.2.1>;expires=0'] }))).status, 200, 'one out, one in');
      r.advance(3601);
      assert.equal((await r.save(register({ callId: 'd', contacts: ['<sip:alice@192.0.2.4>'] }))).status, 200, 'expired bindings do not count');
      assert.equal(r.stats.get('registrar:rejected_regs'), 1);
      assert.equal(r.stats.get('registrar:accepted_regs'), 5);
    } finally {
      await r.reg.destroyAll();
    }
    const d = await fresh();
    try {
      for (let i = 1; i <= 10; i++) assert.equal((await d.save(register({ callId: `c${i}`, contacts: [`<sip:alice@192.0.2.${i}>`] }))).status, 200);
      assert.equal((await d.save(register({ callId: 'c11', contacts: ['<sip:alice@192.0.2.11>'] }))).status, 503);
      const many = Array.from({ length: 11 }, (_, i) => `<sip:bob@192.0.2.${100 + i}>`);
      const reply = await d.save(register({ user: 'bob', callId: 'many', contacts: many }), undefined, 'bob');
      assert.equal(reply.status, 503, 'eleven contacts in one REGISTER');
      assert.deepEqual(d.ul.lookup('bob'), []);
    } finally {
      await d.reg.destroyAll();
    }
  });

  test('Call-ID/CSeq ordering: lower CSeq is 400, a repeat within cseq_delay is a retransmission, later a replay', async () => {
    const r = await fresh();
    try {
      await r.save(register({ cseq: 5, contacts: ['<sip:alice@192.0.2.10:5060>;expires=600'] }));
      const low = await r.save(register({ cseq: 4, contacts: ['<sip:alice@192.0.2.10:5060>;expires=0'] }));
      assert.deepEqual([low.status, low.reason, header(low, 'P-Registrar-Error')], [400, 'Bad Request', 'Invalid CSeq number']);
      assert.equal(r.ul.lookup('alice').length, 1, 'an old, reordered un-REGISTER does not remove the binding');

      r.advance(5);
      const retrans = await r.save(register({ cseq: 5, contacts: ['<sip:alice@192.0.2.10:5060>;expires=600'] }));
      assert.equal(retrans.status, 200);
      assert.equal(header(retrans, 'Contact'), '<sip:alice@192.0.2.10:5060>;expires=595', 'a retransmission changes nothing');
      r.advance(20);
      const replay = await r.save(register({ cseq: 5, contacts: ['<sip:alice@192.0.2.10:5060>;expires=600'] }));
      assert.equal(replay.status, 400, 'the same CSeq after cseq_delay is a replay');

      const otherCall = await r.save(register({ callId: 'rebooted-phone', cseq: 1, contacts: ['<sip:alice@192.0.2.10:5060>;expires=600'] }));
      assert.equal(otherCall.status, 200, 'a new Call-ID starts its own CSeq space');
      assert.equal(r.ul.lookup('alice')[0].callId, 'rebooted-phone');
    } finally {
      await r.reg.destroyAll();
    }
  });

  test('received, user agent, methods, path and socket are stored; received shows in the 200 like Kamailio', async () => {
    const r = await fresh({ registrar: { use_path: true } });
    try {
      const reply = await r.save(
        register({ contacts: ['<sip:alice@192.168.1.20:5060;transport=tcp>'], ua: 'Acme Phone/2.1 (build 7)', allow: 'INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, X-CUSTOM', path: '<sip:edge.example.com;lr>' }),
        { ip: '198.51.100.7', port: 40000, transport: 'tcp' },
      );
      assert.equal(header(reply, 'Contact'), '<sip:alice@192.168.1.20:5060;transport=tcp>;expires=3600;received="sip:198.51.100.7:40000;transport=tcp"');
      const [c] = r.ul.lookup('alice');
      assert.equal(c.received, 'sip:198.51.100.7:40000;transport=tcp');
      assert.equal(c.userAgent, 'Acme Phone/2.1 (build 7)');
      assert.equal(c.methods, 1 | 4 | 8 | 2 | 512 | 256 | 524288);
      assert.equal(c.path, '<sip:edge.example.com;lr>');
      const [row] = await db.query<{ received: string; methods: number }>('SELECT received, methods FROM location');
      assert.deepEqual([row.received, Number(row.methods)], ['sip:198.51.100.7:40000;transport=tcp', c.methods]);

      await r.save(register({ callId: 'two', contacts: ['<sip:alice@192.0.2.10:5060>'], ua: null }));
      const plain = r.ul.lookup('alice').find((x) => x.callId === 'two')!;
      assert.deepEqual([plain.received, plain.userAgent, plain.methods], [undefined, 'n/a', 0xffffffff], 'no User-Agent: "n/a", as Kamailio');
    } finally {
      await r.reg.destroyAll();
    }
  });

  test('the To user must be the authenticated user; bad contacts and long Call-IDs are refused', async () => {
    const r = await fresh();
    try {
      const hijack = await r.save(register({ user: 'alice', toUser: 'bob' }));
      assert.deepEqual([hijack.status, hijack.reason], [403, 'Forbidden']);
      assert.deepEqual(r.ul.lookup('bob'), []);
      assert.equal((await r.save(register({ user: 'Alice', toUser: 'ALICE' }))).status, 200, 'AoRs are case-insensitive by default');
      assert.equal(r.ul.lookup('alice').length, 1);
      const tel = await r.save(register({ contacts: ['<tel:+15551234567>'] }));
      assert.deepEqual([tel.status, header(tel, 'P-Registrar-Error')], [400, 'Contact parse error']);
      const longUri = await r.save(register({ contacts: [`<sip:${'a'.repeat(520)}@192.0.2.1>`] }));
      assert.deepEqual([longUri.status, header(longUri, 'P-Registrar-Error')], [400, 'Contact/received too long']);
      const quoteInInstance = await r.save(register({ contacts: ['<sip:alice@192.0.2.1>;+sip.instance="<urn:uuid:1\\"x>"'] }));
      assert.deepEqual([quoteInInstance.status, header(quoteInInstance, 'P-Registrar-Error')], [400, 'Contact parse error'], 'an instance that would break out of its quotes in the reply');
      const outbound = await r.save(register({ callId: 'ob', contacts: ['<sip:alice@192.0.2.10:5060>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1'] }));
      assert.equal(header(outbound, 'Contact'), '<sip:alice@192.0.2.10:5060>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1');
      const badRegId = await r.save(register({ callId: 'ob', cseq: 2, contacts: ['<sip:alice@192.0.2.10:5060>;+sip.instance="<urn:uuid:x>";reg-id=0'] }));
      assert.deepEqual([badRegId.status, header(badRegId, 'P-Registrar-Error')], [400, 'Invalid Reg-Id number']);
      const longCid = await r.save(register({ callId: 'c'.repeat(300) }));
      assert.deepEqual([longCid.status, header(longCid, 'P-Registrar-Error')], [400, 'Callid too long']);
    } finally {
      await r.reg.destroyAll();
    }
  });

  test('RFC 5626 outbound: a binding with +sip.instance and reg-id is replaced by the same instance and reg-id from a new Contact (a phone back from another network); another reg-id is another flow', async () => {
    const r = await fresh();
    try {
      const inst = '+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"';
      assert.equal((await r.save(register({ callId: 'ob', contacts: [`<sip:alice@192.0.2.10:5060;ob>;${inst};reg-id=1`] }))).status, 200);
      const first = r.ul.lookup('alice');
      assert.equal(first.length, 1);
      // the phone comes back from another address: its Contact changed, its instance and reg-id did not
      const moved = await r.save(register({ callId: 'ob', cseq: 2, contacts: [`<sip:alice@198.51.100.20:6000;ob>;${inst};reg-id=1`] }), { ip: '198.51.100.20', port: 6000 });
      assert.equal(moved.status, 200);
      const after = r.ul.lookup('alice');
      assert.deepEqual(after.map((c) => c.contact), ['sip:alice@198.51.100.20:6000;ob'], 'the old flow replaced, not kept beside the new one');
      assert.equal(after[0]!.ruid, first[0]!.ruid, 'the same binding, updated');
      assert.equal(header(moved, 'Contact'), `<sip:alice@198.51.100.20:6000;ob>;expires=3600;${inst};reg-id=1`);
      // a second flow of the same instance (RFC 5626 §4.2: one per outbound proxy) is a binding of its own
      assert.equal((await r.save(register({ callId: 'ob', cseq: 3, contacts: [`<sip:alice@198.51.100.20:6002;ob>;${inst};reg-id=2`] }))).status, 200);
      assert.deepEqual(r.ul.lookup('alice').map((c) => c.regId).sort(), [1, 2]);
      // and a reg-id-1 un-REGISTER by its old URI's successor removes that flow only
      assert.equal((await r.save(register({ callId: 'ob', cseq: 4, contacts: [`<sip:alice@203.0.113.5:7000;ob>;${inst};reg-id=1;expires=0`] }))).status, 200);
      assert.deepEqual(r.ul.lookup('alice').map((c) => c.regId), [2]);
    } finally {
      await r.reg.destroyAll();
    }
  });

  test('registrations survive a restart: a new instance on the same database has them, expired ones are gone', async () => {
    const a = await fresh();
    await a.save(register({ callId: 'long', contacts: ['<sip:alice@192.0.2.10>;expires=3600'] }));
    await a.save(register({ callId: 'short', contacts: ['<sip:alice@192.0.2.11>;expires=60'] }));
    await a.save(register({ user: 'bob', callId: 'bob', contacts: ['<sip:bob@192.0.2.12>'] }), { ip: '198.51.100.9', port: 1234 }, 'bob');
    const before = a.dump();
    await a.reg.destroyAll(); // as good as a crash: every change was already written

    const b = await start(db, {}, { ms: (T0 + 120) * 1000 });
    try {
      const after = b.dump();
      assert.deepEqual(after.map((x) => [x.aor, x.contact, x.expires, x.received]).sort(), [
        ['alice', 'sip:alice@192.0.2.10', 3480, null],
        ['bob', 'sip:bob@192.0.2.12', 3480, 'sip:198.51.100.9:1234'],
      ]);
      assert.deepEqual(after.map((x) => x.ruid).sort(), before.filter((x) => x.contact !== 'sip:alice@192.0.2.11').map((x) => x.ruid).sort());
      const refresh = await b.save(register({ callId: 'long', cseq: 2, contacts: ['<sip:alice@192.0.2.10>'] }));
      assert.equal(header(refresh, 'Contact'), '<sip:alice@192.0.2.10>;expires=3600', 'CSeq checks continue after the restart');
      assert.equal((await b.save(register({ callId: 'long', cseq: 1, contacts: ['<sip:alice@192.0.2.10>'] }))).status, 400);
    } finally {
      await b.reg.destroyAll();
    }
  });

  test('a database failure answers 500 and changes nothing in memory', async () => {
    const t = track(await createTestDb(engine));
    const own = await t.open();
    const r = await start(own);
    try {
      await r.save(register({ callId: 'a', contacts: ['<sip:alice@192.0.2.1>'] }));
      await own.exec('DROP TABLE location');
      const reply = await r.save(register({ callId: 'b', contacts: ['<sip:alice@192.0.2.2>'] }));
      assert.deepEqual([reply.status, reply.reason, header(reply, 'P-Registrar-Error')], [500, 'Server Internal Error', 'usrloc_contact_insert failed']);
      assert.deepEqual(r.ul.lookup('alice').map((c) => c.contact), ['sip:alice@192.0.2.1']);
    } finally {
      await r.reg.destroyAll();
      await own.close();
    }
  });
});
