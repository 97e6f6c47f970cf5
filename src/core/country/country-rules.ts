/**
 * Country rules (tables sipd_country and sipd_country_override) that sipd's country module
 * loads: per scope (register, subscriber, carrier) an allow list and a block list of ISO 3166
 * alpha-2 codes; per subscriber its home countries; and the operator's CIDR → country overrides.
 * `sipctl country allow|block|rm|show|lookup|override`; proxies see a change after country.reload.
 */
import type { Database } from '../db/database.js';
import { assertWritable } from '../db/schema/schema.js';
import { assertColumnText } from '../db/charset.js';
import { canonicalNetwork } from '../address/network.js';
import { parseIp } from '../address/ip.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { RpcClient } from '../rpc/client.js';

export const SCOPES = ['register', 'subscriber', 'carrier'] as const;
export type Scope = (typeof SCOPES)[number];

export interface CountryRule {
  scope: Scope | 'home';
  /** home rules: the subscriber; '' otherwise */
  username: string;
  action: 'allow' | 'block';
  country: string;
}

export interface CountryOverride {
  network: string;
  country: string;
  note: string;
}

export function normaliseCountry(input: string): string {
  const c = input.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(c)) throw new ValidationError('country', `"${input.slice(0, 10)}" is not an ISO 3166 alpha-2 code`, 'two letters, e.g. DE, FR, US');
  return c;
}

function checkUser(u: string): string {
  if (u.length === 0 || u.length > 64 || /[\s\x00-\x1f\x7f@]/.test(u)) throw new ValidationError('user', 'a subscriber name without domain, at most 64 characters', 'e.g. alice');
  return assertColumnText('user', u);
}

export interface CountryChange {
  action: 'allow' | 'block' | 'rm' | 'override' | 'override-rm';
  rules: CountryRule[];
  overrides: CountryOverride[];
  dryRun: boolean;
}

/**
 * allow / block CODES for scopes (default all three), or — with `user` — the subscriber's home
 * countries (allow only). A code already listed the same way is kept; listed the other way is a
 * conflict (remove it first).
 */
export async function addCountryRules(db: Database, action: 'allow' | 'block', codes: string[], opts: { scopes?: Scope[]; user?: string; dryRun?: boolean } = {}): Promise<CountryChange> {
  if (codes.length === 0) throw new ValidationError('country', 'give at least one code');
  const cc = [...new Set(codes.map(normaliseCountry))];
  const user = opts.user === undefined ? '' : checkUser(opts.user);
  if (user !== '' && action === 'block') throw new ValidationError('user', 'home countries are an allow list: use `sipctl country allow CODE --user NAME`');
  if (user !== '' && opts.scopes !== undefined) throw new ValidationError('for', '--for and --user do not go together: --user sets home countries');
  const scopes: Array<Scope | 'home'> = user !== '' ? ['home'] : opts.scopes ?? [...SCOPES];
  await assertWritable(db, 'sipd_country');
  const rules: CountryRule[] = [];
  for (const scope of scopes) {
    for (const country of cc) {
      const have = await db.query<{ action: string }>('SELECT action FROM sipd_country WHERE scope = ? AND username = ? AND country = ?', [scope, user, country]);
      if (have.length > 0 && have[0].action !== action) throw new ConflictError('COUNTRY_RULE_EXISTS', `${country} is already on the ${have[0].action} list for ${scope}${user ? ` (${user})` : ''}`, 'remove it first with `sipctl country rm`');
      if (have.length > 0) continue;
      rules.push({ scope, username: user, action, country });
    }
  }
  if (!opts.dryRun && rules.length > 0) {
    await db.transaction(async (tx) => {
      for (const r of rules) await tx.execute('INSERT INTO sipd_country (scope, username, action, country) VALUES (?, ?, ?, ?)', [r.scope, r.username, r.action, r.country]);
    });
  }
  return { action, rules, overrides: [], dryRun: opts.dryRun === true };
}

export async function removeCountryRules(db: Database, codes: string[], opts: { scopes?: Scope[]; user?: string; dryRun?: boolean } = {}): Promise<CountryChange> {
  const cc = [...new Set(codes.map(normaliseCountry))];
  const user = opts.user === undefined ? '' : checkUser(opts.user);
  const scopes: Array<Scope | 'home'> = user !== '' ? ['home'] : opts.scopes ?? [...SCOPES];
  await assertWritable(db, 'sipd_country');
  const rules: CountryRule[] = [];
  for (const scope of scopes) {
    for (const country of cc) {
      const have = await db.query<{ action: string }>('SELECT action FROM sipd_country WHERE scope = ? AND username = ? AND country = ?', [scope, user, country]);
      if (have.length > 0) rules.push({ scope, username: user, action: have[0].action as 'allow' | 'block', country });
    }
  }
  if (rules.length === 0) throw new NotFoundError('COUNTRY_RULE_NOT_FOUND', `no rule for ${cc.join(', ')}${user ? ` (home of ${user})` : ` in ${scopes.join(', ')}`}`, 'see `sipctl country show`');
  if (!opts.dryRun) {
    await db.transaction(async (tx) => {
      for (const r of rules) await tx.execute('DELETE FROM sipd_country WHERE scope = ? AND username = ? AND country = ?', [r.scope, r.username, r.country]);
    });
  }
  return { action: 'rm', rules, overrides: [], dryRun: opts.dryRun === true };
}

export async function setCountryOverride(db: Database, networkIn: string, code: string, opts: { note?: string; dryRun?: boolean } = {}): Promise<CountryChange> {
  const network = canonicalNetwork(networkIn);
  const country = normaliseCountry(code);
  const note = opts.note ?? '';
  if (note.length > 128 || /[\x00-\x1f\x7f]/.test(note)) throw new ValidationError('note', 'at most 128 printable characters');
  assertColumnText('note', note);
  await assertWritable(db, 'sipd_country_override');
  if (!opts.dryRun) {
    await db.transaction(async (tx) => {
      await tx.execute('DELETE FROM sipd_country_override WHERE network = ?', [network]);
      await tx.execute('INSERT INTO sipd_country_override (network, country, note) VALUES (?, ?, ?)', [network, country, note]);
    });
  }
  return { action: 'override', rules: [], overrides: [{ network, country, note }], dryRun: opts.dryRun === true };
}

export async function removeCountryOverride(db: Database, networkIn: string, opts: { dryRun?: boolean } = {}): Promise<CountryChange> {
  const network = canonicalNetwork(networkIn);
  await assertWritable(db, 'sipd_country_override');
  const rows = await db.query<{ country: string; note: string }>('SELECT country, note FROM sipd_country_override WHERE network = ?', [network]);
  if (rows.length === 0) throw new NotFoundError('COUNTRY_OVERRIDE_NOT_FOUND', `no override for ${network}`, 'see `sipctl country show`');
  if (!opts.dryRun) await db.execute('DELETE FROM sipd_country_override WHERE network = ?', [network]);
  return { action: 'override-rm', rules: [], overrides: [{ network, country: String(rows[0].country), note: String(rows[0].note) }], dryRun: opts.dryRun === true };
}

export interface CountryListing {
  rules: CountryRule[];
  overrides: CountryOverride[];
}

export async function listCountryRules(db: Database): Promise<CountryListing> {
  const rules = await db.query<CountryRule>('SELECT scope, username, action, country FROM sipd_country ORDER BY scope, username, action, country');
  const overrides = await db.query<CountryOverride>('SELECT network, country, note FROM sipd_country_override ORDER BY network');
  return {
    rules: rules.map((r) => ({ scope: String(r.scope) as CountryRule['scope'], username: String(r.username), action: String(r.action) as CountryRule['action'], country: String(r.country) })),
    overrides: overrides.map((o) => ({ network: String(o.network), country: String(o.country), note: String(o.note) })),
  };
}

export interface CountryLookupResult {
  ip: string;
  country: string | null;
  source: string;
}

/** country.lookup on a proxy: the country sipd sees for an address (its data and overrides). */
export async function lookupCountry(c: RpcClient, ipIn: string): Promise<CountryLookupResult> {
  const ip = parseIp(ipIn).text;
  const r = (await c.call('country.lookup', [ip])) as CountryLookupResult;
  return { ip: String(r.ip), country: r.country === null ? null : String(r.country), source: String(r.source) };
}

export async function reloadCountryRules(c: RpcClient): Promise<{ message: string }> {
  await c.call('country.reload');
  return { message: 'country rules reloaded' };
}
