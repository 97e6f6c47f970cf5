/**
 * REGISTER retransmissions: the reply cache on its own (pending, answered, expiry, bound), and in
 * the pipeline, where a copy that arrives while the first is still being authenticated is
 * absorbed and a later copy gets the very same reply, without authenticating or saving again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/core/sip/parser.js';
import type { SipResponse } from '../../../src/core/sip/message.js';
import type { AuthApi, RegistrarApi, ReplySpec } from '../../../src/daemon/kernel/contracts.js';
import { defineModule } from '../../../src/daemon/kernel/module.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { Myself } from '../../../src/daemon/kernel/myself.js';
import { Pipeline } from '../../../src/daemon/kernel/pipeline.js';
import { ReplyCache, RETRANSMISSION_WINDOW_MS, requestKey } from '../../../src/daemon/kernel/reply-cache.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const SRC = { ip: '192.0.2.10', port: 5070, transport: 'udp' as const };

test('reply cache: new, then pending until answered, then the answer; expiry after 32 s; bounded; forget', () => {
  const clock = { ms: 1_000_000 };
  const c = new ReplyCache<string>({ now: () => clock.ms, max: 3 });
  try {
    assert.deepEqual(c.begin('a'), { state: 'new' });
    assert.deepEqual(c.begin('a'), { state: 'pending' });
    c.finish('a', '200 OK');
    assert.deepEqual(c.begin('a'), { state: 'answered', reply: '200 OK' });
    assert.deepEqual(c.counters, { absorbed: 1, answered: 1 });
    clock.ms += RETRANSMISSION_WINDOW_MS - 1;
    assert.equal(c.begin('a').state, 'answered', 'within Timer J');
    clock.ms += 1;
    assert.equal(c.begin('a').state, 'new', 'after 32 s a copy is a new request');

    c.begin('b');
    c.begin('c');
    c.begin('d');
    assert.equal(c.size, 3, 'at most max');
    assert.equal(c.begin('a').state, 'new', 'the oldest was forgotten');
    c.forget('d');
    assert.equal(c.begin('d').state, 'new');
    c.finish('nothing', 'x');
    assert.equal(c.size, 3);
  } finally {
    c.clear();
  }
});

test('reply cache key: source and exact bytes', () => {
  const a = Buffer.from('REGISTER sip:x SIP/2.0\r\n\r\n');
  assert.equal(requestKey(SRC, a), requestKey(SRC, Buffer.from(a)));
  assert.notEqual(requestKey(SRC, a), requestKey({ ...SRC, port: 5071 }, a));
  assert.notEqual(requestKey(SRC, a), requestKey({ ...SRC, transport: 'tcp' }, a));
  assert.notEqual(requestKey(SRC, a), requestKey(SRC, Buffer.from('REGISTER sip:y SIP/2.0\r\n\r\n')));
});

function register(cseq: number, extra: string[] = []): Buffer {
  return Buffer.from(
    [
      'REGISTER sip:127.0.0.1 SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK-reg' + cseq,
      'From: <sip:alice@127.0.0.1>;tag=f1',
      'To: <sip:alice@127.0.0.1>',
      'Call-ID: reg-1@192.0.2.10',
      `CSeq: ${cseq} REGISTER`,
      'Contact: <sip:alice@192.0.2.10:5070>',
      ...extra,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
    'latin1',
  );
}

async function pipeline(auth: AuthApi, registrar: RegistrarApi) {
  const reg = new ModuleRegistry();
  reg.register(defineModule({ name: 'registrar', params: {}, init() {}, destroy() {}, rpc: {}, api: registrar }));
  reg.register(defineModule({ name: 'auth-db', params: {}, init() {}, destroy() {}, rpc: {}, api: auth }));
  await reg.initAll({ params: new Map() });
  const p = new Pipeline({ registry: reg, myself: new Myself([{ ip: '127.0.0.1', port: 5060, transport: 'udp' }], []), log: silent, security: () => {}, parser: {}, server: 'sipd test' });
  const replies: Buffer[] = [];
  const send = (data: Buffer, source = SRC) => p.handle({ data, source, local: { ip: '127.0.0.1', port: 5060, transport: 'udp' }, reply: (b) => replies.push(b) });
  return { p, replies, send };
}

test('pipeline: a REGISTER retransmitted while it is worked on is absorbed, later copies get the same reply; nothing runs twice', async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  let authCalls = 0;
  let saves = 0;
  const auth: AuthApi = {
    authenticate: async (ctx) => {
      authCalls++;
      if (ctx.msg.authorization.length === 0) return { ok: false, reply: { status: 401, reason: 'Unauthorized', headers: [['WWW-Authenticate', `Digest realm="x", nonce="n${authCalls}"`]] } };
      await gate; // a slow moment: the database, a busy event loop
      return { ok: true, username: 'alice', domain: '127.0.0.1' };
    },
    reloadCredentials: async () => undefined,
  };
  const registrar: RegistrarApi = { save: async (): Promise<ReplySpec> => ({ status: 200, reason: 'OK', headers: [['Contact', `<sip:alice@192.0.2.10:5070>;expires=${3600 - saves++}`]] }) };
  const t = await pipeline(auth, registrar);
  const tick = () => new Promise((r) => setImmediate(r));

  // the challenge, and a retransmission of the unauthenticated REGISTER: the same 401, the same nonce
  t.send(register(1));
  await tick();
  t.send(register(1));
  await tick();
  assert.equal(t.replies.length, 2);
  assert.deepEqual(t.replies[1], t.replies[0], 'byte for byte the same 401');
  assert.equal(authCalls, 1);

  const withCreds = register(2, ['Authorization: Digest username="alice", realm="x", nonce="n1", uri="sip:127.0.0.1", response="0123456789abcdef0123456789abcdef"']);
  t.send(withCreds);
  await tick();
  for (let i = 0; i < 3; i++) t.send(withCreds); // sipp: 500 ms, 1 s, 2 s without an answer
  await tick();
  assert.equal(t.replies.length, 2, 'nothing answered while the first copy is pending');
  assert.equal(t.p.counters.inFlight, 1, 'copies are not worked on');
  release();
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(t.replies.length, 3);
  const ok = parseMessage(t.replies[2]) as SipResponse;
  assert.equal(ok.status, 200);
  t.send(withCreds);
  await tick();
  assert.equal(t.replies.length, 4);
  assert.deepEqual(t.replies[3], t.replies[2], 'a later copy: the same 200, byte for byte');
  assert.deepEqual([authCalls, saves], [2, 1], 'authenticated and saved once');

  // The same request from elsewhere, or a new request (next CSeq), is handled as new.
  t.send(withCreds, { ...SRC, port: 5072 });
  t.send(register(3, ['Authorization: Digest username="alice", realm="x", nonce="n1", uri="sip:127.0.0.1", response="0123456789abcdef0123456789abcdef"']));
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual([authCalls, saves], [4, 3]);
  assert.equal(t.p.counters.inFlight, 0);
});

test('pipeline: a REGISTER refused for load (503) is not remembered: its retransmission is handled', async () => {
  let calls = 0;
  const auth: AuthApi = { authenticate: async () => (calls++, { ok: true, username: 'alice', domain: '127.0.0.1' }), reloadCredentials: async () => undefined };
  const registrar: RegistrarApi = { save: async () => ({ status: 200, reason: 'OK' }) };
  const reg = new ModuleRegistry();
  reg.register(defineModule({ name: 'registrar', params: {}, init() {}, destroy() {}, rpc: {}, api: registrar }));
  reg.register(defineModule({ name: 'auth-db', params: {}, init() {}, destroy() {}, rpc: {}, api: auth }));
  await reg.initAll({ params: new Map() });
  const p = new Pipeline({ registry: reg, myself: new Myself([{ ip: '127.0.0.1', port: 5060, transport: 'udp' }], []), log: silent, security: () => {}, parser: {}, server: 'sipd test', maxInFlight: 1 });
  const replies: Buffer[] = [];
  const send = (data: Buffer) => p.handle({ data, source: SRC, local: { ip: '127.0.0.1', port: 5060, transport: 'udp' }, reply: (b) => replies.push(b) });
  send(register(1));
  send(register(2));
  assert.equal((parseMessage(replies[0]) as SipResponse).status, 503, 'one in flight already');
  await new Promise((r) => setTimeout(r, 5));
  send(register(2));
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(replies.map((b) => (parseMessage(b) as SipResponse).status), [503, 200, 200]);
  assert.equal(calls, 2);
});
