/**
 * sipd's call handling in one process for unit tests: the kernel pipeline with the real modules
 * (sanity, maxfwd, scanner, permissions, usrloc, auth-db, registrar, identity, mtree, pipelimit,
 * acc, dialog, proxy) over a fresh SQLite database, a fake network that records every datagram
 * sipd sends, and a fake clock for the transaction timers.
 *
 * sipd is 127.0.0.1:5060 (domain sip.example.com). Subscribers alice and bob (domain 127.0.0.1)
 * share PASSWORD. The carrier is 127.0.0.2 (address group 200).
 */
import { createAlertsModule } from '../../../src/daemon/modules/alerts/alerts-module.js';
import { createHash } from 'node:crypto';
import { parseMessage } from '../../../src/core/sip/parser.js';
import type { SipRequest, SipResponse } from '../../../src/core/sip/message.js';
import type { Database } from '../../../src/core/db/database.js';
import { addSubscriber } from '../../../src/core/subscribers/subscribers.js';
import type { ContactRecord, CoreApi, SipSocket, SipTransportName } from '../../../src/daemon/kernel/contracts.js';
import { defineModule, type ParamSpecs, type SipdModule } from '../../../src/daemon/kernel/module.js';
import { ModuleRegistry } from '../../../src/daemon/kernel/module-registry.js';
import { Myself } from '../../../src/daemon/kernel/myself.js';
import { Pipeline } from '../../../src/daemon/kernel/pipeline.js';
import { createAccModule } from '../../../src/daemon/modules/acc/acc-module.js';
import { createAuthDbModule } from '../../../src/daemon/modules/auth-db/auth-db-module.js';
import { createDialogModule } from '../../../src/daemon/modules/dialog/dialog-module.js';
import { DEFAULT_HTABLES, makeDefinition } from '../../../src/daemon/modules/htable/htable.js';
import { createHtableModule } from '../../../src/daemon/modules/htable/htable-module.js';
import { createIdentityModule } from '../../../src/daemon/modules/identity/identity-module.js';
import { createMaxfwdModule } from '../../../src/daemon/modules/maxfwd/maxfwd-module.js';
import { createMtreeModule } from '../../../src/daemon/modules/mtree/mtree-module.js';
import { createPermissionsModule } from '../../../src/daemon/modules/permissions/permissions-module.js';
import { createPikeModule } from '../../../src/daemon/modules/pike/pike-module.js';
import { createPipelimitModule } from '../../../src/daemon/modules/pipelimit/pipelimit-module.js';
import { createProxyModule } from '../../../src/daemon/modules/proxy/proxy-module.js';
import { createRegistrarModule } from '../../../src/daemon/modules/registrar/registrar-module.js';
import { createSanityModule } from '../../../src/daemon/modules/sanity/sanity-module.js';
import { createScannerModule } from '../../../src/daemon/modules/scanner/scanner-module.js';
import { createUsrlocModule, type UsrlocModuleApi } from '../../../src/daemon/modules/usrloc/usrloc-module.js';
import { ManualTimers } from '../../../src/daemon/transaction/timers.js';
import type { Inbound } from '../../../src/daemon/transport/transport.js';
import { createTestDb, type TestDb } from '../../helpers/db.js';

export const PASSWORD = 'Tr0ub4dor-Horse-77';
const silent = { debug() {}, info() {}, warn() {}, error() {} };

export interface Sent {
  /** ip:port it went to */
  to: string;
  from: string;
  text: string;
  msg: SipRequest | SipResponse;
}

export interface Harness {
  db: Database;
  testDb: TestDb;
  registry: ModuleRegistry;
  timers: ManualTimers;
  /** every message sipd sent, in order */
  wire: Sent[];
  /** a message from ip:port (default alice's phone 10.0.0.5:5070) */
  send(text: string, from?: string, transport?: SipTransportName): void;
  /** let pending async work (auth, DNS-free resolution) finish */
  settle(): Promise<void>;
  /** messages sent to `to` since index `since` */
  to(to: string, since?: number): Sent[];
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  register(user: string, contact: string, received?: string, socket?: string): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  modules?: Record<string, Record<string, unknown>>;
  carriers?: string[];
  blocked?: string[];
  /** load pike (flood detection) too */
  pike?: boolean;
  /** load the alerts module (alerts.recent shows what the modules raised) */
  alerts?: boolean;
}

export async function harness(o: HarnessOptions = {}): Promise<Harness> {
  const testDb = await createTestDb('sqlite');
  const db = await testDb.open();
  for (const u of ['alice', 'bob', 'carol']) await addSubscriber(db, u, '127.0.0.1', PASSWORD, { hash: 'md5', storePlaintext: false });
  for (const ip of o.carriers ?? ['127.0.0.2']) await db.execute('INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (200, ?, 32, 0, ?)', [ip, 'carrier']);
  for (const p of o.blocked ?? []) await db.execute('INSERT INTO mtree (tprefix, tvalue) VALUES (?, ?)', [p, 'blocked']);

  const timers = new ManualTimers();
  const myself = new Myself([{ ip: '127.0.0.1', port: 5060, transport: 'udp' }], ['sip.example.com']);
  const wire: Sent[] = [];
  const record = (to: string, b: Buffer) => wire.push({ to, from: '127.0.0.1:5060', text: b.toString(), msg: parseMessage(b) as SipRequest | SipResponse });
  // sipd's one UDP socket, as the kernel hands it to modules: what the proxy sends from
  const udpSocket: SipSocket = { local: { ip: '127.0.0.1', port: 5060, transport: 'udp' }, advertised: { ip: '127.0.0.1', port: 5060, transport: 'udp' }, sendTo: (to, b) => record(`${to.ip}:${to.port}`, b) };
  const core: CoreApi = { database: async () => db, securityEvent: () => undefined, isMyself: (h, p) => myself.isMyself(h, p), domains: () => ['sip.example.com'], stateDir: '/nonexistent', sipSockets: () => [udpSocket], onSipSocketsBound: () => undefined };
  const registry = new ModuleRegistry();
  registry.register(defineModule({ name: 'core', params: {}, init() {}, destroy() {}, rpc: {}, api: core }));
  registry.register(createHtableModule({ definitions: Object.entries(DEFAULT_HTABLES).map(([n, a]) => makeDefinition(n, a)) }));
  const mods: Array<SipdModule<ParamSpecs, unknown>> = [
    ...(o.alerts ? [createAlertsModule()] : []),
    createSanityModule(),
    createMaxfwdModule(),
    createScannerModule(),
    ...(o.pike ? [createPikeModule()] : []),
    createPermissionsModule({ db }),
    createUsrlocModule({ db }),
    createAuthDbModule({ db }),
    createRegistrarModule(),
    createIdentityModule(),
    createMtreeModule({ db }),
    createPipelimitModule(),
    createAccModule({ db }),
    createDialogModule(),
    createProxyModule({ timers }),
  ] as never;
  for (const m of mods) registry.register(m);
  const params = new Map<string, Record<string, unknown>>(Object.entries({ usrloc: { db_mode: 0 }, 'auth-db': { secret: 'a-test-secret-of-at-least-32-characters!' }, ...o.modules }));
  await registry.initAll({ params, log: silent });
  const pipeline = new Pipeline({ registry, myself, log: silent, security: () => undefined, parser: {}, server: 'sipd test' });

  const local = (transport: SipTransportName) => ({ ip: '127.0.0.1', port: 5060, transport });
  const send = (text: string, from = '10.0.0.5:5070', transport: SipTransportName = 'udp') => {
    const [ip, port] = [from.slice(0, from.lastIndexOf(':')), Number(from.slice(from.lastIndexOf(':') + 1))];
    const m: Inbound = {
      data: Buffer.from(text, 'utf8'),
      source: { ip, port, transport },
      local: local(transport),
      reply: (b) => record(from, b),
    };
    pipeline.handle(m);
  };
  const settle = async () => {
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  };
  const ul = registry.api<UsrlocModuleApi>('usrloc')!;
  return {
    db,
    testDb,
    registry,
    timers,
    wire,
    send,
    settle,
    to: (to, since = 0) => wire.slice(since).filter((s) => s.to === to),
    rpc: async <T>(method: string, p?: unknown[]) => (await registry.lookup(method)!.handler(p)) as T,
    async register(user, contact, received, socket = 'udp:127.0.0.1:5060') {
      const now = Math.floor(Date.now() / 1000);
      const c: ContactRecord = { aor: user, contact, expires: now + 3600, q: -1, callId: `reg-${user}`, cseq: 1, userAgent: 'test', ...(received ? { received } : {}), socket, ruid: ul.newRuid(), regId: 0, lastModified: now, flags: 0, cflags: 0, methods: 0xffffffff };
      await ul.withLock(user, () => ul.commit(user, { insert: [c] }));
    },
    async close() {
      await registry.destroyAll();
      await db.close();
      await testDb.drop();
    },
  };
}

// ------------------------------------------------------------------ UAs

let n = 0;
export interface Call {
  callId: string;
  fromTag: string;
  branch: string;
  cseq: number;
}

export function newCall(): Call {
  n++;
  return { callId: `call-${n}-${process.pid}@10.0.0.5`, fromTag: `ft${n}`, branch: `z9hG4bK-uac${n}`, cseq: 1 };
}

export interface RequestOptions {
  method?: string;
  uri?: string;
  from?: string;
  to?: string;
  toTag?: string;
  via?: string;
  branch?: string;
  cseq?: number;
  contact?: string;
  headers?: string[];
  route?: string[];
  body?: string;
}

/** A request from alice's phone (10.0.0.5:5070) unless told otherwise. */
export function request(c: Call, o: RequestOptions = {}): string {
  const method = o.method ?? 'INVITE';
  const body = o.body ?? '';
  return [
    `${method} ${o.uri ?? 'sip:bob@127.0.0.1'} SIP/2.0`,
    `Via: ${o.via ?? `SIP/2.0/UDP 10.0.0.5:5070;branch=${o.branch ?? c.branch};rport`}`,
    ...(o.route ?? []).map((r) => `Route: ${r}`),
    `From: ${o.from ?? '<sip:alice@127.0.0.1>'};tag=${c.fromTag}`,
    `To: ${o.to ?? `<${o.uri ?? 'sip:bob@127.0.0.1'}>`}${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${c.callId}`,
    `CSeq: ${o.cseq ?? c.cseq} ${method === 'ACK' || method === 'CANCEL' ? method : method}`,
    `Contact: ${o.contact ?? '<sip:alice@10.0.0.5:5070>'}`,
    'Max-Forwards: 70',
    ...(o.headers ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

function md5(s: string): string {
  return createHash('md5').update(s).digest('hex');
}

/** Proxy-Authorization answering the 407 `challenge` for `user` (qop=auth, MD5). */
export function credentials(challenge: SipResponse, user: string, method: string, uri: string, password = PASSWORD): string {
  const ch = challenge.proxyAuthenticate[0].params;
  const realm = ch.get('realm')!;
  const nonce = ch.get('nonce')!;
  const cnonce = 'c0ffee';
  const nc = '00000001';
  const ha1 = md5(`${user}:${realm}:${password}`);
  const ha2 = md5(`${method}:${uri}`);
  const response = md5(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return `Proxy-Authorization: Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

/** A response from the UA that received `req` (its Vias, Record-Route, From, To+tag, Call-ID, CSeq). */
export function respond(req: SipRequest, status: number, reason: string, o: { toTag?: string; contact?: string; headers?: string[] } = {}): string {
  const lines = [`SIP/2.0 ${status} ${reason}`];
  for (const f of req.headers) if (f.key === 'via') lines.push(`Via: ${f.value}`);
  if (status > 100 && status < 300) for (const f of req.headers) if (f.key === 'record-route') lines.push(`Record-Route: ${f.value}`);
  for (const f of req.headers) if (f.key === 'from') lines.push(`From: ${f.value}`);
  const to = req.headers.find((f) => f.key === 'to')!.value;
  lines.push(`To: ${req.to?.tag !== undefined || status === 100 ? to : `${to};tag=${o.toTag ?? 'callee1'}`}`);
  lines.push(`Call-ID: ${req.callId}`, `CSeq: ${req.cseq!.seq} ${req.cseq!.method}`);
  if (o.contact !== undefined) lines.push(`Contact: ${o.contact}`);
  lines.push(...(o.headers ?? []), 'Content-Length: 0', '', '');
  return lines.join('\r\n');
}

export function asRequest(s: Sent): SipRequest {
  if (s.msg.type !== 'request') throw new Error(`expected a request, got ${s.text.split('\r\n')[0]}`);
  return s.msg;
}

export function asResponse(s: Sent): SipResponse {
  if (s.msg.type !== 'response') throw new Error(`expected a response, got ${s.text.split('\r\n')[0]}`);
  return s.msg;
}

export function statuses(list: Sent[]): number[] {
  return list.filter((s) => s.msg.type === 'response').map((s) => (s.msg as SipResponse).status);
}

/**
 * alice (authenticated) calls `uri`: INVITE → 407 → ACK → INVITE with credentials. Returns the
 * call and the index in the wire where the authenticated INVITE's effects start.
 */
export async function authedInvite(h: Harness, o: RequestOptions & { user?: string } = {}): Promise<{ call: Call; since: number; uri: string }> {
  const call = newCall();
  const uri = o.uri ?? 'sip:bob@127.0.0.1';
  const user = o.user ?? 'alice';
  const from = o.from ?? `<sip:${user}@127.0.0.1>`;
  const start = h.wire.length;
  h.send(request(call, { ...o, uri, from }));
  await h.settle();
  const challenge = h.wire.slice(start).find((s) => s.msg.type === 'response' && (s.msg as SipResponse).status === 407);
  if (challenge === undefined) throw new Error(`no 407: ${h.wire.slice(start).map((s) => s.text.split('\r\n')[0]).join(' | ')}`);
  const ch = asResponse(challenge);
  h.send(request(call, { uri, from, method: 'ACK', toTag: ch.to?.tag, cseq: 1 }));
  call.cseq = 2;
  call.branch = `${call.branch}-2`;
  const since = h.wire.length;
  h.send(request(call, { ...o, uri, from, headers: [...(o.headers ?? []), credentials(ch, user, 'INVITE', uri)] }));
  await h.settle();
  return { call, since, uri };
}
