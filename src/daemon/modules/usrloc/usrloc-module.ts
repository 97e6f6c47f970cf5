/**
 * The usrloc module: the registrations (AoR → contacts) in memory, written to the `location`
 * table (db_mode 1: through, before the reply; db_mode 2: back, by the timer) and loaded back at
 * start, expired contacts removed by a timer, and
 * Kamailio's ul.dump / ul.lookup / ul.rm / ul.add / ul.rm_contact with their exact result shapes
 * and fault messages (Kamailio's usrloc ul_rpc.c; recorded in
 * test/fixtures/kamailio/recorded/jsonrpc_http.txt and jsonrpc_issue12_runtime.txt).
 */
import { ConfigError, SipctlError } from '../../../core/errors.js';
import { OneAtATime } from '../../../core/one-at-a-time.js';
import type { Database } from '../../../core/db/database.js';
import type { ClusterApi, ContactRecord, CseqCheck, UsrlocApi } from '../../kernel/contracts.js';
import { defineModule, rpcArgs, type Logger, type RpcParams } from '../../kernel/module.js';
import { closeModuleDb, openModuleDb, assertTableName, type ModuleDbDependency } from '../../kernel/module-db.js';
import type { StatsRegistryApi } from '../stats/stats-module.js';
import { type ContactChange, UsrlocStore, isValid } from './usrloc-store.js';
import type { FlushResult } from './location-write-back.js';
import { RpcFault } from '../../kernel/rpc-fault.js';

/** What registrar (and the pipeline's lookup) use. */
export interface UsrlocModuleApi extends UsrlocApi {
  /** valid contacts of an AoR, highest q first */
  lookup(aor: string): ContactRecord[];
  /** contacts held, valid or waiting for the timer */
  count(): number;
  /** AoRs held */
  aorCount(): number;
  /** AoRs are user@domain (use_domain) */
  useDomain(): boolean;
  /** the AoR for an identity: "user" or "user@domain" per use_domain, lower-cased unless case_sensitive */
  aorOf(user: string, domain: string): string;
  /** every contact of an AoR, expired ones included, highest q first (copies) */
  get(aor: string): ContactRecord[];
  /** serialise read-compute-commit on one AoR */
  withLock<T>(aor: string, fn: () => Promise<T>): Promise<T>;
  /**
   * change of one AoR (inside withLock), written through (db_mode 1) or noted for the timer's
   * write-back (db_mode 2). `maxContacts` (registrar.max_contacts): in
   * a cluster, refused with TooManyContactsError when the AoR would hold more valid contacts than
   * that on all nodes together (checked by Redis in the same step as the write). `cseq`: in a
   * cluster, RFC 3261 §10.3's CSeq rule over the bindings every node wrote (the registrar checks
   * this node's own copy first), refused with CSeqOrderError; alone, not used. In a cluster a
   * binding is the AoR and the contact URI whichever node wrote it: the bindings other nodes hold
   * for a URI this change puts, or for `unregister`'s URIs (Expires 0 for a contact this node may
   * not hold), or for `flows` (RFC 5626 instance and reg-id, flowKey: an outbound binding is its
   * flow, whatever its URI), or all of the AoR's with `all` (Contact: *), are removed in the same step, and
   * those nodes drop their copies and rows when Redis tells them; alone, `unregister` and `all`
   * are not used (the change names this node's contacts, which are all there is). `list`: in a
   * cluster, resolves with the AoR's valid contacts on every node after the change (Kamailio's
   * order), read by the same Redis step — a REGISTER's 200 OK names them all; alone, undefined
   * (this node's lookup() is the whole answer).
   */
  commit(aor: string, change: ContactChange, opts?: { maxContacts?: number; cseq?: CseqCheck; unregister?: string[]; flows?: string[]; all?: boolean; list?: boolean }): Promise<ContactRecord[] | undefined>;
  /**
   * delete an AoR and its contacts (ul.rm); returns the number of contacts this node held. In a
   * cluster every node's contacts of the AoR go (Redis first, in one step; the nodes holding them
   * drop their copies and rows when Redis tells them), also when this node holds none; Redis away:
   * ClusterUnavailableError, nothing removed anywhere.
   */
  removeAor(aor: string): Promise<number>;
  /**
   * delete one contact (URI) of an AoR (ul.rm_contact): 'no-aor' / 'no-contact' when there is none
   * to delete. In a cluster the AoR and the contact are looked for on every node (Redis, when this
   * node does not hold the contact) and the binding goes wherever it is held, as removeAor; Redis
   * away: ClusterUnavailableError, nothing removed anywhere.
   */
  removeContact(aor: string, contact: string): Promise<'removed' | 'no-aor' | 'no-contact'>;
  newRuid(): string;
  /** remove expired contacts now (what the timer does); returns how many */
  sweep(): Promise<number>;
  /** db_mode 2: write the pending changes to the table now (what the timer does; ul.flush) */
  flush(): Promise<FlushResult>;
  /**
   * valid contacts of an AoR wherever they registered: in a cluster, what every node wrote to
   * Redis (throws ClusterUnavailableError while Redis is away); alone, lookup()
   */
  lookupAny(aor: string): Promise<ContactRecord[]>;
}

/** Redis (cluster.url) does not answer: registrations can be neither written nor read cluster-wide. */
export class ClusterUnavailableError extends SipctlError {
  override name = 'ClusterUnavailableError';
  constructor(cause?: unknown) {
    super('CLUSTER_UNAVAILABLE', 'the cluster store (Redis) is unreachable', { category: 'connection', cause });
  }
}

/**
 * The cluster store refused a REGISTER's contacts by the CSeq rule: a binding of the same Call-ID,
 * written through any node, has a higher CSeq (or the same, `retransmission` when that was within
 * registrar.cseq_delay). Nothing was written.
 */
export class CSeqOrderError extends SipctlError {
  override name = 'CSeqOrderError';
  /** `bindings` (asked with `list`): the AoR's valid contacts on every node — for a retransmission what the other node answered with, else what the 400 lists */
  constructor(
    readonly retransmission: boolean,
    readonly bindings?: ContactRecord[],
  ) {
    super('INVALID_CSEQ', retransmission ? 'a retransmission of a REGISTER another node took' : 'a binding of this Call-ID has a higher CSeq', { category: 'usage' });
  }
}

/** The cluster store refused a REGISTER's contacts: the AoR would hold `contacts` (> max_contacts) on all nodes. */
export class TooManyContactsError extends SipctlError {
  override name = 'TooManyContactsError';
  /** `bindings` (asked with `list`): the AoR's valid contacts on every node, for the 503 to list */
  constructor(
    readonly contacts: number,
    readonly bindings?: ContactRecord[],
  ) {
    super('TOO_MANY_CONTACTS', `the AoR would hold ${contacts} contacts`, { category: 'usage' });
  }
}

export interface UsrlocDeps {
  /** the database holding `location`; a function is called at init and its result closed at destroy */
  db?: ModuleDbDependency;
}

const params = {
  db_mode: {
    type: 'integer',
    default: 1,
    min: 0,
    max: 2,
    doc: '0 = memory only; 1 = write-through (each change committed before the reply); 2 = write-back (changes written by the timer every timer_interval and at shutdown; a crash loses up to timer_interval of them). 1 and 2 load the location table at start',
  },
  table: { type: 'string', default: 'location', doc: 'usrloc domain and database table name (ul.dump Domain)' },
  use_domain: { type: 'boolean', default: false, doc: 'AoR is user@domain instead of user (Kamailio use_domain)' },
  case_sensitive: { type: 'boolean', default: false, doc: 'keep the case of AoRs; off = lower-case them as Kamailio does by default' },
  hash_size: { type: 'integer', default: 10, min: 1, max: 16, doc: 'the AoR hash has 2^hash_size slots (ul.dump Size; Kamailio hash_size)' },
  timer_interval: { type: 'integer', default: 60, min: 1, max: 3600, doc: 'seconds between timer runs: expired contacts removed, and with db_mode 2 the changes written to the location table' },
} as const;

const NOT_SET = '[not set]';

/** One contact as usrloc's rpc_dump_contact() prints it (5.6, with KA-Roundtrip). */
export function dumpContact(c: ContactRecord, now: number, state = 'CS_SYNC'): { Contact: Record<string, string | number> } {
  const orNotSet = (s: string | undefined) => (s === undefined || s === '' ? NOT_SET : s);
  return {
    Contact: {
      Address: c.contact,
      Expires: c.expires === 0 ? 'permanent' : now > c.expires ? 'expired' : c.expires - now,
      Q: c.q < 0 ? -1 : c.q,
      'Call-ID': c.callId,
      CSeq: c.cseq,
      'User-Agent': orNotSet(c.userAgent),
      Received: orNotSet(c.received),
      Path: orNotSet(c.path),
      State: state,
      Flags: c.flags,
      CFlags: c.cflags,
      Socket: orNotSet(c.socket),
      Methods: c.methods >>> 0,
      Ruid: orNotSet(c.ruid),
      Instance: orNotSet(c.instance),
      'Reg-Id': c.regId,
      'Server-Id': 0,
      'Tcpconn-Id': -1,
      Keepalive: 0,
      'Last-Keepalive': c.lastModified,
      'KA-Roundtrip': 0,
      'Last-Modified': c.lastModified,
    },
  };
}

export function createUsrlocModule(deps: UsrlocDeps = {}) {
  let store: UsrlocStore | undefined;
  let db: Database | undefined;
  let ownsDb = false;
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<unknown> | undefined;
  /** db_mode 2: flushes one at a time, so two states of one contact never race to the table */
  const flushes = new OneAtATime();
  /** db_mode 2: the last flush kept changes (its failure was logged once) */
  let flushFailing = false;
  /** db_mode 2: a flush asked for by a backlog is queued or under way */
  let backlogFlush = false;
  let domainName: string = params.table.default;
  let now = () => Math.floor(Date.now() / 1000);
  let log: Logger | undefined;
  let countExpired = (_n: number): void => {};
  let cluster: ClusterApi | undefined;

  const need = (): UsrlocStore => {
    if (store === undefined) throw new SipctlError('USRLOC_NOT_READY', 'usrloc is not initialised', { category: 'internal' });
    return store;
  };

  const api: UsrlocModuleApi = {
    lookup: (aor) => store?.lookup(aor) ?? [],
    count: () => store?.contactCount ?? 0,
    aorCount: () => store?.aorCount ?? 0,
    useDomain: () => need().useDomain,
    aorOf(user, domain) {
      const s = need();
      const aor = s.useDomain ? `${user}@${domain}` : user;
      return s.lowerCaseAor ? aor.toLowerCase() : aor;
    },
    get: (aor) => store?.get(aor) ?? [],
    withLock: (aor, fn) => need().withLock(aor, fn),
    async commit(aor, change, opts = {}) {
      if (cluster === undefined) {
        await need().commit(aor, change);
        return undefined;
      }
      // In a cluster a registration exists for every node or not at all: with Redis away the
      // REGISTER fails (503) rather than registering on this node only. Redis first: it also
      // decides max_contacts over all nodes, before anything is written here.
      if (!cluster.up()) throw new ClusterUnavailableError();
      const s = need();
      const before = s.get(aor);
      let written: Awaited<ReturnType<ClusterApi['locationWrite']>>;
      try {
        written = await cluster.locationWrite(aor, [...(change.insert ?? []), ...(change.update ?? [])], change.remove ?? [], {
          maxContacts: opts.maxContacts ?? 0,
          cseq: opts.cseq,
          bindings: { unregister: opts.unregister, flows: opts.flows, all: opts.all },
          list: opts.list,
        });
      } catch (e) {
        throw new ClusterUnavailableError(e);
      }
      // a refusal asked with `list` names every node's bindings (the reply lists them, as a 200 does)
      if (written !== undefined && 'contacts' in written) throw new TooManyContactsError(written.contacts, written.bindings === undefined ? undefined : validInOrder(written.bindings));
      if (written !== undefined && 'cseq' in written) {
        throw new CSeqOrderError(written.cseq === 'retransmission', written.bindings === undefined ? undefined : validInOrder(written.bindings));
      }
      try {
        await s.commit(aor, change);
      } catch (e) {
        // the database refused: Redis gets back what it had (the contacts as this node holds them)
        const had = new Map(before.map((c) => [c.ruid, c]));
        const restore = [...(change.update ?? []).map((c) => c.ruid), ...(change.remove ?? [])].flatMap((r) => had.get(r) ?? []);
        // (bindings of other nodes this change replaced stay removed: those nodes dropped them)
        await cluster.locationWrite(aor, restore, (change.insert ?? []).map((c) => c.ruid)).catch((re: unknown) => {
          // Redis failing now marked it down (cluster.stats failures): until the reconnection
          // check (which drops this node's copies Redis no longer has) Redis may hold contacts
          // the table refused, which then go when they expire or the UA registers again
          log?.error('usrloc: giving the cluster store back what it had failed', { aor, error: String(re) });
        });
        throw e;
      }
      return written === undefined ? undefined : validInOrder(written.bindings);
    },
    async lookupAny(aor) {
      if (cluster === undefined) return api.lookup(aor);
      return validInOrder(await readShared(cluster, aor));
    },
    removeAor: (aor) =>
      need().withLock(aor, async () => {
        if (cluster === undefined) return need().removeAor(aor);
        // In a cluster through commit, so Redis forgets them too (calls would still find them
        // there), and with `all` as for Contact: *: the AoR's bindings other nodes hold go in the
        // same step, and those nodes drop their copies and rows (sipd:loc). Also when this node
        // holds none: the operator removes the user, not this node's share of it.
        const ruids = need().get(aor).map((c) => c.ruid);
        await api.commit(aor, { remove: ruids }, { all: true });
        return ruids.length;
      }),
    removeContact: (aor, contact) =>
      need().withLock(aor, async () => {
        const s = need();
        const here = s.get(aor).find((c) => c.contact === contact);
        if (cluster === undefined) {
          if (!s.has(aor)) return 'no-aor';
          if (here === undefined) return 'no-contact';
          await s.commit(aor, { remove: [here.ruid] });
          return 'removed';
        }
        if (here === undefined) {
          // held by another node, if by any: Redis knows (a binding is the AoR and the URI)
          const all = await readShared(cluster, aor);
          if (!s.has(aor) && all.length === 0) return 'no-aor';
          if (!all.some((c) => c.contact === contact)) return 'no-contact';
        }
        // as an un-REGISTER of the URI: the binding goes from Redis whichever node holds it, and
        // that node drops its copy and row (sipd:loc); this node's own copy and row after Redis
        await api.commit(aor, { remove: here === undefined ? [] : [here.ruid] }, { unregister: [contact] });
        return 'removed';
      }),
    newRuid: () => need().newRuid(),
    async sweep() {
      const n = await need().sweep();
      countExpired(n);
      return n;
    },
    flush: () => flushNow(),
  };

  /**
   * db_mode 2: write what is pending, after the flush under way if any. A failure is logged once
   * per streak; the changes stay.
   */
  function flushNow(): Promise<FlushResult> {
    const s = need();
    return flushes.run(async (): Promise<FlushResult> => {
      const r = await s.flush();
      if (r.kept > 0 && !flushFailing) {
        flushFailing = true;
        log?.error('usrloc: writing registrations to the database failed; they are kept and written at a later timer run', { pending: s.unwritten, error: String(r.error) });
      } else if (r.kept === 0 && flushFailing) {
        flushFailing = false;
        log?.info('usrloc: registrations written to the database again', { written: r.written });
      }
      return r;
    });
  }

  /** Kamailio's order of an AoR's contacts: q, highest first; among equal q the oldest write first. */
  function byQ(a: ContactRecord, b: ContactRecord): number {
    return b.q - a.q || a.lastModified - b.lastModified;
  }

  /** The valid ones of `contacts` (every node's, from Redis), in Kamailio's order. */
  function validInOrder(contacts: ContactRecord[]): ContactRecord[] {
    const t = now();
    return contacts.filter((c) => isValid(c, t)).sort(byQ);
  }

  /** Every node's contacts of `aor` as the cluster store has them; ClusterUnavailableError (with the cause) when Redis does not answer. */
  async function readShared(cl: ClusterApi, aor: string): Promise<ContactRecord[]> {
    try {
      return await cl.locationRead(aor);
    } catch (e) {
      throw new ClusterUnavailableError(e);
    }
  }

  /**
   * In a cluster: contacts of `aor` the cluster store no longer has — another node's write took
   * them over or removed them (heard on sipd:loc), or they were found gone at a reconnection.
   * This node's copy and its rows follow (the store directly: Redis has them gone already);
   * returns how many went.
   */
  async function dropGone(aor: string, gone: (c: ContactRecord) => boolean): Promise<number> {
    const s = store;
    if (s === undefined || !s.has(aor)) return 0;
    return s.withLock(aor, async () => {
      const ruids = s.get(aor).filter(gone).map((c) => c.ruid);
      if (ruids.length > 0) await s.commit(aor, { remove: ruids });
      return ruids.length;
    });
  }

  /**
   * In a cluster: contacts of `aor` that are another node's (Redis names it; loaded here with the
   * whole location table) leave this node's memory, their rows untouched; returns how many.
   */
  async function forgetOthers(aor: string, theirs: (c: ContactRecord) => boolean): Promise<number> {
    const s = store;
    if (s === undefined || !s.has(aor)) return 0;
    return s.withLock(aor, async () => {
      const ruids = s.get(aor).filter(theirs).map((c) => c.ruid);
      s.forget(aor, ruids);
      return ruids.length;
    });
  }

  /**
   * In a cluster: the location rows of nodes gone from it (a node removed or renamed for good: no
   * node holds them, and no node's timer would delete them), deleted once they expired at least
   * `graceSec` ago (the owner's own timer would have removed them by then, were it alive), with
   * their records in Redis. Gone: not heard from for cluster.dialog_ttl_sec, the time after which
   * the cluster already counts a silent node's calls as dead — not the 6 s that make a node not
   * alive, which a node starved of CPU for a moment crosses (its rows were swept from under it,
   * seen in CI). Each node holds only its own rows in memory, so nobody else's timer sees them.
   * One node sweeps, the first by node id of those heard from (two at once, while their views of
   * the members differ, delete each row once: LocationTable.sweepGone); a row whose node was heard
   * from, or that names no node (server_id 0), is never touched.
   */
  async function sweepGoneNodes(graceSec: number): Promise<void> {
    const cl = cluster;
    const s = store;
    if (cl === undefined || s === undefined || db === undefined || !cl.up()) return;
    if (cl.recentNodes === undefined || cl.serverId === undefined || cl.locationExpire === undefined) return;
    const live = cl.recentNodes(cl.dialogTtlSec * 1000);
    if (live.length === 0 || [...live].sort()[0] !== cl.nodeId) return;
    const sid = cl.serverId;
    const gone = await s.sweepGone(live.map((n) => sid(n)), now() - graceSec);
    if (gone.length === 0) return;
    const fields = await cl.locationExpire(gone);
    log?.info('usrloc: expired registrations of nodes gone from the cluster removed', { rows: gone.length, clusterStore: fields });
  }

  /** Kamailio's rpc_fix_aor: strip or require the domain, lower-case unless case-sensitive. */
  function fixAor(raw: string): string {
    const s = need();
    const at = raw.indexOf('@');
    let aor = raw;
    if (s.useDomain) {
      if (at < 0) throw new RpcFault(500, 'Domain missing in AOR');
    } else if (at >= 0) {
      aor = raw.slice(0, at);
    }
    return s.lowerCaseAor ? aor.toLowerCase() : aor;
  }

  function tableAndAor(p: RpcParams): string {
    const [table, aor] = rpcArgs(p);
    if (typeof table !== 'string' || typeof aor !== 'string' || aor === '') throw new RpcFault(500, 'Not enough parameters (table and AOR to lookup)');
    if (table !== domainName) throw new RpcFault(500, 'Domain not found');
    return fixAor(aor);
  }

  return defineModule({
    name: 'usrloc',
    params,
    async init(ctx) {
      log = ctx.log;
      const cl = ctx.api<ClusterApi>('cluster');
      cluster = cl?.enabled === true ? cl : undefined;
      // A refresh, un-REGISTER or Contact: * through another node removed contacts this node
      // holds (a binding is the AoR and the contact URI, whichever node it went through): the
      // script that wrote published their ruids; the copy and the location row go here.
      cl?.onLocationGone?.((aor, gone) => {
        // a copy written again since (this node's own write of the same URI came after) stays
        const had = new Map(gone.map((g) => [g.ruid, g]));
        dropGone(aor, (c) => {
          const g = had.get(c.ruid);
          return g !== undefined && g.cseq === c.cseq && g.lastModified === c.lastModified;
        }).then(
          (n) => {
            if (n > 0) ctx.log.debug('usrloc: bindings taken over or removed through another node', { aor, contacts: n });
          },
          (e: unknown) => ctx.log.error('usrloc: dropping bindings another node took over failed; they go when they expire', { aor, error: String(e) }),
        );
      });
      /**
       * This node's copy against the cluster store, after every (re)connection and at start once
       * the location rows are loaded. Redis came back empty (restarted without persistence,
       * FLUSHALL): each node gives back the registrations it holds under its own name — those made
       * through it, its own rows loaded at start (their server_id is this node's) and rows no node
       * is named in (server_id 0: a single sipd's table carried into --cluster, Kamailio's) — and
       * the rows of other nodes it loaded without an owner, only where the owner has not given
       * them back yet (that node holds the UA's NAT binding or connection: its own give-back, under
       * its name, wins; an owner that is down leaves them called directly, as a dead owner's);
       * those leave this node's memory, as at a start with Redis intact. Redis has its data:
       * sipd:loc messages sent while this node was down or its
       * subscriber away were lost (pub/sub is at most once), so the contacts Redis no longer has
       * are dropped here as they would have been, with their rows; and a contact Redis holds under
       * another node's name — that node's row, loaded here with the whole table at start — leaves
       * this node's memory (its row stays that node's to refresh and remove).
       */
      const checkAgainstRedis = async ({ redisLostData }: { redisLostData: boolean }, since: string): Promise<void> => {
        if (store === undefined || cl === undefined) return;
        if (!redisLostData) {
          if (cl.locationOwners === undefined) return;
          // REGISTERs may go on meanwhile (only the subscriber was away): a contact written or
          // refreshed here after this snapshot is left alone
          const seen = new Map<string, string>();
          const version = (c: ContactRecord) => `${c.callId}\n${c.cseq}\n${c.lastModified}\n${c.expires}`;
          const records = [...store.records()];
          for (const r of records) for (const c of r.contacts) seen.set(c.ruid, version(c));
          const aors = records.map((r) => r.aor);
          const held = await cl.locationOwners(aors);
          const unchanged = (c: ContactRecord) => seen.get(c.ruid) === version(c);
          let n = 0;
          let others = 0;
          let failed: unknown;
          for (let i = 0; i < aors.length; i++) {
            const there = held[i]!;
            const owner = (c: ContactRecord) => there.get(c.ruid) ?? '';
            others += await forgetOthers(aors[i]!, (c) => owner(c) !== '' && owner(c) !== cl.nodeId && unchanged(c));
            // the database refusing keeps the copy (it goes when it expires), not the node down
            n += await dropGone(aors[i]!, (c) => !there.has(c.ruid) && unchanged(c)).catch((e: unknown) => ((failed ??= e), 0));
          }
          if (n > 0) ctx.log.info(`usrloc: contacts gone from the cluster store ${since} dropped`, { contacts: n });
          if (others > 0) ctx.log.info('usrloc: other nodes\' registrations (loaded from their location rows) left to them', { contacts: others });
          if (failed !== undefined) ctx.log.error('usrloc: dropping contacts gone from the cluster store failed; they go when they expire', { error: String(failed) });
          store.forgetLoadedServerIds();
          return;
        }
        const t = now();
        const mine = cl.serverId?.() ?? 0;
        const s = store;
        const theirs = (c: ContactRecord) => {
          const sid = s.loadedServerId(c.ruid);
          return sid !== undefined && sid !== 0 && sid !== mine;
        };
        let n = 0;
        const loadedOthers: string[] = [];
        for (const r of store.records()) {
          const own = r.contacts.filter((c) => isValid(c, t) && !theirs(c));
          if (own.length > 0) await cl.locationWrite(r.aor, own, [], { resyncing: true });
          n += own.length;
          if (r.contacts.some(theirs)) loadedOthers.push(r.aor);
        }
        // Other nodes' rows, read from the table now (this node holds none of them in memory but
        // right after a start): given back without an owner where their node has not given them
        // back itself — also the rows of a node that is down, so its contacts are called directly.
        let unowned = 0;
        if (cl.locationGiveBackUnowned !== undefined) {
          const others = [...(await s.loadOthers())].map(([aor, contacts]) => ({ aor, contacts }));
          await cl.locationGiveBackUnowned(others);
          unowned = others.reduce((k, o) => k + o.contacts.length, 0);
        }
        // another node's rows loaded at start: that node's to refresh and remove (memory only)
        for (const aor of loadedOthers) await forgetOthers(aor, theirs);
        s.forgetLoadedServerIds();
        ctx.log.info('usrloc: registrations given back to the cluster store', { contacts: n, ...(unowned > 0 ? { otherNodesUnowned: unowned } : {}) });
      };
      // The cluster module's first connection came before this init; one made while the rows are
      // still loading is handled once they are (below).
      let rowsLoaded = false;
      let missed: { redisLostData: boolean } | undefined;
      cl?.onConnect((info) => {
        if (rowsLoaded) return checkAgainstRedis(info, 'while Redis was away');
        missed = { redisLostData: info.redisLostData || missed?.redisLostData === true };
      });
      assertTableName('usrloc.table', ctx.params.table);
      domainName = ctx.params.table;
      now = () => Math.floor(ctx.now() / 1000);
      const writeBack = ctx.params.db_mode === 2;
      if (ctx.params.db_mode >= 1) {
        if (deps.db === undefined) {
          throw new ConfigError('MODULE_PARAM_INVALID', `usrloc.db_mode=${ctx.params.db_mode} needs a database`, 'configure the database, or set usrloc db_mode 0 (registrations lost on restart)');
        }
        ({ db, owned: ownsDb } = await openModuleDb(deps.db));
      }
      store = new UsrlocStore({
        db,
        // a peak filling half the pending set is written at once (after the flush under way), not at the next tick
        writeBack: writeBack
          ? {
              onBacklog: () => {
                if (backlogFlush) return;
                backlogFlush = true;
                void flushNow().finally(() => (backlogFlush = false));
              },
            }
          : undefined,
        table: ctx.params.table,
        useDomain: ctx.params.use_domain,
        lowerCaseAor: !ctx.params.case_sensitive,
        hashSize: ctx.params.hash_size,
        now,
        // in a cluster each row names the node that wrote it (a give-back after Redis lost its
        // data keeps other nodes' rows theirs; rows of a node gone for good are swept)
        serverId: cluster?.serverId?.() ?? 0,
      });
      const { loaded, skipped } = await store.load();
      if (skipped.length > 0) ctx.log.warn('usrloc: location rows skipped', { count: skipped.length, first: skipped.slice(0, 5) });
      const expired = await store.sweep();
      // rows that expired while sipd was down go now, in db_mode 2 as in 1
      if (writeBack) await flushNow();
      ctx.log.info('usrloc: registrations loaded', { loaded, expiredOnLoad: expired, table: ctx.params.table, dbMode: ctx.params.db_mode });
      rowsLoaded = true;
      // In a cluster, what this node missed while it was down (another node took a binding over or
      // removed it: the sipd:loc message found no one) is checked as after a reconnection, now
      // when Redis is up, else at the first connection.
      if (cluster !== undefined && (missed !== undefined || cluster.up())) {
        // Redis that lost its data while this node was down (its generation differs from the one
        // kept in the state directory, or this node's connection set the first): give back, not drop
        const lost = missed?.redisLostData === true || cluster.firstConnection?.()?.redisLostData === true;
        await checkAgainstRedis({ redisLostData: lost }, 'while this node was down').catch((e: unknown) =>
          // Redis failing marked it down: the reconnection runs the same check
          ctx.log.error('usrloc: checking the loaded registrations against the cluster store failed; checked again when Redis is back', { error: String(e) }),
        );
      }

      // Kamailio 5.6's names: registered_users, and per domain <table>_users, <table>_contacts
      // (current) and <table>_expires (contacts removed because they expired, counted up).
      const stats = ctx.api<StatsRegistryApi>('stats');
      if (stats !== undefined && typeof stats.gauge === 'function') {
        stats.gauge('usrloc:registered_users', () => api.aorCount());
        stats.gauge(`usrloc:${domainName}_users`, () => api.aorCount());
        stats.gauge(`usrloc:${domainName}_contacts`, () => api.count());
        stats.inc(`usrloc:${domainName}_expires`, expired);
        countExpired = (n) => stats.inc(`usrloc:${domainName}_expires`, n);
      }

      timer = setInterval(() => {
        if (sweeping !== undefined) return;
        sweeping = api
          .sweep()
          .then((n) => {
            if (n > 0) ctx.log.debug('usrloc: expired contacts removed', { count: n });
          })
          .catch((e: unknown) => ctx.log.error('usrloc: removing expired contacts failed; will retry', { error: String(e) }))
          // db_mode 2: the timer writes what changed (the removals just made too)
          .then(() => (writeBack ? flushNow() : undefined))
          .then(() =>
            sweepGoneNodes(ctx.params.timer_interval).catch((e: unknown) =>
              ctx.log.error('usrloc: removing expired registrations of nodes gone from the cluster failed; will retry', { error: String(e) }),
            ),
          )
          .finally(() => {
            sweeping = undefined;
          });
      }, ctx.params.timer_interval * 1000);
      timer.unref();
    },
    async destroy() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await sweeping;
      if (store !== undefined && store.unwritten > 0) {
        // db_mode 2: what changed since the last timer run is written before the database closes
        const r = await flushNow();
        if (r.kept > 0) log?.error('usrloc: registration changes not written at shutdown', { lost: r.kept, error: String(r.error) });
        else log?.info('usrloc: registrations written at shutdown', { written: r.written });
      }
      countExpired = () => {};
      store = undefined;
      await closeModuleDb(db, ownsDb);
      db = undefined;
      ownsDb = false;
    },
    rpc: {
      'ul.dump': {
        doc: 'Dump user location tables: ul.dump [brief]',
        handler(p: RpcParams) {
          const s = need();
          const brief = rpcArgs(p)[0] === 'brief';
          const t = now();
          const AoRs: unknown[] = [];
          for (const r of s.records()) {
            AoRs.push(brief ? { AoR: r.aor } : { Info: { AoR: r.aor, HashID: r.hash, Contacts: r.contacts.map((c) => dumpContact(c, t, s.stateOf(c.ruid))) } });
          }
          return {
            Domains: [{ Domain: { Domain: domainName, Size: s.size, AoRs, Stats: { Records: s.aorCount, 'Max-Slots': s.maxSlot } } }],
          };
        },
      },
      'ul.lookup': {
        doc: 'Lookup one AOR in the usrloc location table: ul.lookup <table> <aor> (sipd --cluster: every node\'s contacts of it)',
        async handler(p: RpcParams) {
          const aor = tableAndAor(p);
          const s = need();
          const t = now();
          if (cluster === undefined) {
            if (!s.has(aor)) throw new RpcFault(500, 'AOR not found in location table');
            const valid = s.get(aor).filter((c) => isValid(c, t));
            if (valid.length === 0) throw new RpcFault(500, 'AOR has no contacts');
            return { AoR: aor, Contacts: valid.map((c) => dumpContact(c, t, s.stateOf(c.ruid))) };
          }
          // A registration is shared state: the AoR's contacts as every node wrote them to Redis
          // (what an INVITE through this node finds, lookupAny), not this node's share of them.
          // Redis away: a fault, not this node's copy passed off as the cluster's answer.
          let all: ContactRecord[];
          try {
            all = await readShared(cluster, aor);
          } catch (e) {
            log?.warn('usrloc: ul.lookup failed: the cluster store is unreachable', { aor, error: String((e as Error).cause ?? e) });
            throw new RpcFault(503, 'Cluster store unreachable');
          }
          if (all.length === 0) throw new RpcFault(500, 'AOR not found in location table');
          const valid = validInOrder(all);
          if (valid.length === 0) throw new RpcFault(500, 'AOR has no contacts');
          // Each record is what the holding node wrote (its Socket, Received, Path, …). Whether its
          // row is written yet (db_mode 2's CS_NEW / CS_DIRTY) only that node knows: Kamailio's
          // CS_UNKNOWN for another node's contact, this node's own state for its own.
          const mine = new Set(s.get(aor).map((c) => c.ruid));
          return { AoR: aor, Contacts: valid.map((c) => dumpContact(c, t, mine.has(c.ruid) ? s.stateOf(c.ruid) : 'CS_UNKNOWN')) };
        },
      },
      'ul.add': {
        doc: 'Add a new contact for an address of record: ul.add <table> <aor> <contact> <expires> <q> <path> <flags> <cflags> <methods>',
        async handler(p: RpcParams) {
          const a = rpcArgs(p);
          const [table, rawAor, contact, expires, q, path, flags, cflags, methods] = a;
          const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v);
          // Kamailio scans "SSSdfSddd": nine values of these types, else this one fault
          if (
            a.length < 9 || typeof table !== 'string' || typeof rawAor !== 'string' || rawAor === '' || typeof contact !== 'string' || contact === '' ||
            !isInt(expires) || typeof q !== 'number' || !Number.isFinite(q) || typeof path !== 'string' || !isInt(flags) || !isInt(cflags) || !isInt(methods)
          ) {
            throw new RpcFault(500, 'Not enough parameters or wrong format');
          }
          if (table !== domainName) throw new RpcFault(500, 'Domain not found');
          if (contact.length > 512 || /[\s\x00-\x1f\x7f]/.test(contact) || path.length > 512 || /[\x00-\x1f\x7f]/.test(path)) throw new RpcFault(500, 'Not enough parameters or wrong format');
          const aor = fixAor(rawAor);
          const t = now();
          try {
            await api.withLock(aor, async () => {
              const existing = need().get(aor).find((c) => c.contact === contact);
              const rec: ContactRecord = {
                aor,
                contact,
                expires: (expires as number) <= 0 ? 0 : t + (expires as number),
                q: q < 0 ? -1 : Math.min(1, q),
                callId: 'dfjrewr12386fd6-343@kamailio.rpc', // what Kamailio's ul.add writes
                cseq: 1,
                userAgent: 'sipd RPC',
                path: path === '0' ? undefined : path, // Kamailio: "0" = no path
                socket: '',
                ruid: existing?.ruid ?? api.newRuid(),
                regId: 0,
                lastModified: t,
                flags: (flags as number) >>> 0,
                cflags: (cflags as number) >>> 0,
                methods: (methods as number) >>> 0,
              };
              await api.commit(aor, existing ? { update: [rec] } : { insert: [rec] });
            });
          } catch (e) {
            log?.error('usrloc: ul.add failed', { aor, error: String(e) });
            throw new RpcFault(500, 'Failed to insert contact');
          }
          log?.info('usrloc: contact added by RPC', { aor });
          return {};
        },
      },
      'ul.rm_contact': {
        doc: 'Delete a contact from an AOR record: ul.rm_contact <table> <aor> <contact> (sipd --cluster: wherever it is held)',
        async handler(p: RpcParams) {
          const [table, rawAor, contact] = rpcArgs(p);
          if (typeof table !== 'string' || typeof rawAor !== 'string' || rawAor === '' || typeof contact !== 'string') throw new RpcFault(500, 'Not enough parameters (table, AOR and contact)');
          if (table !== domainName) throw new RpcFault(500, 'Domain not found');
          const aor = fixAor(rawAor);
          // alone, Kamailio's check before anything else; in a cluster the AoR may be another node's only
          if (cluster === undefined && !need().has(aor)) throw new RpcFault(404, 'AOR not found');
          let r: Awaited<ReturnType<UsrlocModuleApi['removeContact']>>;
          try {
            r = await api.removeContact(aor, contact);
          } catch (e) {
            log?.error('usrloc: ul.rm_contact failed', { aor, error: String(e) });
            if (e instanceof ClusterUnavailableError) throw new RpcFault(503, 'Cluster store unreachable');
            throw new RpcFault(500, 'Failed to delete contact');
          }
          if (r === 'no-aor') throw new RpcFault(404, 'AOR not found');
          if (r === 'no-contact') throw new RpcFault(404, 'Contact not found');
          return {};
        },
      },
      'ul.flush': {
        doc: 'Flush the usrloc memory cache to DB: ul.flush (db_mode 2; expired contacts are removed in every mode)',
        async handler() {
          // Kamailio runs its timer's work: expired contacts removed, then the write-back
          await api.sweep();
          const r = await api.flush();
          if (r.kept > 0) throw new RpcFault(500, 'Operation failed'); // Kamailio's fault
          return {};
        },
      },
      'ul.rm': {
        doc: 'Delete an address of record including its contacts: ul.rm <table> <aor> (sipd --cluster: on every node)',
        async handler(p: RpcParams) {
          const aor = tableAndAor(p);
          try {
            const n = await api.removeAor(aor);
            if (n > 0) log?.info('usrloc: AoR removed by RPC', { aor, contacts: n });
          } catch (e) {
            log?.error('usrloc: ul.rm failed', { aor, error: String(e) });
            // in a cluster, Redis away: nothing removed on any node (not this node's share alone)
            if (e instanceof ClusterUnavailableError) throw new RpcFault(503, 'Cluster store unreachable');
            throw new RpcFault(500, 'Failed to delete AOR');
          }
          return {};
        },
      },
    },
    api,
  });
}
