/**
 * Server-side HTTP Digest for SIP (RFC 3261 §22.4 on RFC 2617, RFC 7616, RFC 8760): challenge
 * building and credential verification against precomputed HA1 values, MD5 and SHA-256,
 * qop=auth (and the RFC 2069 form without qop, one use per nonce).
 *
 * Nonces are stateless: base64url(timestamp ‖ random ‖ HMAC-SHA256(secret, timestamp ‖ random ‖
 * algorithm ‖ realm)). A nonce we did not issue, or issued for another realm or algorithm, fails
 * the MAC; an old one is answered stale=true (only when the digest itself is right, as RFC 2617
 * §3.2.1 asks). The only state is a bounded LRU of nonce → highest nc seen, which turns replays
 * into failures; when it has to forget a nonce, every nonce issued up to that one's time is
 * treated as stale from then on, so eviction can never re-open a replay.
 *
 * A retransmission is not a replay. Over UDP a client sends the very same request again when the
 * answer is slow (RFC 3261 §17.1.2.2: every 500 ms at first, for up to 32 s). Refusing it would
 * fail a correct login just because the server was busy, and with a lockout counting failures a
 * few slow moments would lock a honest client out. So the LRU also keeps, per nonce, the last
 * credentials it accepted and the identity of the request that carried them (VerifyRequest
 * `requestId`, e.g. a hash of every header and the body): the same credentials in the same
 * request within RETRANSMISSION_MS are accepted again, marked `retransmission`. The same
 * credentials in any other request (another Call-ID, CSeq, Contact…) are still a replay.
 *
 * An unknown user and a wrong password are indistinguishable: same result, and the same work
 * (a response is computed against a dummy HA1 and compared in constant time).
 */
import { createHmac, hash, randomFillSync, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '../../../core/errors.js';
import type { AuthValue } from '../../../core/sip/message.js';
import { parseAuth } from '../../../core/sip/headers.js';
import { SipParseError } from '../../../core/sip/sip-parse-error.js';
import { quote } from '../../../core/sip/serializer.js';

export type DigestAlgorithm = 'SHA-256' | 'MD5';

const ALGORITHMS: ReadonlyMap<string, { name: DigestAlgorithm; hash: 'sha256' | 'md5'; hexLength: number; id: number }> = new Map([
  ['SHA-256', { name: 'SHA-256', hash: 'sha256', hexLength: 64, id: 1 }],
  ['MD5', { name: 'MD5', hash: 'md5', hexLength: 32, id: 2 }],
]);

function algorithmInfo(a: DigestAlgorithm) {
  const info = ALGORITHMS.get(a);
  if (info === undefined) throw new ValidationError('algorithm', `unsupported digest algorithm ${JSON.stringify(a)}`);
  return info;
}

function h(alg: DigestAlgorithm, s: string): string {
  // one-shot: a Hash object per value cost twice as much, and a REGISTER needs three
  return hash(algorithmInfo(alg).hash, s, 'hex');
}

/** HA1 = H(username ":" realm ":" password) (RFC 7616 §3.4.2). For ha1b, username is "user@domain". */
export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return h(algorithm, `${username}:${realm}:${password}`);
}

export interface ResponseInput {
  algorithm: DigestAlgorithm;
  /** hex, as stored in the subscriber table */
  ha1: string;
  nonce: string;
  method: string;
  /** the digest-uri from the credentials */
  uri: string;
  /** "auth" or absent (RFC 2069 compatibility) */
  qop?: 'auth';
  /** 8 hex digits, with qop */
  nc?: string;
  cnonce?: string;
  /** H(method:uri) when the caller has it already */
  ha2?: string;
}

/**
 * request-digest (RFC 7616 §3.4.1): H(HA1:nonce:nc:cnonce:qop:HA2) with qop=auth,
 * H(HA1:nonce:HA2) without; HA2 = H(method:digest-uri).
 */
export function computeResponse(r: ResponseInput): string {
  const ha2 = r.ha2 ?? h(r.algorithm, `${r.method}:${r.uri}`);
  const ha1 = r.ha1.toLowerCase();
  if (r.qop === 'auth') return h(r.algorithm, `${ha1}:${r.nonce}:${r.nc ?? ''}:${r.cnonce ?? ''}:auth:${ha2}`);
  return h(r.algorithm, `${ha1}:${r.nonce}:${ha2}`);
}

/** What the HA1 lookup is asked for. */
export interface Ha1Query {
  /** the username parameter exactly as the client sent it */
  username: string;
  /** user part: the username, or what precedes "@" in a user@domain username */
  user: string;
  /** the domain of a user@domain username */
  domain?: string;
  realm: string;
  algorithm: DigestAlgorithm;
  /**
   * 'ha1b' when the username is user@domain (Kamailio's ha1b column: H(user@domain:realm:pw)),
   * 'ha1' otherwise.
   */
  variant: 'ha1' | 'ha1b';
}

/**
 * Returns the stored HA1 (hex) for the query, or undefined when there is no such subscriber or
 * no hash for that algorithm. Should take the same time either way where the store allows.
 */
export type Ha1Lookup = (q: Ha1Query) => string | undefined | Promise<string | undefined>;

export type DigestFailReason =
  /** not parsable as Digest credentials, or missing/contradictory parameters */
  | 'malformed'
  /** algorithm, qop or userhash we do not offer */
  | 'unsupported'
  | 'realm-mismatch'
  /** digest-uri differs from the Request-URI (RFC 2617 §3.2.2.5) */
  | 'uri-mismatch'
  /** nonce not issued by us (MAC), or for another realm or algorithm */
  | 'bad-nonce'
  /** nc not above the last one accepted for this nonce, or a qop-less nonce used again */
  | 'replay'
  /** unknown user or wrong password: deliberately one reason */
  | 'invalid-credentials';

export type DigestVerifyResult =
  | {
    status: 'ok'; username: string; realm: string; algorithm: DigestAlgorithm; variant: 'ha1' | 'ha1b';
    /** present (true) when these credentials were already accepted in this very request: a retransmission */
    retransmission?: true;
  }
  | { status: 'stale' }
  | { status: 'fail'; reason: DigestFailReason };

export interface DigestOptions {
  /** default realm for challenges and verification */
  realm: string;
  /** HMAC key for nonces, at least 32 bytes; copied, and wiped by close() */
  secret: Uint8Array;
  /** seconds a nonce stays fresh; default 300 */
  nonceExpires?: number;
  /** offered and accepted, in order of preference; default SHA-256 then MD5 (RFC 8760 §2.4) */
  algorithms?: readonly DigestAlgorithm[];
  /** accept credentials without qop (RFC 2069 style, one use per nonce); default true */
  allowNoQop?: boolean;
  /** nonces whose nc is remembered; default 65,536 */
  replayCacheSize?: number;
  /** milliseconds; default Date.now */
  now?: () => number;
  /** default crypto.randomBytes */
  randomBytes?: (n: number) => Buffer;
}

export interface VerifyRequest {
  /** the request method (HA2) */
  method: string;
  /** the Request-URI as written; when given, digest-uri must equal it */
  uri?: string;
  /** the realm to authenticate in; default the configured one */
  realm?: string;
  ha1Lookup: Ha1Lookup;
  /**
   * What identifies the request as a whole (e.g. a hash of its header fields and body): the same
   * credentials again in a request with the same requestId, soon after, are a retransmission
   * rather than a replay. Without it, every repeat is a replay.
   */
  requestId?: string;
}

/** How long after acceptance an identical request counts as a retransmission: Timer F / J, 64 × T1 (RFC 3261 §17). */
export const RETRANSMISSION_MS = 32_000;

const TS_BYTES = 8;
const RANDOM_BYTES = 16;
const MAC_BYTES = 32;
const NONCE_BYTES = TS_BYTES + RANDOM_BYTES + MAC_BYTES;
const NONCE_CHARS = Math.ceil((NONCE_BYTES * 4) / 3);
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const HEX8 = /^[0-9a-fA-F]{8}$/;
const HEX = /^[0-9a-fA-F]+$/;

/**
 * One nonce used before: the highest nc accepted, the nonce's issue time, and the credentials
 * last accepted with it and the request that carried them (for telling a retransmission from a
 * replay). One object per nonce, as the cache holds tens of thousands of them.
 */
interface ReplayEntry {
  nonce: string;
  /** highest nc accepted (Infinity once a qop-less answer used the nonce) */
  nc: number;
  /** the nonce's issue time */
  ts: number;
  /** the last acceptance, when its request had a requestId: nc (Infinity without qop), cnonce, response (lower case), when (ms) */
  lastRequestId: string | undefined;
  lastNc: number;
  lastCnonce: string;
  lastResponse: string;
  lastAt: number;
  /** LRU list: towards the least (prev) and the most (next) recently used */
  prev: ReplayEntry | undefined;
  next: ReplayEntry | undefined;
}

/**
 * A copy of `s` that does not keep the text it was cut from alive. V8 makes a substring of 13 or
 * more characters a view into its parent — here the whole request — and a remembered view holds
 * all of it: a full replay cache kept 65,536 requests' text, some 45 MB (issue 18, heap
 * snapshot). Concatenating makes a new string; slicing that keeps only the copy.
 */
function detach(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}

/**
 * Bounded LRU of nonces used before: a Map for lookup, a doubly linked list for the order. (Not
 * the Map's own insertion order: once full, taking its oldest entry walks every slot deleted
 * since the Map last compacted itself, which at 65,536 nonces cost some 20 µs per
 * authentication.)
 */
class ReplayCache {
  private readonly map = new Map<string, ReplayEntry>();
  /** least recently used */
  private head: ReplayEntry | undefined;
  /** most recently used */
  private tail: ReplayEntry | undefined;
  /** nonces issued at or before this time may have been forgotten */
  forgetBefore = -Infinity;
  constructor(private readonly max: number) {}

  private unlink(n: ReplayEntry): void {
    if (n.prev === undefined) this.head = n.next;
    else n.prev.next = n.next;
    if (n.next === undefined) this.tail = n.prev;
    else n.next.prev = n.prev;
    n.prev = undefined;
    n.next = undefined;
  }

  private append(n: ReplayEntry): void {
    n.prev = this.tail;
    n.next = undefined;
    if (this.tail === undefined) this.head = n;
    else this.tail.next = n;
    this.tail = n;
  }

  /** The entry of a nonce, now the most recently used; undefined when never used (or forgotten). */
  get(nonce: string): ReplayEntry | undefined {
    const n = this.map.get(nonce);
    if (n === undefined) return undefined;
    if (n !== this.tail) {
      this.unlink(n);
      this.append(n);
    }
    return n;
  }

  /** Record an acceptance: nc, the nonce's issue time and what identifies it as a request. */
  set(nonce: string, nc: number, ts: number, last: { requestId: string | undefined; cnonce: string; response: string; at: number }): void {
    let n = this.map.get(nonce);
    if (n === undefined) {
      nonce = detach(nonce);
      n = { nonce, nc, ts, lastRequestId: undefined, lastNc: 0, lastCnonce: '', lastResponse: '', lastAt: 0, prev: undefined, next: undefined };
      this.map.set(nonce, n);
      this.append(n);
    } else if (n !== this.tail) {
      this.unlink(n);
      this.append(n);
    }
    n.nc = nc;
    n.ts = ts;
    n.lastRequestId = last.requestId;
    n.lastNc = nc;
    n.lastCnonce = detach(last.cnonce);
    n.lastResponse = detach(last.response);
    n.lastAt = last.at;
    while (this.map.size > this.max && this.head !== undefined) {
      const oldest = this.head;
      this.unlink(oldest);
      this.map.delete(oldest.nonce);
      if (oldest.ts > this.forgetBefore) this.forgetBefore = oldest.ts;
    }
  }

  get size(): number {
    return this.map.size;
  }
}

/** HMAC-SHA256 block size (RFC 2104: B = 64). */
const BLOCK = 64;
/** realms up to this many bytes are MACed without allocating */
const REALM_ROOM = 1024;

/**
 * HMAC-SHA256 (RFC 2104) of the nonce fields, the same bytes createHmac gives, with the key's
 * pads prepared once: two one-shot hashes over reused buffers instead of an Hmac object per
 * nonce, which was a tenth of the CPU of a REGISTER.
 */
class NonceMac {
  /** K ⊕ ipad, then room for the message */
  private readonly inner = Buffer.alloc(BLOCK + TS_BYTES + RANDOM_BYTES + 1 + REALM_ROOM);
  /** K ⊕ opad, then the inner hash */
  private readonly outer = Buffer.alloc(BLOCK + MAC_BYTES);

  constructor(private readonly secret: Buffer) {
    const key = secret.length > BLOCK ? hash('sha256', secret, 'buffer') : secret;
    for (let i = 0; i < BLOCK; i++) {
      const k = i < key.length ? key[i] : 0;
      this.inner[i] = k ^ 0x36;
      this.outer[i] = k ^ 0x5c;
    }
  }

  /** MAC of head ‖ algorithm id ‖ realm (UTF-8). */
  mac(head: Buffer, algorithmId: number, realm: string): Buffer {
    const need = Buffer.byteLength(realm, 'utf8');
    if (need > REALM_ROOM) return createHmac('sha256', this.secret).update(head.subarray(0, TS_BYTES + RANDOM_BYTES)).update(Buffer.of(algorithmId)).update(realm, 'utf8').digest();
    const m = BLOCK;
    head.copy(this.inner, m, 0, TS_BYTES + RANDOM_BYTES);
    this.inner[m + TS_BYTES + RANDOM_BYTES] = algorithmId;
    const n = this.inner.write(realm, m + TS_BYTES + RANDOM_BYTES + 1, 'utf8');
    hash('sha256', this.inner.subarray(0, m + TS_BYTES + RANDOM_BYTES + 1 + n), 'buffer').copy(this.outer, BLOCK);
    return hash('sha256', this.outer, 'buffer');
  }

  wipe(): void {
    this.inner.fill(0);
    this.outer.fill(0);
  }
}

/** Bytes drawn from the CSPRNG at a time for nonces: one call per 256 nonces instead of one each. */
const RANDOM_POOL = 4096;

export class DigestAuth {
  private readonly realm: string;
  private readonly secret: Buffer;
  private readonly expiresMs: number;
  private readonly algorithms: readonly DigestAlgorithm[];
  private readonly allowNoQop: boolean;
  private readonly now: () => number;
  /** the randomBytes option, when given (tests); otherwise nonces draw from `pool` */
  private readonly random: ((n: number) => Buffer) | undefined;
  private readonly pool = Buffer.alloc(RANDOM_POOL);
  private poolAt = RANDOM_POOL;
  private readonly nonceMac: NonceMac;
  private readonly replay: ReplayCache;
  /** per algorithm, a random HA1 used when the user is unknown, so both paths do the same work */
  private readonly dummyHa1 = new Map<DigestAlgorithm, string>();
  /** HA2 = H(method:uri) of recent requests: a registrar sees the same few (REGISTER, its own URI) over and over */
  private readonly ha2Cache = new Map<string, string>();

  constructor(opts: DigestOptions) {
    if (typeof opts.realm !== 'string') throw new ValidationError('realm', 'expected a string');
    if (!(opts.secret instanceof Uint8Array) || opts.secret.length < 32) {
      throw new ValidationError('secret', `expected at least 32 bytes, got ${opts.secret instanceof Uint8Array ? opts.secret.length : typeof opts.secret}`);
    }
    const expires = opts.nonceExpires ?? 300;
    if (!Number.isFinite(expires) || expires <= 0) throw new ValidationError('nonceExpires', 'expected a positive number of seconds');
    const algorithms = opts.algorithms ?? ['SHA-256', 'MD5'];
    if (algorithms.length === 0) throw new ValidationError('algorithms', 'expected at least one algorithm');
    for (const a of algorithms) algorithmInfo(a);
    const cacheSize = opts.replayCacheSize ?? 65_536;
    if (!Number.isSafeInteger(cacheSize) || cacheSize < 1) throw new ValidationError('replayCacheSize', 'expected a positive integer');

    this.realm = opts.realm;
    this.secret = Buffer.from(opts.secret);
    this.expiresMs = expires * 1000;
    this.algorithms = [...algorithms];
    this.allowNoQop = opts.allowNoQop ?? true;
    this.now = opts.now ?? Date.now;
    this.random = opts.randomBytes;
    this.nonceMac = new NonceMac(this.secret);
    this.replay = new ReplayCache(cacheSize);
    for (const a of this.algorithms) this.dummyHa1.set(a, this.randomBytes(algorithmInfo(a).hexLength / 2).toString('hex'));
  }

  /** Wipe the nonce key; the instance is unusable afterwards. */
  close(): void {
    this.secret.fill(0);
    this.nonceMac.wipe();
  }

  /** `n` bytes from the CSPRNG (through the pool), or from the randomBytes option. */
  private randomBytes(n: number): Buffer {
    if (this.random !== undefined) return this.random(n);
    const out = Buffer.allocUnsafe(n);
    this.fillRandom(out, 0, n);
    return out;
  }

  private fillRandom(target: Buffer, offset: number, n: number): void {
    if (this.random !== undefined) {
      this.random(n).copy(target, offset, 0, n);
      return;
    }
    if (this.poolAt + n > RANDOM_POOL) {
      randomFillSync(this.pool);
      this.poolAt = 0;
    }
    // each pooled byte is used once
    this.pool.copy(target, offset, this.poolAt, this.poolAt + n);
    this.poolAt += n;
  }

  /** A fresh nonce for `algorithm` in `realm`. */
  createNonce(algorithm: DigestAlgorithm, realm = this.realm): string {
    const raw = Buffer.allocUnsafe(NONCE_BYTES);
    // the issue time in ms as a 64-bit big-endian integer
    const t = Math.max(0, Math.floor(this.now()));
    raw.writeUInt32BE(Math.floor(t / 2 ** 32), 0);
    raw.writeUInt32BE(t % 2 ** 32, 4);
    this.fillRandom(raw, TS_BYTES, RANDOM_BYTES);
    this.mac(raw, algorithm, realm).copy(raw, TS_BYTES + RANDOM_BYTES);
    return raw.toString('base64url');
  }

  /** MAC over the first TS_BYTES + RANDOM_BYTES of `head`, the algorithm and the realm. */
  private mac(head: Buffer, algorithm: DigestAlgorithm, realm: string): Buffer {
    return this.nonceMac.mac(head, algorithmInfo(algorithm).id, realm);
  }

  /** The issue time (ms) of a nonce we made for this algorithm and realm; undefined otherwise. */
  private openNonce(nonce: string, algorithm: DigestAlgorithm, realm: string): number | undefined {
    if (nonce.length !== NONCE_CHARS || !BASE64URL.test(nonce)) return undefined;
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== NONCE_BYTES || raw.toString('base64url') !== nonce) return undefined;
    if (!timingSafeEqual(raw.subarray(TS_BYTES + RANDOM_BYTES), this.mac(raw, algorithm, realm))) return undefined;
    return raw.readUInt32BE(0) * 2 ** 32 + raw.readUInt32BE(4);
  }

  /**
   * WWW-Authenticate (401) or Proxy-Authenticate (407) values, one challenge per algorithm in
   * order of preference (SHA-256 first): SIP puts each challenge in its own header field.
   */
  challenge(opts: { stale?: boolean; realm?: string } = {}): string[] {
    const realm = opts.realm ?? this.realm;
    return this.algorithms.map((a) => {
      let v = `Digest realm=${quote(realm)}, nonce="${this.createNonce(a, realm)}", algorithm=${a}, qop="auth"`;
      if (opts.stale) v += ', stale=true';
      return v;
    });
  }

  /** Verify Authorization / Proxy-Authorization credentials (the header value, or parsed). */
  async verify(auth: string | AuthValue, req: VerifyRequest): Promise<DigestVerifyResult> {
    const fail = (reason: DigestFailReason): DigestVerifyResult => ({ status: 'fail', reason });
    let cred: AuthValue;
    if (typeof auth === 'string') {
      try {
        cred = parseAuth(auth, 'authorization');
      } catch (e) {
        if (e instanceof SipParseError) return fail('malformed');
        throw e;
      }
    } else {
      cred = auth;
    }
    if (cred.scheme.toLowerCase() !== 'digest') return fail('unsupported');
    const p = cred.params;
    const username = p.get('username');
    const credRealm = p.get('realm');
    const nonce = p.get('nonce');
    const uri = p.get('uri');
    const response = p.get('response');
    if (username === undefined || credRealm === undefined || nonce === undefined || uri === undefined || response === undefined || username === '') {
      return fail('malformed');
    }
    const algParam = p.get('algorithm') ?? 'MD5';
    const info = ALGORITHMS.get(algParam.toUpperCase());
    if (info === undefined || !this.algorithms.includes(info.name)) return fail('unsupported');
    const algorithm = info.name;
    if ((p.get('userhash') ?? 'false').toLowerCase() !== 'false') return fail('unsupported');

    const qop = p.get('qop');
    const nc = p.get('nc');
    const cnonce = p.get('cnonce');
    let ncValue = 0;
    if (qop !== undefined) {
      if (qop !== 'auth') return fail(qop === 'auth-int' ? 'unsupported' : 'malformed');
      if (nc === undefined || !HEX8.test(nc) || cnonce === undefined || cnonce === '') return fail('malformed');
      ncValue = parseInt(nc, 16);
      if (ncValue === 0) return fail('malformed');
    } else {
      if (nc !== undefined || cnonce !== undefined) return fail('malformed');
      if (!this.allowNoQop) return fail('unsupported');
    }
    if (response.length !== info.hexLength || !HEX.test(response)) return fail('malformed');

    const realm = req.realm ?? this.realm;
    if (credRealm !== realm) return fail('realm-mismatch');
    if (req.uri !== undefined && uri !== req.uri) return fail('uri-mismatch');
    const issued = this.openNonce(nonce, algorithm, realm);
    if (issued === undefined) return fail('bad-nonce');

    // Same path for known and unknown users: look up, fall back to a dummy HA1, compute, compare.
    const at = username.indexOf('@');
    const query: Ha1Query = at > 0
      ? { username, user: username.slice(0, at), domain: username.slice(at + 1), realm, algorithm, variant: 'ha1b' }
      : { username, user: username, realm, algorithm, variant: 'ha1' };
    const found = req.ha1Lookup(query);
    // (a cache answers at once: no need to go round the microtask queue for it)
    const stored = typeof found === 'string' || found === undefined ? found : await found;
    const known = typeof stored === 'string' && stored.length === info.hexLength && HEX.test(stored);
    const ha1 = known ? stored : (this.dummyHa1.get(algorithm) as string);
    const expected = computeResponse({ algorithm, ha1, nonce, method: req.method, uri, qop: qop === undefined ? undefined : 'auth', nc, cnonce, ha2: this.ha2(algorithm, req.method, uri) });
    const same = timingSafeEqual(Buffer.from(expected, 'latin1'), Buffer.from(response.toLowerCase(), 'latin1'));
    if (!(same && known)) return fail('invalid-credentials');

    // The digest is right. Old nonce → stale, so the client retries with a fresh one.
    const now = this.now();
    if (now - issued > this.expiresMs || issued - now > this.expiresMs) return { status: 'stale' };

    // Replay protection. No await from here on: check and record are one step.
    const seen = this.replay.get(nonce);
    const ok: DigestVerifyResult = { status: 'ok', username, realm, algorithm, variant: query.variant };
    const nc1 = qop === undefined ? Number.POSITIVE_INFINITY : ncValue;
    const lower = response.toLowerCase();
    if (seen !== undefined && (qop === undefined || ncValue <= seen.nc)) {
      // Used before: the same request again (a retransmission) is fine, anything else is a replay.
      const again = seen.lastRequestId !== undefined && req.requestId !== undefined && seen.lastRequestId === req.requestId && seen.lastNc === nc1 && seen.lastCnonce === (cnonce ?? '') && seen.lastResponse === lower && now - seen.lastAt <= RETRANSMISSION_MS;
      return again ? { ...ok, retransmission: true } : fail('replay');
    }
    if (seen === undefined && issued <= this.replay.forgetBefore) return { status: 'stale' };
    this.replay.set(nonce, nc1, issued, { requestId: req.requestId, cnonce: cnonce ?? '', response: lower, at: now });
    return ok;
  }

  private ha2(algorithm: DigestAlgorithm, method: string, uri: string): string {
    const key = `${algorithm} ${method}:${uri}`;
    let v = this.ha2Cache.get(key);
    if (v === undefined) {
      v = h(algorithm, `${method}:${uri}`);
      // the same for every user: caching it tells nobody anything
      if (this.ha2Cache.size >= 256) this.ha2Cache.clear();
      this.ha2Cache.set(key, v);
    }
    return v;
  }

  /** Nonces currently remembered for replay protection (for stats). */
  get replayCacheEntries(): number {
    return this.replay.size;
  }
}
