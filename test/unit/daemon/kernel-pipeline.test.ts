import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/core/sip/parser.js';
import type { SipResponse } from '../../../src/core/sip/message.js';
import type { AuthApi, CoreApi, RegistrarApi, SecurityEvent } from '../../../src/daemon/kernel/contracts.js';
import { defineModule } from '../../../src/daemon/kernel/module.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { Myself } from '../../../src/daemon/kernel/myself.js';
import { Pipeline, salvageBadRequest, sniffMethod } from '../../../src/daemon/kernel/pipeline.js';
import { buildReply, toTag } from '../../../src/daemon/kernel/reply.js';
import { DEFAULT_HTABLES, makeDefinition } from '../../../src/daemon/modules/htable/htable.js';
import { createHtableModule, type HtableModuleApi } from '../../../src/daemon/modules/htable/htable-module.js';
import { createMaxfwdModule } from '../../../src/daemon/modules/maxfwd/maxfwd-module.js';
import { createPikeModule } from '../../../src/daemon/modules/pike/pike-module.js';
import { createSanityModule } from '../../../src/daemon/modules/sanity/sanity-module.js';
import { createScannerModule } from '../../../src/daemon/modules/scanner/scanner-module.js';
import type { SipTransportName } from '../../../src/daemon/kernel/contracts.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

interface Opts {
  registrar?: RegistrarApi;
  auth?: AuthApi;
  scanner?: Record<string, unknown>;
}

async function pipeline(opts: Opts = {}) {
  const events: SecurityEvent[] = [];
  const myself = new Myself([{ ip: '127.0.0.1', port: 5060, transport: 'udp' }], ['sip.example.com']);
  const core: CoreApi = { database: () => Promise.reject(new Error('no')), securityEvent: (e) => events.push(e), isMyself: (h, p) => myself.isMyself(h, p), domains: () => ['sip.example.com'], stateDir: '/x', sipSockets: () => [], onSipSocketsBound: () => undefined };
  const reg = new ModuleRegistry();
  reg.register(defineModule({ name: 'core', params: {}, init() {}, destroy() {}, rpc: {}, api: core }));
  const ht = createHtableModule({ definitions: Object.entries(DEFAULT_HTABLES).map(([n, a]) => makeDefinition(n, a)) });
  reg.register(ht);
  for (const m of [createSanityModule(), createMaxfwdModule(), createScannerModule(), createPikeModule()]) reg.register(m as never);
  if (opts.registrar) reg.register(defineModule({ name: 'registrar', params: {}, init() {}, destroy() {}, rpc: {}, api: opts.registrar }));
  if (opts.auth) reg.register(defineModule({ name: 'auth-db', params: {}, init() {}, destroy() {}, rpc: {}, api: opts.auth }));
  await reg.initAll({ params: new Map(opts.scanner ? [['scanner', opts.scanner]] : []) });
  const p = new Pipeline({ registry: reg, myself, log: silent, security: (e) => events.push(e), parser: {}, server: 'sipd test' });
  const replies: Buffer[] = [];
  const send = (data: string | Buffer, from = '127.0.0.1', transport: SipTransportName = 'udp') => {
    p.handle({
      data: Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1'),
      source: { ip: from, port: 5070, transport },
      local: { ip: '127.0.0.1', port: 5060, transport },
      reply: (b) => replies.push(b),
    });
  };
  const last = () => parseMessage(replies.at(-1)!) as SipResponse;
  return { p, reg, events, replies, send, last, htable: ht.api as HtableModuleApi };
}

function msg(method: string, opts: { uri?: string; headers?: string[]; omit?: string[]; via?: string; body?: string } = {}): string {
  const all: Array<[string, string]> = [
    ['Via', opts.via ?? 'SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bK-abc;rport'],
    ['From', '<sip:alice@sip.example.com>;tag=f1'],
    ['To', '<sip:alice@sip.example.com>'],
    ['Call-ID', 'call-1@10.0.0.5'],
    ['CSeq', `7 ${method}`],
    ['Max-Forwards', '70'],
  ];
  const lines = [`${method} ${opts.uri ?? 'sip:127.0.0.1'} SIP/2.0`];
  for (const [n, v] of all) if (!opts.omit?.includes(n)) lines.push(`${n}: ${v}`);
  lines.push(...(opts.headers ?? []));
  const body = opts.body ?? '';
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return lines.join('\r\n') + '\r\n\r\n' + body;
}

test('OPTIONS to the proxy → 200 OK; Via gets received and rport, To gets a stable tag', async () => {
  const t = await pipeline();
  t.send(msg('OPTIONS'));
  const r = t.last();
  assert.equal(r.status, 200);
  assert.equal(r.reason, 'OK');
  assert.equal(r.via[0].received, '127.0.0.1');
  assert.equal(r.via[0].rport, 5070);
  assert.equal(r.via[0].branch, 'z9hG4bK-abc');
  assert.equal(r.callId, 'call-1@10.0.0.5');
  assert.deepEqual(r.cseq, { seq: 7, method: 'OPTIONS' });
  assert.equal(r.from?.tag, 'f1');
  assert.ok(r.to?.tag && r.to.tag.length >= 16);
  assert.ok(r.headers.some((h) => h.key === 'allow' && h.value === 'OPTIONS, REGISTER'));
  assert.ok(r.headers.some((h) => h.key === 'server' && h.value === 'sipd test'));
  // a retransmission gets the same To tag (stateless, RFC 3261 §8.2.6.2)
  t.send(msg('OPTIONS'));
  assert.equal(t.last().to?.tag, r.to?.tag);
  // the configured domain and the port are myself too; IPv6 sources work
  t.send(msg('OPTIONS', { uri: 'sip:sip.example.com' }));
  assert.equal(t.last().status, 200);
  t.send(msg('OPTIONS', { uri: 'sip:127.0.0.1:5060' }));
  assert.equal(t.last().status, 200);
});

test('routing: not myself → 403, wrong port → 403, ACK absorbed, CANCEL 481, others 501', async () => {
  const t = await pipeline();
  t.send(msg('OPTIONS', { uri: 'sip:example.org' }));
  assert.deepEqual([t.last().status, t.last().reason], [403, 'Not relaying']);
  t.send(msg('OPTIONS', { uri: 'sip:127.0.0.1:5999' }));
  assert.equal(t.last().status, 403);
  t.send(msg('INVITE', { uri: 'sip:bob@127.0.0.1', headers: ['Contact: <sip:alice@10.0.0.5>'] }));
  assert.deepEqual([t.last().status, t.last().reason], [501, 'Not Implemented']);
  t.send(msg('OPTIONS', { uri: 'sip:bob@127.0.0.1' }));
  assert.equal(t.last().status, 501, 'OPTIONS to a user is not answered by the proxy itself');
  t.send(msg('CANCEL'));
  assert.equal(t.last().status, 481);
  const before = t.replies.length;
  t.send(msg('ACK'));
  assert.equal(t.replies.length, before, 'no reply to ACK');
  t.send('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK-x\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n');
  assert.equal(t.replies.length, before, 'responses are dropped');
});

test('sanity failures → 400 with the reason phrase, logged; maxfwd 0 → 483; missing Max-Forwards is fine', async () => {
  const t = await pipeline();
  t.send(msg('OPTIONS', { omit: ['Call-ID'] }));
  assert.deepEqual([t.last().status, t.last().reason], [400, 'Missing Required Header in Request']);
  assert.equal(t.events.at(-1)?.event, 'sanity-failed');
  assert.equal(t.events.at(-1)?.method, 'OPTIONS');
  assert.equal(t.events.at(-1)?.user, 'alice');
  const wrongCseq = msg('OPTIONS').replace('CSeq: 7 OPTIONS', 'CSeq: 7 INVITE');
  t.send(wrongCseq);
  assert.deepEqual([t.last().status, t.last().reason], [400, 'CSeq method does not match request method']);
  // Proxy-Require is not among Kamailio's stock checks (sipd's default): 420 only when asked for
  t.send(msg('OPTIONS', { headers: ['Proxy-Require: foo'] }));
  assert.equal(t.last().status, 200);
  t.send(msg('OPTIONS', { uri: `sip:${'a'.repeat(600)}@127.0.0.1` }));
  assert.deepEqual([t.last().status, t.last().reason], [414, 'Request-URI Too Long']);
  t.send(msg('OPTIONS').replace('Max-Forwards: 70', 'Max-Forwards: 0'));
  assert.deepEqual([t.last().status, t.last().reason], [483, 'Too Many Hops']);
  t.send(msg('OPTIONS', { omit: ['Max-Forwards'] }));
  assert.equal(t.last().status, 200);
});

test('unparseable: 400 naming the problem on UDP and TCP when the reply headers can be read (logged), 400 for a truncated body', async () => {
  const t = await pipeline();
  const garbage = msg('OPTIONS').replace('CSeq: 7 OPTIONS', 'CSeq: seven OPTIONS');
  t.send(garbage);
  assert.equal(t.replies.length, 1, 'answered over UDP too (issue 16 part 3)');
  assert.match(t.replies[0].toString(), /^SIP\/2\.0 400 Bad CSeq header\r\n/);
  assert.equal(t.events.at(-1)?.event, 'parse-failed');
  t.send(garbage, '127.0.0.1', 'tcp');
  assert.equal(t.replies.length, 2);
  assert.match(t.replies[1].toString(), /^SIP\/2\.0 400 Bad CSeq header\r\n/);
  const r = parseMessage(t.replies[1].toString().replace('CSeq: seven', 'CSeq: 7')) as SipResponse;
  assert.ok(r.to?.tag);
  t.send(msg('OPTIONS').replace('Content-Length: 0', 'Content-Length: 50'));
  assert.deepEqual([t.last().status, t.last().reason], [400, 'Content-Length mis-match']);
  t.send(msg('OPTIONS').replace('Max-Forwards: 70', 'Max-Forwards: -1'));
  assert.match(t.replies.at(-1)!.toString(), /^SIP\/2\.0 400 Bad Max-Forwards header\r\n/);
  t.send(msg('OPTIONS').replace('Content-Length: 0', 'Content-Length: 0\r\nl: 0'));
  assert.match(t.replies.at(-1)!.toString(), /^SIP\/2\.0 400 Duplicate Content-Length\r\n/);
  const n = t.replies.length;
  // nothing to build a reply from (the last one parses, but has no Via or CSeq to answer), or a response
  for (const junk of ['', '\r\n\r\n', 'hello', Buffer.from([0, 1, 2, 3, 255]), 'INVITE sip:x SIP/2.0\r\n\r\n', 'SIP/2.0 2000 OK\r\nVia: a\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 X\r\n\r\n']) t.send(junk, '127.0.0.1', 'tcp');
  assert.equal(t.replies.length, n);
  assert.equal(t.p.counters.parseErrors, 10);
});

test('scanner: dropped silently by default; reply 200 when configured', async () => {
  const t = await pipeline();
  t.send(msg('OPTIONS', { headers: ['User-Agent: friendly-scanner'] }));
  assert.equal(t.replies.length, 0);
  assert.equal(t.events.at(-1)?.event, 'scanner-dropped');
  const r = await pipeline({ scanner: { action: 'reply' } });
  r.send(msg('REGISTER', { headers: ['User-Agent: sipvicious'] }));
  assert.equal(r.last().status, 200);
});

test('flood: the 17th request from 127.0.0.2 bans it; 127.0.0.1 (the proxy itself) keeps working', async () => {
  const t = await pipeline();
  for (let i = 0; i < 40; i++) t.send(msg('OPTIONS'), '127.0.0.2');
  assert.equal(t.replies.length, 16);
  assert.ok(t.htable.get('ipban', '127.0.0.2'));
  assert.equal(t.events.filter((e) => e.event === 'flood-ban').length, 1);
  for (let i = 0; i < 40; i++) t.send(msg('OPTIONS'), '127.0.0.1');
  assert.equal(t.replies.length, 56);
  assert.equal(t.p.admitConnection('127.0.0.2'), false);
  assert.equal(t.p.admitConnection('127.0.0.1'), true);
  assert.equal(t.p.admitConnection('127.0.0.3'), true);
});

test('REGISTER: 501 without a registrar, 500 with a registrar but no auth, else auth then save', async () => {
  const none = await pipeline();
  none.send(msg('REGISTER', { headers: ['Contact: <sip:alice@10.0.0.5>'] }));
  assert.equal(none.last().status, 501);

  const saved: string[] = [];
  const registrar: RegistrarApi = { save: async (_c, u, d) => (saved.push(`${u}@${d}`), { status: 200, reason: 'OK', headers: [['Contact', '<sip:alice@10.0.0.5>;expires=60']] }) };
  const noAuth = await pipeline({ registrar });
  noAuth.send(msg('REGISTER'));
  assert.equal(noAuth.last().status, 500);
  assert.deepEqual(saved, [], 'never saved unauthenticated');

  let asked = 0;
  const auth: AuthApi = {
    authenticate: async (ctx, kind) => {
      asked++;
      assert.equal(kind, 'www');
      return ctx.msg.authorization.length === 0
        ? { ok: false, reply: { status: 401, reason: 'Unauthorized', headers: [['WWW-Authenticate', 'Digest realm="sip.example.com", nonce="n"']] } }
        : { ok: true, username: 'alice', domain: 'sip.example.com' };
    },
    reloadCredentials: async () => undefined,
  };
  const t = await pipeline({ registrar, auth });
  t.send(msg('REGISTER', { uri: 'sip:sip.example.com' }));
  await new Promise((r) => setImmediate(r));
  assert.equal(t.last().status, 401);
  assert.ok(t.last().wwwAuthenticate.length === 1);
  t.send(msg('REGISTER', { uri: 'sip:sip.example.com', headers: ['Authorization: Digest username="alice", realm="sip.example.com", nonce="n", uri="sip:sip.example.com", response="0123456789abcdef0123456789abcdef"'] }));
  await new Promise((r) => setImmediate(r));
  assert.equal(t.last().status, 200);
  assert.deepEqual(saved, ['alice@sip.example.com']);
  assert.equal(asked, 2);

  // a module that throws → 500, logged, the pipeline keeps going
  const broken = await pipeline({ registrar: { save: async () => { throw new Error('db down'); } }, auth });
  broken.send(msg('REGISTER', { headers: ['Authorization: Digest username="alice", realm="sip.example.com", nonce="n", uri="sip:sip.example.com", response="0123456789abcdef0123456789abcdef"'] }));
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(broken.last().status, 500);
  assert.equal(broken.p.counters.inFlight, 0);
});

test('reply builder: headers a module gives cannot smuggle lines or replace kernel headers', async () => {
  const req = parseMessage(msg('OPTIONS')) as never;
  const out = buildReply(req, { status: 200, reason: 'OK\r\nX-Evil: 1', headers: [['Via', 'x'], ['X-A', 'a\r\nX-Evil: 2'], ['Bad Name', 'v']] }, { source: { ip: '127.0.0.1', port: 5070, transport: 'udp' } });
  const r = parseMessage(out) as SipResponse;
  assert.equal(r.via.length, 1);
  assert.ok(!r.headers.some((h) => h.key === 'x-evil'));
  assert.equal(r.headers.find((h) => h.key === 'x-a')?.value, 'a X-Evil: 2');
  assert.equal(toTag(req), toTag(req));
});

test('sniffMethod and salvageBadRequest', () => {
  assert.equal(sniffMethod(Buffer.from('OPTIONS sip:x SIP/2.0')), 'OPTIONS');
  assert.equal(sniffMethod(Buffer.from('SIP/2.0 200 OK')), undefined);
  assert.equal(sniffMethod(Buffer.from([0, 1, 2])), undefined);
  assert.equal(sniffMethod(Buffer.from('A'.repeat(40))), undefined);
  assert.equal(salvageBadRequest(Buffer.from('ACK sip:x SIP/2.0\r\nVia: a\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 ACK\r\n\r\n'), 'Bad Request', 's'), undefined);
  assert.match(salvageBadRequest(Buffer.from('OPTIONS sip:x SIP/2.0\r\nVia: a\r\nFrom: a\r\nFrom: b\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n'), 'Duplicate From', 's')!.toString(), /^SIP\/2\.0 400 Duplicate From\r\n[^]*From: a\r\n/, 'two From: the first answered');
  assert.equal(salvageBadRequest(Buffer.from('OPTIONS sip:x SIP/2.0\r\nVia: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n'), 'Bad Request', 's'), undefined, 'no From');
  assert.equal(salvageBadRequest(Buffer.from('SIP/2.0 200 OK\r\nVia: a\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n'), 'Bad Request', 's'), undefined, 'a response is never answered');
  // RFC 4475 lwsstart / trws: a start line with extra spaces can still be answered
  assert.match(salvageBadRequest(Buffer.from('INVITE  sip:x  SIP/2.0 \r\nVia: a\r\nFrom: a\r\nTo: b\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n'), 'Bad Request-Line', 's')!.toString(), /^SIP\/2\.0 400 Bad Request-Line\r\n/);
  assert.match(salvageBadRequest(Buffer.from('OPTIONS sip:x SIP/2.0\r\nv: a\r\nf: a\r\nt: b;tag=9\r\ni: c\r\nCSeq: 1 OPTIONS\r\n\r\n'), 'Bad Request', 's')!.toString(), /To: b;tag=9\r\n/);
});
