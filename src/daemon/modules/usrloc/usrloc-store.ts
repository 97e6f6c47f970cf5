/**
 * The registrations of one usrloc domain ("location"), in memory, backed by the database in one
 * of Kamailio's modes. Write-through (db_mode 1): every change is committed before memory changes
 * and before anyone is answered, so what a client was told survives a crash; the changes asked
 * for at the same time are committed together (location-writer.ts: group commit), each all or
 * nothing. Write-back (db_mode 2): memory changes at once and the change waits for the timer's
 * flush (location-write-back.ts). At start the table is loaded back in both.
 *
 * Work on one AoR is serialised (withLock): two REGISTERs for the same AoR never interleave
 * their read-compute-write steps, while different AoRs proceed in parallel.
 */
import { randomBytes } from 'node:crypto';
import type { Database } from '../../../core/db/database.js';
import { OneAtATime } from '../../../core/one-at-a-time.js';
import type { ContactRecord } from '../../kernel/contracts.js';
import { coreHash } from '../../kernel/kamailio-hash.js';
import { type ContactChange, LocationTable } from './location-db.js';
import { LocationWriter } from './location-writer.js';
import { type ContactState, type FlushResult, LocationWriteBack, type WriteBackOptions } from './location-write-back.js';

export type { ContactChange } from './location-db.js';

export interface StoreOptions {
  /** the location table's database; memory only when absent */
  db?: Database;
  /** with db: write back on flush() (db_mode 2) instead of through on every commit (db_mode 1) */
  writeBack?: WriteBackOptions;
  table: string;
  useDomain: boolean;
  /** lower-case AoRs (Kamailio's default; off = case_sensitive) */
  lowerCaseAor: boolean;
  /** hash table size: 2^hashSize slots (only shapes ul.dump's Size / ordering) */
  hashSize: number;
  /** seconds since epoch */
  now(): number;
  /** the location rows' server_id this node writes (sipd --cluster: the node's; default 0) */
  serverId?: number;
}

interface AorRecord {
  aor: string;
  hash: number;
  contacts: ContactRecord[];
}

/** A contact is valid (VALID_CONTACT) until its expiry time; 0 means permanent. */
export function isValid(c: ContactRecord, now: number): boolean {
  return c.expires === 0 || c.expires > now;
}

/**
 * Kamailio orders an AoR's contacts by q, highest first, a new contact after those of equal q;
 * a contact without q (-1) sorts last.
 */
function insertOrdered(list: ContactRecord[], c: ContactRecord): void {
  let i = 0;
  while (i < list.length && list[i].q >= c.q) i++;
  list.splice(i, 0, c);
}

export class UsrlocStore {
  private readonly slots: Map<string, AorRecord>[];
  private readonly byAor = new Map<string, AorRecord>();
  private readonly locks = new Map<string, OneAtATime>();
  private readonly location: LocationTable;
  private readonly writer: LocationWriter | undefined;
  private readonly writeBack: LocationWriteBack | undefined;
  private readonly ruidPrefix: string;
  private ruidCounter = 0;
  private contactTotal = 0;
  /** the server_id of each row load() read (which node wrote it), until forgetLoadedServerIds() */
  private loadedServerIds = new Map<string, number>();

  constructor(private readonly opts: StoreOptions) {
    this.slots = Array.from({ length: 2 ** opts.hashSize }, () => new Map());
    this.location = new LocationTable(opts.table, opts.useDomain, opts.serverId ?? 0);
    if (opts.db !== undefined && opts.writeBack !== undefined) this.writeBack = new LocationWriteBack(this.location, opts.db, opts.writeBack);
    else if (opts.db !== undefined) this.writer = new LocationWriter(this.location, opts.db);
    // Like Kamailio's sruid: "uloc-<start time>-<random>-<counter>", unique across restarts.
    this.ruidPrefix = `uloc-${Math.floor(opts.now()).toString(16)}-${randomBytes(2).toString('hex')}-`;
  }

  get size(): number {
    return this.slots.length;
  }

  get useDomain(): boolean {
    return this.opts.useDomain;
  }

  get lowerCaseAor(): boolean {
    return this.opts.lowerCaseAor;
  }

  newRuid(): string {
    return this.ruidPrefix + (++this.ruidCounter).toString(16);
  }

  /** Load every row of the table; returns how many were loaded and skipped. */
  async load(): Promise<{ loaded: number; skipped: Array<{ id?: number; why: string }> }> {
    const skipped: Array<{ id?: number; why: string }> = [];
    if (this.opts.db === undefined) return { loaded: 0, skipped };
    const rows = await this.location.loadAll(this.opts.db);
    let loaded = 0;
    for (const row of rows) {
      const rec = this.location.toRecord(row, this.opts.lowerCaseAor);
      if (typeof rec === 'string') {
        skipped.push({ id: row.id === undefined ? undefined : Number(row.id), why: rec });
        continue;
      }
      if (this.findRuid(rec.aor, rec.ruid) !== undefined) continue;
      this.memInsert(rec);
      const sid = Number(row.server_id ?? 0);
      this.loadedServerIds.set(rec.ruid, Number.isSafeInteger(sid) ? sid : 0);
      loaded++;
    }
    return { loaded, skipped };
  }

  /**
   * The server_id of the row a contact was loaded from (the node that wrote it: a cluster node's
   * ClusterApi.serverId, 0 for a single sipd's or Kamailio's rows); undefined for a contact not
   * loaded from the table, or after forgetLoadedServerIds().
   */
  loadedServerId(ruid: string): number | undefined {
    return this.loadedServerIds.get(ruid);
  }

  /** the loaded rows' server_ids are no longer needed (the start's check against Redis is done) */
  forgetLoadedServerIds(): void {
    this.loadedServerIds = new Map();
  }

  /**
   * In a cluster: the valid contacts of the rows other nodes wrote (server_id neither 0 nor this
   * node's), by AoR, read from the table now (a give-back after Redis lost its data); not kept.
   */
  async loadOthers(): Promise<Map<string, ContactRecord[]>> {
    const out = new Map<string, ContactRecord[]>();
    if (this.opts.db === undefined) return out;
    const now = this.opts.now();
    for (const row of await this.location.loadAll(this.opts.db, this.opts.serverId ?? 0)) {
      const rec = this.location.toRecord(row, this.opts.lowerCaseAor);
      if (typeof rec === 'string' || !isValid(rec, now)) continue;
      out.set(rec.aor, [...(out.get(rec.aor) ?? []), rec]);
    }
    return out;
  }

  /**
   * In a cluster: delete the rows of nodes no longer live members (server_id neither 0 nor in
   * `live`) that expired at or before `cutoff` (LocationTable.sweepGone); what went, as AoR and ruid.
   */
  async sweepGone(live: readonly number[], cutoff: number): Promise<Array<{ aor: string; ruid: string }>> {
    if (this.opts.db === undefined) return [];
    return this.location.sweepGone(this.opts.db, live, cutoff, this.opts.lowerCaseAor);
  }

  /** Run fn with the AoR locked against other withLock calls for the same AoR. */
  withLock<T>(aor: string, fn: () => Promise<T>): Promise<T> {
    const turns = this.locks.get(aor) ?? new OneAtATime();
    this.locks.set(aor, turns);
    const run = turns.run(fn);
    // an AoR no one works on is forgotten (millions of AoRs pass through a long-running sipd)
    void turns.idle().then(() => {
      if (!turns.busy && this.locks.get(aor) === turns) this.locks.delete(aor);
    });
    return run;
  }

  /** All contacts of an AoR (also expired ones the timer has not removed yet), in q order; copies. */
  get(aor: string): ContactRecord[] {
    return (this.byAor.get(aor)?.contacts ?? []).map((c) => ({ ...c }));
  }

  /** The valid contacts of an AoR (registrar lookup). */
  lookup(aor: string): ContactRecord[] {
    const now = this.opts.now();
    return this.get(aor).filter((c) => isValid(c, now));
  }

  has(aor: string): boolean {
    return this.byAor.has(aor);
  }

  hashOf(aor: string): number | undefined {
    return this.byAor.get(aor)?.hash;
  }

  /** Every contact held (valid or waiting for the timer). */
  get contactCount(): number {
    return this.contactTotal;
  }

  get aorCount(): number {
    return this.byAor.size;
  }

  /** AoRs in Kamailio's dump order: by hash slot, then in the order they were created. */
  *records(): Generator<{ aor: string; hash: number; contacts: ContactRecord[] }> {
    for (const slot of this.slots) for (const r of slot.values()) yield { aor: r.aor, hash: r.hash, contacts: r.contacts.map((c) => ({ ...c })) };
  }

  /** Largest number of AoRs in one slot (ul.dump's Max-Slots). */
  get maxSlot(): number {
    let max = 0;
    for (const s of this.slots) if (s.size > max) max = s.size;
    return max;
  }

  /**
   * Apply the changes of one request to one AoR: database first (committed, all or nothing), then
   * memory. If the database refuses, memory is unchanged and the error propagates. Write-back:
   * memory at once, the database at the next flush (refused only when the pending set is full).
   * Call inside withLock(aor).
   */
  async commit(aor: string, change: ContactChange): Promise<void> {
    // copies: memory's records are replaced, never changed in place, so write-back shares them
    const ins = (change.insert ?? []).map((c) => ({ ...c }));
    const upd = (change.update ?? []).map((c) => ({ ...c }));
    const rem = change.remove ?? [];
    if (ins.length + upd.length + rem.length === 0) return;
    for (const c of ins) if (c.aor !== aor) throw new Error(`usrloc: contact for ${c.aor} committed under ${aor}`);
    for (const c of upd) if (c.aor !== aor) throw new Error(`usrloc: contact for ${c.aor} committed under ${aor}`);
    if (this.writer !== undefined) await this.writer.write({ insert: ins, update: upd, remove: rem });
    else this.writeBack?.add({ insert: ins, update: upd, remove: rem });
    for (const ruid of rem) this.memRemove(aor, ruid);
    for (const c of upd) this.memUpdate(c);
    for (const c of ins) this.memInsert(c);
  }

  /** Write-back: write the pending changes now (what the timer does); never throws. */
  async flush(): Promise<FlushResult> {
    return this.writeBack === undefined ? { written: 0, kept: 0 } : this.writeBack.flush();
  }

  /** Contacts whose row is not written yet (write-back). */
  get unwritten(): number {
    return this.writeBack?.size ?? 0;
  }

  /** Kamailio's state of a contact in ul.dump: CS_NEW / CS_DIRTY until write-back writes it. */
  stateOf(ruid: string): ContactState {
    return this.writeBack?.stateOf(ruid) ?? 'CS_SYNC';
  }

  /**
   * Drop contacts from memory only, their rows left as they are: in a cluster, rows another node
   * wrote (load() reads the whole table) are that node's to refresh and remove. Call inside withLock(aor).
   */
  forget(aor: string, ruids: string[]): void {
    for (const ruid of ruids) this.memRemove(aor, ruid);
  }

  /** Remove an AoR with all its contacts (ul.rm, Contact: *); returns how many contacts went. */
  async removeAor(aor: string): Promise<number> {
    const rec = this.byAor.get(aor);
    if (rec === undefined) return 0;
    const n = rec.contacts.length;
    await this.commit(aor, { remove: rec.contacts.map((c) => c.ruid) });
    return n;
  }

  /**
   * Remove expired contacts (the usrloc timer); returns how many. AoRs are worked on a few hundred
   * at a time, so their deletions share batches.
   */
  async sweep(): Promise<number> {
    const now = this.opts.now();
    let removed = 0;
    let wave: Array<Promise<number>> = [];
    const drain = async () => {
      for (const n of await Promise.all(wave)) removed += n;
      wave = [];
    };
    for (const [aor, rec] of [...this.byAor]) {
      if (!rec.contacts.some((c) => !isValid(c, now))) continue;
      wave.push(
        this.withLock(aor, async () => {
          const expired = this.get(aor).filter((c) => !isValid(c, this.opts.now())).map((c) => c.ruid);
          await this.commit(aor, { remove: expired });
          return expired.length;
        }),
      );
      if (wave.length >= 256) await drain();
    }
    await drain();
    return removed;
  }

  private findRuid(aor: string, ruid: string): ContactRecord | undefined {
    return this.byAor.get(aor)?.contacts.find((c) => c.ruid === ruid);
  }

  private memInsert(c: ContactRecord): void {
    let rec = this.byAor.get(c.aor);
    if (rec === undefined) {
      const hash = coreHash(c.aor);
      rec = { aor: c.aor, hash, contacts: [] };
      this.byAor.set(c.aor, rec);
      this.slots[hash & (this.slots.length - 1)].set(c.aor, rec);
    }
    insertOrdered(rec.contacts, c);
    this.contactTotal++;
  }

  /** Replace a contact in place; a changed q moves it to its new rank. */
  private memUpdate(c: ContactRecord): void {
    const list = this.byAor.get(c.aor)?.contacts;
    const i = list?.findIndex((x) => x.ruid === c.ruid) ?? -1;
    if (list === undefined || i < 0) {
      this.memInsert(c);
    } else if (list[i].q === c.q) {
      list[i] = c;
    } else {
      list.splice(i, 1);
      insertOrdered(list, c);
    }
  }

  private memRemove(aor: string, ruid: string): void {
    const rec = this.byAor.get(aor);
    if (rec === undefined) return;
    const i = rec.contacts.findIndex((c) => c.ruid === ruid);
    if (i < 0) return;
    rec.contacts.splice(i, 1);
    this.contactTotal--;
    if (rec.contacts.length === 0) {
      this.byAor.delete(aor);
      this.slots[rec.hash & (this.slots.length - 1)].delete(aor);
    }
  }
}
