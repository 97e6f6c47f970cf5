import { SipctlError, ValidationError } from '../errors.js';
import type { RpcClient } from '../rpc/client.js';
import { isRpcError } from '../rpc/rpc-error.js';
import { flattenUlDump, type UlContact, type UlContactRow, type UlDumpResult } from '../rpc/methods.js';
import { makeFilter } from './filter.js';
import { parseUri } from '../sip/uri.js';
import { isRemoteMessage, mapNotFound } from './remote.js';

/*
 * Registrations held by the running proxy (usrloc). One proxy per call; commands fan out.
 */

export const DEFAULT_UL_TABLE = 'location';

/**
 * Kamailio 5.6 answers ul.dump with ONE reply holding every contact (~850 bytes each, pretty
 * printed). Some interfaces cannot carry that many:
 *  - xhttp copies the reply into its private memory (-M, 8 MB by default): beyond about 4,500
 *    contacts the reply is never sent and the connection hangs (observed on 5.6.3);
 *  - the datagram socket sends one datagram: about 70 contacts fit in 64 KB.
 * The FIFO has no such limit (100,000 contacts: one 85 MB reply, about 320 s of work for Kamailio 5.6 on an idle 2-core machine).
 * sipctl counts first (stats, cheap) and refuses up front rather than hang until the timeout.
 */
export const UL_DUMP_LIMITS: Partial<Record<string, number>> = { http: 4000, 'unix-dgram': 60 };

export interface UlDumpOptions {
  table?: string;
  filter?: string;
  timeoutMs?: number;
  /** Try even when the count is over the interface's limit. */
  force?: boolean;
  /**
   * What to keep: the proxy's structure (for --json) or flat rows (for tables). Only one is
   * kept, so a dump of 100,000 contacts is not held twice.
   */
  want?: 'raw' | 'rows';
}

export interface UlDump {
  /** The proxy's own structure, filtered (want: 'raw'). */
  raw?: UlDumpResult;
  /** One row per contact, filtered (want: 'rows'). */
  rows?: UlContactRow[];
  /** Contacts (rows) or AoRs (raw) kept after filtering. */
  count: number;
}

/** usrloc's own counters (stats.get_statistics usrloc:): `<table>_contacts`, or undefined if unavailable. */
export async function countContacts(c: RpcClient, table = DEFAULT_UL_TABLE): Promise<number | undefined> {
  let lines: string[];
  try {
    lines = await c.call<string[]>('stats.get_statistics', ['usrloc:']);
  } catch (e) {
    // No kex/stats on this proxy (a JSON-RPC error): just try the dump. A proxy that is down
    // or hanging fails here, once, instead of once more on the dump.
    if (isRpcError(e) && e.category === 'remote') return undefined;
    throw e;
  }
  const re = new RegExp(`^usrloc:${table.replace(/[^A-Za-z0-9_]/g, '')}_contacts\\s*=\\s*(\\d+)`);
  for (const l of Array.isArray(lines) ? lines : []) {
    const m = re.exec(String(l));
    if (m) return Number(m[1]);
  }
  return undefined;
}

export async function ulDump(c: RpcClient, opts: UlDumpOptions = {}): Promise<UlDump> {
  const table = opts.table ?? DEFAULT_UL_TABLE;
  if (!opts.force) {
    const count = await countContacts(c, table);
    const kind = c.kind();
    const limit = UL_DUMP_LIMITS[kind];
    if (count !== undefined && limit !== undefined && count > limit) {
      throw new SipctlError('UL_DUMP_TOO_LARGE', `${c.url} holds ${count} contacts; Kamailio cannot send more than about ${limit} in one ul.dump reply over ${kind === 'http' ? 'HTTP (xhttp copies the reply into its private memory)' : 'its datagram socket (one datagram)'}`, {
        category: 'usage',
        hint: 'dump through the FIFO instead: --rpc fifo:/run/kamailio/kamailio_rpc.fifo (or --force to try anyway)',
        details: { url: c.url, contacts: count, limit, transport: kind },
      });
    }
  }
  let raw: UlDumpResult;
  try {
    raw = await c.call<UlDumpResult>('ul.dump', undefined, { timeoutMs: opts.timeoutMs });
  } catch (e) {
    throw mapNotFound(e, { table });
  }
  const keep = makeFilter(opts.filter);
  if (opts.want === 'raw') {
    const filtered = filterUlDump(raw, (domain, aor) => (!opts.table || domain === table) && keep(aor));
    let count = 0;
    for (const d of filtered.Domains ?? []) count += d?.Domain?.AoRs?.length ?? 0;
    return { raw: filtered, count };
  }
  let rows = flattenUlDump(raw);
  if (opts.table) rows = rows.filter((r) => r.domain === table);
  if (opts.filter) rows = rows.filter((r) => keep(r.aor));
  return { rows, count: rows.length };
}

/** The same structure with only the AoRs `keep` accepts (the input when nothing is dropped). */
export function filterUlDump(raw: UlDumpResult, keep: (domain: string, aor: string) => boolean): UlDumpResult {
  let dropped = false;
  const Domains = (raw?.Domains ?? []).map((d) => {
    const dom = d?.Domain;
    if (!dom) return d;
    const AoRs = (dom.AoRs ?? []).filter((a) => {
      const ok = keep(dom.Domain, a?.Info?.AoR ?? (a as unknown as { AoR?: string })?.AoR ?? '');
      if (!ok) dropped = true;
      return ok;
    });
    return { Domain: { ...dom, AoRs } };
  });
  return dropped ? { ...raw, Domains } : raw;
}

/** `sip:alice@example.com` → `alice@example.com`: usrloc keys carry no scheme. */
export function normalizeAor(aor: string): string {
  const s = aor.trim().replace(/^sips?:/i, '');
  if (s === '' || /[\s\x00-\x1f\x7f<>"]/.test(s)) throw new ValidationError('aor', `"${aor}" is not an address of record`, 'e.g. alice, alice@example.com or sip:alice@example.com');
  return s;
}

/** One AoR: the same normalised contact record as a dump's rows (`raw`: Kamailio's ul.lookup answer, with --raw). */
export interface UlLookup {
  aor: string;
  contacts: UlContactRow[];
  raw?: unknown;
}

/** ul.lookup: the contacts of one AoR; not registered → not-found (exit 3). */
export async function ulShow(c: RpcClient, aorIn: string, table = DEFAULT_UL_TABLE, opts: { raw?: boolean } = {}): Promise<UlLookup> {
  const aor = normalizeAor(aorIn);
  let res: { AoR: string; Contacts: Array<{ Contact: UlContact }> };
  try {
    res = await c.call('ul.lookup', [table, aor]);
  } catch (e) {
    throw mapNotFound(e, { table, aor });
  }
  const rows = flattenUlDump({ Domains: [{ Domain: { Domain: table, Size: 0, AoRs: [{ Info: { AoR: res.AoR ?? aor, HashID: 0, Contacts: res.Contacts ?? [] } }], Stats: { Records: 1, 'Max-Slots': 0 } } }] });
  return { aor: res.AoR ?? aor, contacts: rows, ...(opts.raw ? { raw: res } : {}) };
}

/** One binding of an AoR and the nodes whose ul.lookup listed it. */
export interface UlBinding {
  contact: UlContactRow;
  nodes: string[];
}

/**
 * The bindings of an AoR as several nodes answered ul.lookup, each once, with the nodes that
 * listed it (in node order; the first one's copy is kept, whose `expires` may differ from the
 * others' by the time between the answers). sipd --cluster answers ul.lookup from the cluster
 * store, so every node lists every node's bindings (as Kamailio nodes do that replicate usrloc
 * over DMQ): an operator asking all nodes wants each binding once, not once per node. A binding
 * is its ruid, the same wherever it is listed; a contact without one, its AoR, URI and Call-ID.
 */
export function ulBindings(answers: Array<{ node: string; value: UlLookup }>): UlBinding[] {
  const byKey = new Map<string, UlBinding>();
  for (const { node, value } of answers) {
    for (const c of value.contacts) {
      const key = c.ruid !== null ? `ruid ${c.ruid}` : `aor ${c.aor}\n${c.contact}\n${c.callId}`;
      const b = byKey.get(key);
      if (b === undefined) byKey.set(key, { contact: c, nodes: [node] });
      else if (!b.nodes.includes(node)) b.nodes.push(node);
    }
  }
  return [...byKey.values()];
}

export interface UlRemoval {
  aor: string;
  /** Contacts it had. */
  contacts: number;
  /** Several nodes: this one did not have the AoR. */
  notRegistered?: boolean;
  /** --dry-run: nothing was removed. */
  dryRun?: boolean;
}

/**
 * ul.rm answers success also for an AoR that is not there, so look it up first: removing what
 * is not registered is not-found (exit 3), like every other sipctl rm.
 */
export async function ulRemove(c: RpcClient, aorIn: string, table = DEFAULT_UL_TABLE): Promise<UlRemoval> {
  const found = await ulShow(c, aorIn, table);
  try {
    await c.call('ul.rm', [table, found.aor]);
  } catch (e) {
    if (isRemoteMessage(e, /not found/i)) throw mapNotFound(e, { table, aor: found.aor });
    throw e;
  }
  return { aor: found.aor, contacts: found.contacts.length };
}

// ---------------------------------------------------------------- one contact (ul.add, ul.rm_contact)

export interface UlContactInput {
  /** seconds from now; 0 = permanent (kamctl's default for `ul add`) */
  expires?: string | number;
  /** 0..1, or -1 for "not set"; default 1 as kamctl */
  q?: string | number;
  path?: string;
  flags?: string | number;
  cflags?: string | number;
  methods?: string | number;
}

export interface UlContactChange {
  aor: string;
  contact: string;
  action: 'add' | 'rm';
  /** add: seconds, 0 = permanent */
  expires?: number;
  q?: number;
  /** Several nodes: this one did not have the AoR or contact. */
  notRegistered?: boolean;
  dryRun?: boolean;
}

function uintParam(field: string, v: string | number | undefined, dflt: number, max = 4294967295): number {
  if (v === undefined || v === '') return dflt;
  const s = String(v).trim();
  const n = /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n > max) throw new ValidationError(field, `"${v}" is not a whole number between 0 and ${max}`);
  return n;
}

/** A contact as usrloc stores it: a sip:/sips: URI without control characters or blanks. */
export function validateContact(contact: string): string {
  const s = contact.trim();
  if (!/^sips?:[^\s\x00-\x1f\x7f<>"]+$/i.test(s) || s.length > 512) throw new ValidationError('contact', `"${contact}" is not a SIP contact URI`, 'e.g. sip:alice@192.0.2.10:5060');
  try {
    const u = parseUri(s);
    if (u.kind !== 'sip') throw new Error('not a sip: URI');
  } catch (e) {
    throw new ValidationError('contact', `"${contact}" is not a SIP contact URI (${(e as Error).message})`, 'e.g. sip:alice@192.0.2.10:5060');
  }
  return s;
}

/** The nine parameters of Kamailio 5.6's ul.add (usrloc ul_rpc.c, "SSSdfSddd"), validated. */
export function ulAddParams(aorIn: string, contactIn: string, input: UlContactInput, table = DEFAULT_UL_TABLE): [string, string, string, number, number, string, number, number, number] {
  const aor = normalizeAor(aorIn);
  const contact = validateContact(contactIn);
  const expires = uintParam('expires', input.expires, 0, 2147483647);
  let q = 1;
  if (input.q !== undefined && input.q !== '') {
    const s = String(input.q).trim();
    q = /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
    if (!(q === -1 || (q >= 0 && q <= 1))) throw new ValidationError('q', `"${input.q}" is not a q value between 0 and 1 (or -1 for none)`);
  }
  const path = input.path ?? '';
  if (/[\x00-\x1f\x7f]/.test(path) || path.length > 512) throw new ValidationError('path', 'must be at most 512 characters without control characters');
  // Kamailio reads a path of "0" as no path (the only way to give none over kamcmd)
  return [table, aor, contact, expires, q, path === '' ? '0' : path, uintParam('flags', input.flags, 0), uintParam('cflags', input.cflags, 0), uintParam('methods', input.methods, 0)];
}

/** ul.add: add (or update) one contact of an AoR. */
export async function ulAddContact(c: RpcClient, aorIn: string, contactIn: string, input: UlContactInput = {}, table = DEFAULT_UL_TABLE, opts: { dryRun?: boolean } = {}): Promise<UlContactChange> {
  const params = ulAddParams(aorIn, contactIn, input, table);
  const [, aor, contact, expires, q] = params;
  if (opts.dryRun) {
    // the table exists on this proxy (an AoR that is not registered yet is fine)
    await ulShow(c, aor, table).catch((e) => {
      if ((e as { code?: string }).code !== 'AOR_NOT_FOUND' && !isRemoteMessage(e, /no contacts/i)) throw e;
    });
    return { aor, contact, action: 'add', expires, q, dryRun: true };
  }
  try {
    await c.call('ul.add', params);
  } catch (e) {
    throw mapNotFound(e, { table, aor });
  }
  return { aor, contact, action: 'add', expires, q };
}

/**
 * ul.rm_contact: remove one contact of an AoR. Kamailio answers 404 "AOR not found" and
 * 404 "Contact not found"; both are exit 3. The contact is matched as the proxy stored it.
 */
export async function ulRemoveContact(c: RpcClient, aorIn: string, contactIn: string, table = DEFAULT_UL_TABLE, opts: { dryRun?: boolean } = {}): Promise<UlContactChange> {
  const aor = normalizeAor(aorIn);
  const contact = contactIn.trim();
  if (contact === '' || /[\s\x00-\x1f\x7f]/.test(contact)) throw new ValidationError('contact', `"${contactIn}" is not a contact URI`);
  if (opts.dryRun) {
    const found = await ulShow(c, aor, table);
    if (!found.contacts.some((r) => r.contact === contact)) throw new SipctlError('CONTACT_NOT_FOUND', `${aor} has no contact ${contact}`, { category: 'not-found', hint: `see \`sipctl ul show ${aor}\`` });
    return { aor: found.aor, contact, action: 'rm', dryRun: true };
  }
  try {
    await c.call('ul.rm_contact', [table, aor, contact]);
  } catch (e) {
    if (isRemoteMessage(e, /contact not found/i)) throw new SipctlError('CONTACT_NOT_FOUND', `${aor} has no contact ${contact}`, { category: 'not-found', hint: `see \`sipctl ul show ${aor}\``, cause: e });
    throw mapNotFound(e, { table, aor });
  }
  return { aor, contact, action: 'rm' };
}

/** An AoR with at least one live contact (kamctl online). */
export interface OnlineAor {
  aor: string;
  contacts: number;
}

/** kamctl online: the AoRs that have at least one contact that has not expired, sorted. */
export async function ulOnline(c: RpcClient, opts: { table?: string; filter?: string; timeoutMs?: number; force?: boolean } = {}): Promise<OnlineAor[]> {
  const d = await ulDump(c, { ...opts, want: 'rows' });
  const counts = new Map<string, number>();
  for (const r of d.rows ?? []) {
    if (r.expires === 'expired' || r.expires === 'deleted') continue;
    counts.set(r.aor, (counts.get(r.aor) ?? 0) + 1);
  }
  return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([aor, contacts]) => ({ aor, contacts }));
}
