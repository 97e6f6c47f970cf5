/**
 * The JSON API of the web console (src/core/web/API.md), one handler per endpoint. Each calls the
 * core function or `ops` entry the matching command calls — the same validation, errors and
 * secrets policy — and returns the data that command's --json gives, plus the equivalent
 * `sipctl …` command line for every change (never with a secret on it).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Session } from '../session.js';
import { UsageError, ValidationError } from '../errors.js';
import { nodesError, outcomeJson, type NodeOutcome } from '../proxy/node-set.js';
import { ops, type OpResult } from '../proxy/ops.js';
import { getItem } from '../proxy/htable.js';
import { parseIp } from '../address/ip.js';
import { splitAor } from '../subscribers/identity.js';
import { generatePassword } from '../subscribers/credentials.js';
import { addSubscriber, changePassword, listSubscribers, removeSubscriber } from '../subscribers/subscribers.js';
import { reloadSessionCredentials } from '../subscribers/credential-reload.js';
import { addAddress, listAddresses, removeAddress } from '../address/addresses.js';
import { addTrusted, listTrusted, removeTrusted } from '../trusted/trusted.js';
import { addDomain, listDomains, removeDomain } from '../domain/domains.js';
import { dispatcherDump, dispatcherSetState, listDispatcher } from '../dispatcher/dispatcher.js';
import { dialplanTranslate, listDialplan } from '../dialplan/dialplan.js';
import { callHistory, endCallOnNodes, listCalls, parseSince, type CallRecord } from '../calls/calls.js';
import type { WebRole } from './accounts.js';
import { WebError } from './http-errors.js';
import type { WebServer } from './server.js';

export interface RouteContext {
  server: WebServer;
  session: Session;
  user: { name: string; role: WebRole };
  query: URLSearchParams;
  params: Record<string, string>;
  /** the JSON body (empty object when there is none) */
  body: Record<string, unknown>;
  headers: IncomingHttpHeaders;
  /** the raw body, for upload routes */
  raw: () => Promise<Buffer>;
}

export interface ApiResult {
  data: unknown;
  warnings?: string[];
  /** the sipctl command line that does the same (changes only) */
  command?: string;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  pattern: RegExp;
  /** changes something: CSRF token (checked for every non-GET) and role operator */
  write: boolean;
  /** the body is a file, not JSON */
  upload?: boolean;
  handler: (ctx: RouteContext) => Promise<ApiResult>;
}

// ------------------------------------------------------------------ helpers

/** One argument as a POSIX shell reads it: bare when safe, else single-quoted. */
export function shellArg(s: string): string {
  if (s !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(...args: Array<string | number | undefined | false>): string {
  return ['sipctl', ...args.filter((a): a is string | number => a !== undefined && a !== false).map((a) => shellArg(String(a)))].join(' ');
}

/** `?q=&offset=&limit=`: limit 1..500 (default 50), offset ≥ 0. */
export function paging(q: URLSearchParams): { q: string; offset: number; limit: number } {
  const int = (name: string, dflt: number, min: number, max: number) => {
    const v = q.get(name);
    if (v === null || v === '') return dflt;
    if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) throw new ValidationError(name, `"${v}" is not a number from ${min} to ${max}`);
    return Number(v);
  };
  const text = q.get('q') ?? '';
  if (text.length > 128) throw new ValidationError('q', 'longer than 128 characters');
  return { q: text, offset: int('offset', 0, 0, 1_000_000_000), limit: int('limit', 50, 1, 500) };
}

function page<T>(items: T[], p: { offset: number; limit: number }): { total: number; items: T[] } {
  return { total: items.length, items: items.slice(p.offset, p.offset + p.limit) };
}

function matches(q: string, ...fields: Array<unknown>): boolean {
  if (q === '') return true;
  const needle = q.toLowerCase();
  return fields.some((f) => f !== undefined && f !== null && String(f).toLowerCase().includes(needle));
}

function str(body: Record<string, unknown>, name: string, opts: { required?: boolean; max?: number } = {}): string | undefined {
  const v = body[name];
  if (v === undefined || v === null || v === '') {
    if (opts.required) throw new ValidationError(name, 'is required');
    return undefined;
  }
  if (typeof v !== 'string' && typeof v !== 'number') throw new ValidationError(name, 'must be a string');
  const s = String(v);
  if (s.length > (opts.max ?? 1024)) throw new ValidationError(name, `longer than ${opts.max ?? 1024} characters`);
  return s;
}

function credentials(session: Session) {
  const cfg = session.cfg;
  return { hash: cfg.values.hash, storePlaintext: cfg.sources.storePlaintext.source === 'default' ? undefined : cfg.values.storePlaintext, allowWeak: false };
}

/** Rows of every node that answered; failed nodes become warnings, and when none answered, the error. */
function merged<T, R>(outcomes: Array<NodeOutcome<T>>, rows: (v: T, node: string) => R[]): { items: R[]; warnings: string[] } {
  const ok = outcomes.filter((o): o is Extract<NodeOutcome<T>, { ok: true }> => o.ok);
  if (ok.length === 0 && outcomes.length > 0) throw nodesError(outcomes)!;
  const warnings = outcomes.filter((o) => !o.ok).map((o) => `${o.node}: ${(o as { error: Error }).error.message}`);
  return { items: ok.flatMap((o) => rows(o.value, o.node)), warnings };
}

/** A proxy change: the CLI's JSON envelope; every node failing is the error, some failing are warnings. */
function envelopeResult<T>(r: Pick<OpResult<T>, 'outcomes' | 'warnings'>, command: string): ApiResult {
  const failed = r.outcomes.filter((o) => !o.ok);
  if (failed.length === r.outcomes.length && failed.length > 0) throw nodesError(r.outcomes)!;
  const warnings = [...r.warnings, ...failed.map((o) => `${o.node}: ${(o as { error: Error }).error.message}`)];
  return { data: { nodes: r.outcomes.map((o) => outcomeJson(o)), warnings: r.warnings }, warnings, command };
}

const route = (method: Route['method'], path: string, write: boolean, handler: Route['handler'], upload = false): Route => ({
  method,
  // "/api/subscribers/:aor/password" → ^/api/subscribers/(?<aor>[^/]+)/password$
  pattern: new RegExp('^' + path.replace(/:([a-z]+)/g, '(?<$1>[^/]+)') + '$'),
  write,
  handler,
  upload,
});

// ------------------------------------------------------------------ SIM import jobs

interface SimJob {
  id: string;
  owner: string;
  done: boolean;
  total: number;
  imported: number;
  errors: Array<{ line?: number; reason: string }>;
  summary?: unknown;
  finished?: number;
}
const simJobs = new Map<string, SimJob>();

// ------------------------------------------------------------------ routes

export const ROUTES: Route[] = [
  // ---- nodes and dashboard
  route('GET', '/api/nodes', false, async ({ session }) => {
    // `sipctl status` for every configured node, and `sipctl nodes` where the proxy is a sipd (Kamailio has no cluster.nodes)
    const nodes = session.nodeSet();
    const ctx = session.opContext();
    // one after the other: Kamailio's HTTP RPC resets a connection now and then under parallel calls
    const health = await ops.status(ctx);
    const cluster = await ops.nodes(ctx);
    const items = nodes.nodes.map((n) => {
      const h = health.outcomes.find((x) => x.node === n.name);
      const c = cluster.outcomes.find((x) => x.node === n.name);
      return {
        node: n.name,
        url: n.display,
        ok: h?.ok ?? false,
        ...(h && !h.ok ? { error: h.error.message } : {}),
        ...(h?.ok ? { version: h.value.version, uptime: h.value.uptime, latencyMs: h.value.latencyMs } : {}),
        ...(c?.ok ? { cluster: c.value } : {}),
      };
    });
    return { data: { total: items.length, items } };
  }),
  route('GET', '/api/dashboard', false, async ({ server }) => ({ data: { ...(await server.feed.current()), hour: server.feed.hourSeries() } })),

  // ---- subscribers (sipctl add / passwd / rm / subscriber list)
  route('GET', '/api/subscribers', false, async ({ server, query }) => {
    const p = paging(query);
    const r = await listSubscribers(await server.db(), { pattern: p.q ? `*${p.q.replace(/[*?]/g, '')}*` : undefined, limit: p.limit, offset: p.offset });
    return { data: { total: r.total, items: r.subscribers } };
  }),
  route('POST', '/api/subscribers', true, async ({ server, session, body }) => {
    const aor = str(body, 'aor', { required: true, max: 256 })!;
    const given = str(body, 'password', { max: 64 });
    const { username, domain } = splitAor(aor, session.cfg.values.domain);
    const password = given ?? generatePassword();
    const change = await addSubscriber(await server.db(), username, domain, password, credentials(session));
    const warnings = [...(change.warnings ?? []), ...(await reloadSessionCredentials(session))];
    return {
      data: { ...change, ...(given === undefined ? { password } : {}) },
      warnings,
      command: commandLine('add', `${username}@${domain}`, given === undefined && '--generate'),
    };
  }),
  route('PUT', '/api/subscribers/:aor/password', true, async ({ server, session, params, body }) => {
    const given = str(body, 'password', { max: 64 });
    const { username, domain } = splitAor(params.aor!, session.cfg.values.domain);
    const password = given ?? generatePassword();
    const change = await changePassword(await server.db(), username, domain, password, credentials(session));
    const warnings = [...(change.warnings ?? []), ...(await reloadSessionCredentials(session))];
    return {
      data: { ...change, ...(given === undefined ? { password } : {}) },
      warnings,
      command: commandLine('passwd', `${username}@${domain}`, given === undefined && '--generate'),
    };
  }),
  route('DELETE', '/api/subscribers/:aor', true, async ({ server, session, params }) => {
    const { username, domain } = splitAor(params.aor!, session.cfg.values.domain);
    const change = await removeSubscriber(await server.db(), username, domain);
    const warnings = await reloadSessionCredentials(session);
    return { data: change, ...(warnings.length ? { warnings } : {}), command: commandLine('rm', `${username}@${domain}`, '--yes') };
  }),

  // ---- location (sipctl ul dump / ul rm AOR CONTACT)
  route('GET', '/api/location', false, async ({ session, query }) => {
    const p = paging(query);
    const r = await ops.ulDump(session.opContext(), { want: 'rows' });
    const { items, warnings } = merged(r.outcomes, (d, node) =>
      (d.rows ?? []).map((c) => ({ aor: c.aor, contact: c.contact, userAgent: c.userAgent, expires: c.expires, received: c.received, lastModified: c.lastModified, q: c.q, node })),
    );
    return { data: page(items.filter((c) => matches(p.q, c.aor, c.contact, c.userAgent, c.received)), p), warnings };
  }),
  route('DELETE', '/api/location', true, async ({ session, query }) => {
    const aor = query.get('aor');
    const contact = query.get('contact');
    if (!aor) throw new ValidationError('aor', 'is required');
    if (!contact) throw new ValidationError('contact', 'is required');
    const r = await ops.ulRmContact(session.opContext(), aor, contact);
    return envelopeResult(r, commandLine('ul', 'rm', aor, contact, '--yes'));
  }),

  // ---- bans (htable dump ipban/userban, sipctl unban)
  route('GET', '/api/bans', false, async ({ session, query }) => {
    const p = paging(query);
    const ctx = session.opContext();
    const tables = ['ipban', 'userban'] as const;
    const all: Array<{ table: string; key: string; value: number | string; node: string; expires?: string | null }> = [];
    const warnings: string[] = [];
    for (const table of tables) {
      const r = await ops.htableDump(ctx, table);
      for (const o of r.outcomes) {
        if (o.ok) for (const row of o.value) all.push({ table, key: row.name, value: row.value, node: o.node });
        else if (o.error.code !== 'HTABLE_NOT_FOUND') warnings.push(`${o.node}: ${table}: ${o.error.message}`);
      }
      if (r.outcomes.every((o) => !o.ok && o.error.code !== 'HTABLE_NOT_FOUND')) throw nodesError(r.outcomes)!;
    }
    const found = page(all.filter((b) => matches(p.q, b.key)), p);
    // Expiry only for the rows shown (one htable.get each).
    const nodes = ctx.nodes;
    await Promise.all(found.items.map(async (b) => {
      const node = nodes.nodes.find((n) => n.name === b.node);
      try {
        b.expires = node ? (await getItem(nodes.client(node), b.table, b.key)).expire : null;
      } catch {
        b.expires = null;
      }
    }));
    return { data: found, warnings };
  }),
  route('DELETE', '/api/bans/:table/:key', true, async ({ session, params }) => {
    const table = params.table!;
    if (table !== 'ipban' && table !== 'userban') throw new ValidationError('table', 'must be ipban or userban');
    // userban keys are IP::user::auth_count / IP::user::last_auth: the address is what is unbanned
    const ipText = table === 'ipban' ? params.key! : params.key!.split('::')[0]!;
    const ip = parseIp(ipText).text;
    const r = await ops.unban(session.opContext(), ip);
    return envelopeResult(r, commandLine('unban', ip));
  }),

  // ---- address groups (sipctl address add / rm / show / reload)
  route('GET', '/api/address', false, async ({ server, query }) => {
    const p = paging(query);
    const rows = await listAddresses(await server.db());
    return { data: page(rows.filter((r) => matches(p.q, r.grp, r.ip, r.tag)), p) };
  }),
  route('POST', '/api/address', true, async ({ server, body }) => {
    const grp = str(body, 'group', { required: true, max: 10 })!;
    const ip = str(body, 'address', { required: true, max: 64 })!;
    const mask = str(body, 'mask', { max: 3 });
    const port = str(body, 'port', { max: 5 });
    const tag = str(body, 'tag', { max: 64 });
    const change = await addAddress(await server.db(), { grp, ip, mask, port, tag });
    const e = change.entries[0]!;
    return { data: change, command: commandLine('address', 'add', e.grp, e.ip, e.mask, e.port, e.tag ?? undefined) };
  }),
  route('DELETE', '/api/address', true, async ({ server, body }) => {
    const grp = str(body, 'group', { required: true, max: 10 })!;
    const ip = str(body, 'address', { required: true, max: 64 })!;
    const mask = str(body, 'mask', { max: 3 });
    const port = str(body, 'port', { max: 5 });
    const change = await removeAddress(await server.db(), grp, ip, { mask, port });
    return { data: change, command: commandLine('address', 'rm', grp, ip, mask !== undefined && '--mask', mask, port !== undefined && '--port', port, '--yes') };
  }),
  route('POST', '/api/address/reload', true, async ({ session }) => {
    const r = await ops.addressReload(session.opContext());
    return envelopeResult(r, commandLine('address', 'reload'));
  }),

  // ---- trusted peers (sipctl trusted add / rm / show)
  route('GET', '/api/trusted', false, async ({ server, query }) => {
    const p = paging(query);
    const rows = await listTrusted(await server.db());
    return { data: page(rows.filter((r) => matches(p.q, r.srcIp, r.proto, r.fromPattern, r.tag)), p) };
  }),
  route('POST', '/api/trusted', true, async ({ server, body }) => {
    const input = {
      srcIp: str(body, 'srcIp', { required: true, max: 64 })!,
      proto: str(body, 'proto', { max: 8 }),
      fromPattern: str(body, 'fromPattern', { max: 64 }),
      ruriPattern: str(body, 'ruriPattern', { max: 64 }),
      tag: str(body, 'tag', { max: 64 }),
      priority: str(body, 'priority', { max: 11 }),
    };
    const change = await addTrusted(await server.db(), input);
    const e = change.entries[0]!;
    const tail = e.tag !== null ? [e.proto, e.fromPattern ?? '', e.tag] : e.fromPattern !== null ? [e.proto, e.fromPattern] : e.proto !== 'any' ? [e.proto] : [];
    return {
      data: change,
      command: commandLine('trusted', 'add', e.srcIp, ...tail, e.priority !== 0 && '--priority', e.priority !== 0 && String(e.priority), e.ruriPattern !== null && '--ruri-pattern', e.ruriPattern ?? undefined),
    };
  }),
  route('DELETE', '/api/trusted', true, async ({ server, body }) => {
    const srcIp = str(body, 'srcIp', { required: true, max: 64 })!;
    const proto = str(body, 'proto', { max: 8 });
    const fromPattern = str(body, 'fromPattern', { max: 64 });
    const change = await removeTrusted(await server.db(), srcIp, { proto, fromPattern });
    return { data: change, command: commandLine('trusted', 'rm', srcIp, proto !== undefined && '--proto', proto, fromPattern !== undefined && '--from-pattern', fromPattern, '--yes') };
  }),

  // ---- domains (sipctl domain add / rm / show)
  route('GET', '/api/domains', false, async ({ server, query }) => {
    const p = paging(query);
    const rows = await listDomains(await server.db());
    return { data: page(rows.filter((r) => matches(p.q, r.domain, r.did)), p) };
  }),
  route('POST', '/api/domains', true, async ({ server, body }) => {
    const domain = str(body, 'domain', { required: true, max: 64 })!;
    const did = str(body, 'did', { max: 64 });
    const change = await addDomain(await server.db(), { domain, did });
    const e = change.entries[0]!;
    return { data: change, command: commandLine('domain', 'add', e.domain, did !== undefined && '--did', did) };
  }),
  route('DELETE', '/api/domains/:domain', true, async ({ server, params }) => {
    const change = await removeDomain(await server.db(), params.domain!);
    return { data: change, command: commandLine('domain', 'rm', change.entries[0]?.domain ?? params.domain!, '--yes') };
  }),

  // ---- dispatcher (sipctl dispatcher show + dump, set-state)
  route('GET', '/api/dispatcher', false, async ({ server, session, query }) => {
    const p = paging(query);
    const rows = await listDispatcher(await server.db());
    const loaded = await dispatcherDump(session.opContext());
    const warnings = loaded.outcomes.filter((o) => !o.ok).map((o) => `${o.node}: ${(o as { error: Error }).error.message}`);
    const items = rows.map((r) => {
      const states = loaded.outcomes.flatMap((o) => {
        if (!o.ok) return [];
        const d = o.value.find((x) => x.setid === r.setid && x.uri === r.destination);
        return d ? [{ node: o.node, state: d.state, probing: d.probing, flags: d.flags }] : [];
      });
      return { ...r, ...(states.length ? { state: states[0]!.state, probing: states[0]!.probing } : {}), nodes: states };
    });
    return { data: page(items.filter((r) => matches(p.q, r.setid, r.destination, r.description, r.attrs)), p), warnings };
  }),
  route('POST', '/api/dispatcher/state', true, async ({ session, body }) => {
    const setid = str(body, 'setid', { required: true, max: 10 })!;
    const destination = str(body, 'destination', { required: true, max: 192 })!;
    const state = str(body, 'state', { required: true, max: 10 })!;
    const r = await dispatcherSetState(session.opContext(), state, setid, destination);
    return envelopeResult(r, commandLine('dispatcher', 'set-state', state, setid, destination));
  }),

  // ---- dialplan (sipctl dialplan show, translate)
  route('GET', '/api/dialplan', false, async ({ server, query }) => {
    const p = paging(query);
    const rows = await listDialplan(await server.db());
    return { data: page(rows.filter((r) => matches(p.q, r.dpid, r.matchExp, r.replExp, r.attrs)), p) };
  }),
  route('POST', '/api/dialplan/translate', false, async ({ session, body }) => {
    const dpid = str(body, 'dpid', { required: true, max: 10 })!;
    const input = str(body, 'input', { required: true, max: 256 })!;
    const r = await dialplanTranslate(session.opContext(), dpid, input);
    return envelopeResult(r, commandLine('dialplan', 'translate', dpid, input));
  }),

  // ---- htable (sipctl htable list / dump)
  route('GET', '/api/htable', false, async ({ session }) => {
    const r = await ops.htableList(session.opContext());
    const { items, warnings } = merged(r.outcomes, (v, node) => v.map((t) => ({ ...t, node })));
    return { data: { total: items.length, items }, warnings };
  }),
  route('GET', '/api/htable/:table', false, async ({ session, params, query }) => {
    const p = paging(query);
    const r = await ops.htableDump(session.opContext(), params.table!);
    const { items, warnings } = merged(r.outcomes, (v, node) => v.map((row) => ({ key: row.name, value: row.value, type: row.type, node })));
    return { data: page(items.filter((i) => matches(p.q, i.key, i.value)), p), warnings };
  }),

  // ---- calls (sipctl calls list / end / history)
  route('GET', '/api/calls', false, async ({ session, query }) => {
    const p = paging(query);
    const outcomes = await session.nodeSet().each((c) => listCalls(c));
    const { items, warnings } = merged(outcomes, (v, node) => v.map((c) => ({ ...c, node })));
    return { data: page(items.filter((c) => matches(p.q, c.callId, c.from, c.to, c.caller)), p), warnings };
  }),
  route('DELETE', '/api/calls/:id', true, async ({ session, params }) => {
    const callId = params.id!;
    const outcomes = await endCallOnNodes(session.nodeSet(), callId);
    return envelopeResult({ outcomes, warnings: [] }, commandLine('calls', 'end', callId, '--yes'));
  }),
  route('GET', '/api/cdrs', false, async ({ server, query }) => {
    const p = paging(query);
    const { from, to, user } = cdrFilter(query);
    // callHistory pages from the newest call; `to` and `offset` are applied here
    const r = await callHistory(await server.db(), { since: from, user, limit: Math.min(p.offset + p.limit + (to ? 10_000 : 0), 1_000_000) });
    const calls = to ? r.calls.filter((c) => new Date(c.start) < to) : r.calls;
    return { data: { total: to ? calls.length : r.total, items: calls.slice(p.offset, p.offset + p.limit) } };
  }),
  route('GET', '/api/cdrs/per-hour', false, async ({ server, query }) => {
    const { from, to, user } = cdrFilter(query);
    const since = from ?? new Date(Date.now() - 24 * 3600_000);
    const r = await callHistory(await server.db(), { since, user, limit: 1_000_000 });
    return { data: perHour(r.calls, since, to ?? new Date()) };
  }),

  // ---- SIM cards (sipctl sim list / import)
  route('GET', '/api/sim', false, async ({ server, query }) => {
    const p = paging(query);
    const { listSims } = await import('../sim/sim-records.js');
    const prefix = p.q.trim();
    const r = await listSims(await server.db(), { imsiPrefix: prefix === '' ? undefined : prefix, limit: p.limit, offset: p.offset });
    return { data: { total: r.total, items: r.sims } };
  }),
  route('POST', '/api/sim/import', true, async ({ server, session, query, headers, raw, user }) => {
    const format = query.get('format') ?? 'auto';
    if (!['auto', 'csv', 'vendor'].includes(format)) throw new ValidationError('format', 'must be auto, csv or vendor');
    const opHeader = headers['x-sim-op'];
    const op = typeof opHeader === 'string' && opHeader.trim() !== '' ? opHeader.trim() : undefined;
    const body = await raw();
    if (body.length === 0) throw new UsageError('SIM_FILE_EMPTY', 'the import file is empty');
    const { importSims } = await import('../sim/sim-import.js');
    const { resolveKek } = await import('../sim/kek.js');
    const db = await server.db();
    const kek = await resolveKek({ hex: session.env.SIPCTL_SIM_KEK, file: session.cfg.values.simKekFile });
    const job: SimJob = { id: randomBytes(12).toString('base64url'), owner: user.name, done: false, total: 0, imported: 0, errors: [] };
    for (const [id, j] of simJobs) if (j.finished && Date.now() - j.finished > 3600_000) simJobs.delete(id);
    simJobs.set(job.id, job);
    // Runs on after the answer; the progress bar polls GET /api/sim/import/:job.
    void server.serialize(async () => {
      try {
        const summary = await importSims(db, () => [body], {
          format: format === 'auto' ? undefined : (format as 'csv' | 'vendor'),
          op,
          kek,
          onProgress: (pr) => {
            job.total = pr.total;
            job.imported = pr.done;
          },
        });
        job.imported = summary.added;
        job.total = summary.rows;
        job.errors = summary.rejections.map((r) => ({ line: r.line, reason: r.reason }));
        job.summary = summary;
      } catch (e) {
        job.errors.push({ reason: e instanceof Error && 'code' in e ? e.message : 'import failed' });
      } finally {
        job.done = true;
        job.finished = Date.now();
        kek?.wipe();
        body.fill(0);
      }
    });
    return { data: { job: job.id }, command: commandLine('sim', 'import', 'FILE', format !== 'auto' && '--format', format !== 'auto' && format, op !== undefined && '--op-file', op !== undefined && 'OP_FILE') };
  }, true),
  route('GET', '/api/sim/import/:job', false, async ({ params, user }) => {
    const job = simJobs.get(params.job!);
    if (!job || job.owner !== user.name) throw new WebError(404, 'SIM_JOB_NOT_FOUND', 'no such import job');
    return { data: { done: job.done, total: job.total, imported: job.imported, errors: job.errors, ...(job.summary ? { summary: job.summary } : {}) } };
  }),
];

function cdrFilter(query: URLSearchParams): { from?: Date; to?: Date; user?: string } {
  const from = query.get('from') ? parseSince(query.get('from')!) : undefined;
  const to = query.get('to') ? parseSince(query.get('to')!) : undefined;
  const user = query.get('user') || undefined;
  if (user !== undefined && user.length > 64) throw new ValidationError('user', 'longer than 64 characters');
  return { from, to, user };
}

/** Calls per hour (by start time), every hour from `from` to `to` present, oldest first. */
export function perHour(calls: CallRecord[], from: Date, to: Date): Array<{ hour: string; calls: number }> {
  const H = 3600_000;
  const start = Math.floor(from.getTime() / H) * H;
  const end = Math.floor(to.getTime() / H) * H;
  if (end - start > 24 * 366 * H) throw new ValidationError('from', 'the range is longer than a year');
  const counts = new Map<number, number>();
  for (let t = start; t <= end; t += H) counts.set(t, 0);
  for (const c of calls) {
    const t = Math.floor(new Date(c.start).getTime() / H) * H;
    if (counts.has(t)) counts.set(t, counts.get(t)! + 1);
  }
  return [...counts].map(([t, n]) => ({ hour: new Date(t).toISOString(), calls: n }));
}
