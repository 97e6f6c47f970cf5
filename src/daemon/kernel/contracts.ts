/**
 * The contracts between sipd's request pipeline (kernel) and the modules it calls.
 * The pipeline owns transports, parsing and reply building; modules own their state and
 * return decisions as data (ReplySpec / StageResult), never touching sockets themselves.
 * Module names used with ModuleContext.api(): 'htable', 'pike', 'scanner', 'maxfwd',
 * 'sanity', 'permissions', 'auth-db', 'usrloc', 'registrar', 'stats'.
 */
import type { SipRequest } from '../../core/sip/message.js';

export type SipTransportName = 'udp' | 'tcp' | 'tls';

export interface Endpoint {
  ip: string; // textual, IPv6 without brackets
  port: number;
  transport: SipTransportName;
}

/**
 * One SIP listen socket as the kernel bound it (CoreApi.sipSockets). The proxy sends the requests it
 * forwards or originates over UDP from these from the moment sipd starts: a node that has received
 * nothing yet still sends the BYEs of a call it takes over, or of `dialog.endCall`.
 */
export interface SipSocket {
  /** the address bound (port resolved when 0 was asked for); sipd --workers: the shared address */
  local: Endpoint;
  /**
   * what a request sent from here names in Via and Record-Route: `local`, except for a --workers
   * process's UDP socket: the worker's private port, so responses and in-dialog requests come back
   * to the worker holding the transaction and the dialog (transport/udp.ts, egress)
   */
  advertised: Endpoint;
  /**
   * UDP: send one datagram from this socket (--workers: from the shared port, the address a phone
   * behind NAT registered to). Absent for TCP/TLS: sipd opens no outbound stream connections, a
   * message to a stream peer goes over the connection the peer opened.
   */
  sendTo?(to: { ip: string; port: number }, data: Buffer): void;
}

/**
 * The client certificate of a TLS connection, taken once after the handshake. Absent on
 * RequestContext for UDP/TCP and for a TLS client that presented no certificate.
 */
export interface TlsPeer {
  /** the subject's commonName; undefined when the subject has none, or more than one */
  subjectCN?: string;
  /** the whole subject, one-line (e.g. "CN=alice, O=Example") */
  subject: string;
  /** true when it chains to tls.caFile (checked by the transport) */
  verified: boolean;
  /** SHA-256 fingerprint, colon-separated hex */
  fingerprint256: string;
}

/** One received request as the pipeline hands it to modules. */
export interface RequestContext {
  msg: SipRequest;
  source: Endpoint; // where it came from (received / rport)
  local: Endpoint; // the socket it arrived on (Kamailio's "Socket": udp:127.0.0.1:5060)
  receivedAt: number; // ms
  /** TLS: the peer certificate's subject (for policy, e.g. tls.cnMustMatchFromUser) */
  tlsPeer?: TlsPeer;
  /** the proxy's own addresses/domains (Kamailio's `myself`) */
  isMyself(host: string, port?: number): boolean;
  /**
   * A digest of the source and the bytes of the request (reply-cache.ts requestKey), when the
   * kernel made one: equal for two requests only when one is a retransmission of the other.
   */
  requestKey?: string;
}

/** A stateless reply the pipeline builds from the request (Via, From, To+tag, Call-ID, CSeq copied). */
export interface ReplySpec {
  status: number;
  reason: string;
  /** extra headers, in order, e.g. ['WWW-Authenticate', '…'], ['Contact', '…'], ['Expires', '60'] */
  headers?: Array<[string, string]>;
  body?: string;
}

export type StageResult =
  | { action: 'continue' }
  | { action: 'reply'; reply: ReplySpec }
  | { action: 'drop'; why: string };

/** Structured security event, logged by the kernel as one JSON line (the operators' alerting hook). */
export interface SecurityEvent {
  event: 'flood-ban' | 'auth-lockout' | 'auth-failed' | 'scanner-dropped' | 'sanity-failed' | 'parse-failed' | 'banned-drop' | 'spray-lockout' | 'tls-refused'
    // issue 13's rule modules (blocklist, country, timerule); names as modules/alerts' ALERT_TYPES
    | 'blocklisted-source' | 'country-refused' | 'time-rule' | 'ua-refused';
  sourceIp: string;
  method?: string;
  user?: string;
  detail?: string;
}

// ---- module APIs (what ModuleContext.api<T>(name) returns) ----

export type HtableValue = { type: 'int'; value: number } | { type: 'str'; value: string };

/** module 'htable': Kamailio-style named tables with auto-expiry; persisted by the kernel's state store. */
export interface HtableApi {
  has(table: string): boolean;
  get(table: string, key: string): HtableValue | undefined;
  setInt(table: string, key: string, value: number, expiresSec?: number): void;
  setStr(table: string, key: string, value: string, expiresSec?: number): void;
  /** $shtinc: increments (creating at the table's initval) and returns the new value */
  inc(table: string, key: string, by?: number): number;
  delete(table: string, key: string): boolean;
  /** keys starting with prefix (for unban of IP::user entries) */
  keys(table: string, prefix?: string): string[];
  /**
   * A rule for one table's keys: when `check` returns a reason, the key is not set — neither here
   * (setInt/setStr, htable.sets/seti over RPC) nor from another node or Redis — and a warning
   * names the table, the key and the reason (pike: no ban on a live cluster member's address).
   */
  refuseKeys?(table: string, check: (key: string) => string | undefined): void;
}

/** module 'permissions': the address table in memory (CIDR + port matching, groups). */
export interface PermissionsApi {
  allowSource(group: number, ip: string, port?: number): boolean;
  /** every group whose entries match ip:port */
  groupsOf(ip: string, port?: number): number[];
  reload(): Promise<void>;
}

/** module 'auth-db': digest auth against subscriber.ha1/ha1b with credential cache and failed-auth lockout. */
export interface AuthApi {
  /**
   * Challenge or verify. 'www' for REGISTER (401/WWW-Authenticate), 'proxy' for others (407).
   * Unknown user and wrong password must be indistinguishable on the wire.
   */
  authenticate(ctx: RequestContext, kind: 'www' | 'proxy'): Promise<{ ok: true; username: string; domain: string } | { ok: false; reply: ReplySpec }>;
  reloadCredentials(): Promise<void>;
}

/** module 'registrar' (+ 'usrloc' underneath): REGISTER handling after authentication. */
export interface RegistrarApi {
  save(ctx: RequestContext, username: string, domain: string): Promise<ReplySpec>;
}

export interface ContactRecord {
  aor: string; // "user" or "user@domain" per use_domain
  contact: string; // URI
  expires: number; // absolute, seconds since epoch
  q: number; // -1 = not set (Kamailio reports Q -1)
  callId: string;
  cseq: number;
  userAgent: string;
  received?: string; // sip:ip:port when NAT-ed
  path?: string;
  socket: string; // udp:127.0.0.1:5060
  ruid: string;
  instance?: string;
  regId: number;
  lastModified: number; // seconds since epoch
  flags: number;
  cflags: number;
  methods: number;
  /** sipd --cluster, as read from Redis: the node the contact registered through */
  node?: string;
  /** sipd --cluster: where other nodes hand calls for this contact to that node (UDP ip:port) */
  hop?: string;
}

export interface UsrlocApi {
  lookup(aor: string): ContactRecord[];
  count(): number;
}

/** module 'stats': counters for stats.get_statistics. */
export interface StatsApi {
  inc(name: string, by?: number): void;
}

// ---- kernel services (module 'core') ----

/**
 * module 'core': what the kernel offers every module. Modules never open their own database
 * connection nor write log lines for security events themselves: they ask the kernel, so the
 * database URL follows sipctl's configuration and every security event has one shape and one
 * rate limit.
 */
export interface CoreApi {
  /**
   * The database sipd is configured with (--db, SIPCTL_DB, sipd's config file, sipctl's config
   * file, in that order). Opened on first use and shared; closed by the kernel at shutdown.
   */
  database(): Promise<import('../../core/db/database.js').Database>;
  /** Log one security event as a structured line (rate-limited per event and source). */
  securityEvent(ev: SecurityEvent): void;
  /** The proxy's own addresses and domains (Kamailio's `myself`). */
  isMyself(host: string, port?: number): boolean;
  /** Configured SIP domains (--domain), in order; the first is the default realm. May be empty. */
  domains(): readonly string[];
  /** Directory for state files (--state-dir). */
  readonly stateDir: string;
  /**
   * The SIP sockets bound, in --listen order: empty while modules are initialised (the sockets are
   * bound after init) and once shutdown has begun. Read it when sending, not at init.
   */
  sipSockets(): readonly SipSocket[];
  /**
   * Call `listener` once sipSockets() holds the bound sockets (start, after every module's init):
   * for a module that tells others where it listens (the cluster's hand-off addresses) at once.
   */
  onSipSocketsBound(listener: () => void): void;
}

/**
 * Module state the kernel saves in --state-dir (atomic write-rename) at shutdown and
 * periodically while `changed`, and hands back at start-up after init. A module offers it as
 * `SipdModule.state`.
 */
export interface PersistentState {
  /** JSON-serialisable snapshot; taking it clears `changed` */
  snapshot(): unknown;
  /** Called once after init with what the last snapshot saved (never called when there is none). */
  restore(data: unknown): void;
  /** true when something changed since the last snapshot */
  readonly changed: boolean;
}

/**
 * module 'alerts': the one alert mechanism for security and fraud events (issue 13). Callers
 * name an event type (see modules/alerts/README.md: flood-ban, auth-lockout, blocklisted-source,
 * country-refused, time-rule, blocked-destination, call-limit, daily-limit, cost-limit,
 * limit-threshold, …) and a key; the same (type, key) within the dedup window is one alert.
 * emit() never blocks and never throws: delivery (webhook, exec, syslog) is queued.
 */
export interface AlertsApi {
  emit(type: string, key: string, details?: Readonly<Record<string, unknown>>): void;
  /** The kernel hands every security event here; the alerts module picks those that are alerts. */
  fromSecurityEvent(ev: SecurityEvent): void;
}

// ---- module 'cluster' (sipd --cluster: shared state through Redis) ----

/** One change of a replicated htable entry, as it travels between nodes. */
export interface ClusterHtableEvent {
  op: 'set' | 'del' | 'flush';
  table: string;
  key?: string;
  value?: HtableValue;
  /** epoch ms; 0 = never */
  expires?: number;
}

/** The outcome of a shared call admission. */
export type ClusterAdmission = 'admitted' | 'full' | 'down';

/**
 * module 'cluster': the one door to the state sipd nodes share. Each piece of shared state stays
 * with the module that owns it (htable: bans and counters; usrloc: registrations; dialog: active
 * calls); those modules call this API. `enabled` is false without cluster.url, and then nothing
 * here is called.
 */
/**
 * RFC 3261 §10.3 step 7 over all nodes (the registrar, in a cluster): a binding of one of `uris`
 * with this Call-ID, whichever node wrote it, must have a lower CSeq; the same CSeq written less
 * than `delaySec` ago (registrar.cseq_delay) is a retransmission.
 */
export interface CseqCheck {
  callId: string;
  cseq: number;
  uris: string[];
  delaySec: number;
}

/**
 * Why the cluster store refused a location write: max_contacts on all nodes, or the CSeq rule (a
 * retransmission: another node took this very REGISTER). Each comes with the AoR's bindings on all
 * nodes as they are (expired ones included) when the write asked for them (`list`).
 */
export type LocationRefusal = { contacts: number; bindings?: ContactRecord[] } | { cseq: 'lower' | 'retransmission'; bindings?: ContactRecord[] };

/** A location write with `list` went through: the AoR's bindings on all nodes after it (expired ones included). */
export interface LocationWritten {
  bindings: ContactRecord[];
}

/** a contact a location write removed of another write's: its ruid, and the CSeq and lastModified it had then */
export interface LocationGone {
  ruid: string;
  cseq: number;
  lastModified: number;
}

/**
 * A location write's options. `bindings` (every write through usrloc's commit; not a resync's
 * give-back): a binding is the AoR and the contact URI (RFC 3261 §10.3, Kamailio usrloc
 * matching_mode 0), whichever node wrote it — so the bindings another node wrote for a URI this
 * write puts (the same UA, now registered through this node) or un-registers (`unregister`), or
 * every binding of the AoR (`all`: Contact: *), are removed in the same step, and the nodes
 * holding them are told (ClusterApi.onLocationGone). An RFC 5626 outbound binding is the AoR,
 * `+sip.instance` and reg-id instead (`flows`: flowKey of each put or un-registered one), so the
 * same phone registered from a new Contact through another node replaces its old binding too.
 */
export interface LocationWriteOptions {
  /** a give-back after Redis lost its data: written while the node still counts as down */
  resyncing?: boolean;
  /** registrar.max_contacts over all nodes (0: none) */
  maxContacts?: number;
  cseq?: CseqCheck;
  bindings?: { unregister?: string[]; flows?: string[]; all?: boolean };
  /**
   * return the AoR's bindings on all nodes after the write (LocationWritten; a REGISTER's 200 OK
   * names them all, RFC 3261 §10.3 step 8), read by the same script: no extra round trip
   */
  list?: boolean;
}

export interface ClusterApi {
  readonly enabled: boolean;
  readonly nodeId: string;
  /** call admission while Redis is away (cluster.admission) */
  readonly admission: 'open' | 'closed';
  /** seconds a counted call lives in Redis unless its owner refreshes it (cluster.dialog_ttl_sec) */
  readonly dialogTtlSec: number;
  /** Redis answered the last command (or the connection is up) */
  up(): boolean;
  /** a replicated htable entry changed here: store it and tell the other nodes (queued while down) */
  htableSet(table: string, key: string, value: HtableValue, expires: number): void;
  htableDelete(table: string, key: string): void;
  htableFlush(table: string): void;
  /** atomic increment across nodes; the new total, or undefined when Redis is unreachable */
  htableIncr(table: string, key: string, by: number, ttlSec: number): Promise<{ value: number; expires: number } | undefined>;
  /** every entry of a replicated table as Redis has it (resynchronisation) */
  htableLoad(table: string): Promise<Array<{ key: string; value: HtableValue; expires: number }>>;
  /** another node changed a replicated entry */
  onHtable(listener: (ev: ClusterHtableEvent) => void): void;
  /**
   * called after every (re)connection, before queued writes are replayed. `redisLostData`: Redis
   * came back without the data it had when this node last saw it (restarted without persistence),
   * so the node's copies are the best there is and go back to Redis.
   */
  onConnect(listener: (info: { redisLostData: boolean }) => Promise<void> | void): void;
  /**
   * What this node's first connection found (undefined before it): a module whose listener came
   * after it (usrloc checks its loaded rows once they are loaded) reads it. Compared with the
   * generation kept in the state directory, so a Redis that lost its data while this node was
   * down counts.
   */
  firstConnection?(): { redisLostData: boolean } | undefined;
  /**
   * registrations: write one AoR's changes (throws when Redis is unreachable). With `maxContacts`
   * > 0 and contacts to put, atomically refused when the AoR would then hold more valid contacts
   * than that on all nodes together: resolves with the count it would have had (undefined: written).
   * With `cseq`, first refused by the CSeq rule over every node's bindings (nothing written).
   * With `bindings`, other nodes' bindings of the same contact URIs (or all, for Contact: *) go
   * in the same step (LocationWriteOptions). With `list`, a write that went through resolves
   * with the AoR's bindings after it.
   */
  locationWrite(aor: string, put: ContactRecord[], remove: string[], opts?: LocationWriteOptions): Promise<LocationRefusal | LocationWritten | undefined>;
  /** registrations: the AoR's contacts as every node wrote them (throws when unreachable) */
  locationRead(aor: string): Promise<ContactRecord[]>;
  /**
   * registrations: which of `aors`' contacts the cluster store holds and the node that wrote each,
   * per AoR in the same order: ruid → node id ('' when the record names none). A node's check of
   * its copy at start and while it resynchronises after a reconnection (answered before the node
   * counts as up again); throws when Redis does not answer.
   */
  locationOwners?(aors: string[]): Promise<Array<Map<string, string>>>;
  /**
   * registrations: another write (any node's) removed these contacts of `aor` from the cluster
   * store — a refresh or un-REGISTER of their URI, or Contact: *, through another node. Published
   * by the script that wrote, so a node that holds them drops its copy and row (a copy whose CSeq
   * or time differs was written again since, and stays).
   */
  onLocationGone?(listener: (aor: string, gone: LocationGone[]) => void): void;
  /**
   * registrations, after Redis lost its data: give back contacts another node wrote (the location
   * rows carry its server_id, not its name) without an owner — each only where Redis has no record
   * of that ruid yet, so the owner's own give-back (under its name, with its hand-off address) wins
   * whichever comes first; a record without an owner is called directly, as a dead owner's is.
   * Part of a resync or of the start (answered while the node counts as down); throws when Redis
   * does not answer.
   */
  locationGiveBackUnowned?(entries: Array<{ aor: string; contacts: ContactRecord[] }>): Promise<void>;
  /**
   * registrations: remove these contacts (aor, ruid) from the cluster store, each only while its
   * record there is expired (Redis' clock) — the sweep of rows whose node is gone; a field written
   * again since stays. Throws when Redis does not answer.
   */
  locationExpire?(entries: Array<{ aor: string; ruid: string }>): Promise<number>;
  /**
   * the location table's `server_id` of `node` (this node when omitted): a number derived from the
   * node id (1 … 2^31 - 1), so a row tells which node wrote it also when Redis lost its data
   */
  serverId?(node?: string): number;
  /**
   * the nodes heard from (heartbeat, stopped or not) within `withinMs` — at least the 6 s that make
   * a node alive — as last read (every 2 s), this one included; empty before the first read
   */
  recentNodes?(withinMs: number): string[];
  /** active calls: admit `member` into `user`'s set if fewer than `limit` are live */
  callAdmit(user: string, member: string, limit: number): Promise<ClusterAdmission>;
  /** active calls: this node's live members, deadlines pushed forward (the owner's heartbeat) */
  callRefresh(entries: Array<{ user: string; member: string }>): void;
  callRelease(user: string, member: string): void;
  /**
   * calls per second (pipelimit): one request through every pipe, all or none — admitted when
   * each has fewer than `max` admitted in the last `windowMs` (Redis' clock); 'down' when Redis is away
   */
  pipeAdmit?(pipes: ReadonlyArray<{ name: string; max: number }>, windowMs: number): Promise<ClusterAdmission>;
  /**
   * the nodes that announced themselves, with their last heartbeat (epoch ms); `stopped`: the node
   * shut down cleanly at lastSeen (its entry is kept so others know it is not alive)
   */
  nodes(): Promise<Array<{ node: string; lastSeen: number; listen: string[]; pid: number; stopped: boolean }>>;
  /**
   * whether `node` sent a heartbeat in the last 6 s and has not stopped cleanly since (as last
   * read, every 2 s); undefined: not known (no entry in sipd:nodes yet, or none read yet)
   */
  alive(node: string): boolean | undefined;
  /** this node's UDP address (ip:port) other nodes hand requests to, preferring `socket`'s IP */
  hopFor(socket?: string): string | undefined;
  /**
   * `ip` is the IP of a UDP listen address (what hopOf hands calls to) of another node whose
   * heartbeat is under 6 s old, as last read (every 2 s). A Map lookup: asked per packet by pike.
   */
  memberAddress(ip: string): boolean;
  /** HMAC of `data` with the cluster's key (kept in Redis); undefined before the first connection */
  sign(data: string): string | undefined;
  verify(data: string, sig: string): boolean;
  /**
   * a confirmed dialog this node owns (writes its CDR): other nodes forward its requests here.
   * Written again when `d.state` changes, but only while the record is still this process's
   * (node and pid): never over a node that took the call over.
   */
  dialogOwn(d: ClusterDialog, ttlSec: number): void;
  dialogRelease(callId: string, fromTag: string): void;
  /**
   * The call ended here, if its record is still this process's. With `cdr` (the CDR as JSON) the
   * record becomes a tombstone holding it, same key and expiry, until dialogForget after the CDR
   * is written — should this node die first, another node's sweep claims it (dialogClaimCdr) and
   * writes the CDR. Without, the record goes. 'taken': another node took the call over (that node
   * writes the CDR); 'gone': no record (expired, or Redis lost its data); 'down': Redis
   * unreachable, nothing known. A record this node had taken over ends as a tombstone naming
   * this node (until the key expires), so the node it came from, should it come back, hears 'taken'.
   */
  dialogEnd?(callId: string, fromTag: string, cdr?: string): Promise<'released' | 'taken' | 'gone' | 'down'>;
  /**
   * These calls' CDRs are in the database: their tombstones (dialogEnd with a CDR) go, each only
   * while it still names this process. One request for the lot; rejects when Redis is away.
   */
  dialogForget?(dialogs: Array<{ callId: string; fromTag: string }>): Promise<void>;
  /** the node and pid a call's tombstone (its CDR maybe not written) names; undefined when there is none */
  dialogTombstone?(callId: string, fromTag: string): Promise<{ node: string; pid?: number } | undefined>;
  /**
   * Claim the tombstone of a dead node (`from`, as read): one script, one node wins. The CDR (JSON)
   * when this node won — the tombstone now names this process, for it to write the CDR and then
   * dialogForget; undefined when it no longer names `from`.
   */
  dialogClaimCdr?(callId: string, fromTag: string, from: { node: string; pid?: number }): Promise<string | undefined>;
  /**
   * Take over a dialog whose owner (`from`: node and pid, as read) is gone: one Lua script, so one
   * node wins. The record as the owner last wrote it (with its `state`) when this node won;
   * undefined when the record no longer names `from` (another node took it, or it ended).
   */
  dialogClaim?(callId: string, fromTag: string, from: { node: string; pid?: number }): Promise<ClusterDialog | undefined>;
  /** the deadlines of the dialogs this node owns pushed dialog_ttl_sec forward (the owner's heartbeat) */
  dialogRefresh?(dialogs: Array<{ callId: string; fromTag: string }>): void;
  /** dialogs whose owner has not refreshed them for dialog_ttl_sec (at most `limit`) */
  dialogsOverdue?(limit: number): Promise<Array<{ callId: string; fromTag: string }>>;
  /** the dialogs of a Call-ID some node owns (throws when Redis is unreachable) */
  dialogOwners(callId: string): Promise<ClusterDialog[]>;
  /** ask `node` to do `op` (pub/sub); resolves with its answer, rejects after timeout_ms * 4 */
  command(node: string, op: string, args: Record<string, unknown>): Promise<unknown>;
  /** answer commands other nodes send this node */
  onCommand(op: string, handler: (args: Record<string, unknown>) => Promise<unknown> | unknown): void;
}

/** A dialog as the cluster store has it: who owns it and where that node takes requests. */
export interface ClusterDialog {
  callId: string;
  fromTag: string;
  toTag: string;
  node: string;
  /** ip:port (UDP) of the owner */
  hop: string;
  /** the owner's process id (a node restarted under the same name has another): set by the cluster module */
  pid?: number;
  /** what another node needs to take the call over (the dialog module's; opaque to the cluster module) */
  state?: unknown;
  /** the node this record was taken over from */
  takenFrom?: string;
}
