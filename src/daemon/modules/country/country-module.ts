/**
 * The country module: the source address's country (GeoIP) for every initial request, and the
 * operator's country rules — what the Kamailio security playbook does with geoip2 +
 * secfilter's country lists ("allow traffic only from your customers' regions").
 *
 * Tables (created by `sipctl db init`):
 *   sipd_country           scope (register | subscriber | carrier | home), username (home only),
 *                          action (allow | block), country (ISO 3166 alpha-2)
 *   sipd_country_override  network (CIDR) → country: the operator's corrections, checked before
 *                          the data set (tests map 127.0.0.x to test countries with it)
 *
 * Per scope: a country in the block list is refused; when the scope has an allow list, a country
 * not in it is refused. An address without a country (private ranges, gaps in the data) follows
 * `unknown`. Refused: 403 "Originating country not allowed" (or dropped: action = drop).
 *
 * Home countries (scope home, per subscriber): a subscriber registering or calling from outside
 * them is refused (home_policy = refuse) or restricted (home_policy = restrict: no international
 * destinations, src/core/block/destination-class.ts).
 *
 * Data (source): Tor's geoip files from Debian's tor-geoipdb (default; IPFire Location, CC BY-SA
 * 4.0), an MMDB file (mmdb_path; GeoIP2/DB-IP or ip-location-db layout), or none (overrides
 * only). The data set is read only when a rule exists or a lookup is asked for, so a sipd
 * without country rules pays nothing.
 *
 * RPC: country.reload, country.lookup ip, country.list, country.stats.
 */
import { existsSync } from 'node:fs';
import { ConfigError } from '../../../core/errors.js';
import type { CoreApi, StageResult, StatsApi } from '../../kernel/contracts.js';
import { defineModule, rpcArgs, type ModuleContext, type ParamValues, type RpcParams } from '../../kernel/module.js';
import { assertTableName, type ModuleDbDependency } from '../../kernel/module-db.js';
import { TableCopy } from '../../kernel/table-copy.js';
import { RpcFault } from '../../kernel/rpc-fault.js';
import { CidrMap, parseCidr } from '../../kernel/cidr-map.js';
import { parseIp } from '../permissions/ip.js';
import { rowsOfOptionalTable } from '../../kernel/optional-table.js';
import { MmdbGeoip, TorGeoip, type CountrySource } from './geoip.js';

export type CountryScope = 'register' | 'subscriber' | 'carrier';
export const COUNTRY_SCOPES: readonly CountryScope[] = ['register', 'subscriber', 'carrier'];

export interface CountryLookup {
  ip: string;
  /** ISO code, or null when unknown */
  country: string | null;
  /** where it came from: override, tor, mmdb; none when nothing knew it */
  source: string;
}

export interface CountryApi {
  lookup(ip: string): CountryLookup;
  /** the scope's rules applied to a source address: continue, 403, or drop */
  check(scope: CountryScope, ip: string, method?: string, user?: string): StageResult;
  /**
   * A subscriber's home countries applied to a source address: 'home' (inside them, or the
   * subscriber has none), 'restricted' (outside, home_policy restrict), or the refusal.
   */
  home(user: string, ip: string, method?: string): 'home' | 'restricted' | StageResult;
  reload(): Promise<void>;
}

export interface CountryDeps {
  db?: ModuleDbDependency;
}

const params = {
  source: { type: 'string', default: 'tor', choices: ['tor', 'mmdb', 'none'], doc: 'country data: tor (Debian tor-geoipdb files), mmdb (mmdb_path), none (overrides only)' },
  tor_geoip: { type: 'string', default: '/usr/share/tor/geoip', doc: 'Tor IPv4 geoip file (tor-geoipdb); "" = no IPv4 data' },
  tor_geoip6: { type: 'string', default: '/usr/share/tor/geoip6', doc: 'Tor IPv6 geoip file (tor-geoipdb); "" = no IPv6 data' },
  mmdb_path: { type: 'string', default: '', doc: 'MMDB file for source mmdb (GeoIP2/GeoLite2/DB-IP country.iso_code, or ip-location-db country_code)' },
  action: { type: 'string', default: 'reply', choices: ['reply', 'drop'], doc: 'refused request: reply 403 "Originating country not allowed", or drop it silently' },
  unknown: { type: 'string', default: 'allow', choices: ['allow', 'refuse'], doc: 'an address without a country (private ranges, gaps in the data) where a scope has an allow list' },
  home_policy: { type: 'string', default: 'restrict', choices: ['restrict', 'refuse'], doc: 'subscriber outside its home countries: restrict (no international destinations) or refuse' },
  db_table: { type: 'string', default: 'sipd_country', doc: 'rules table (scope, username, action, country)' },
  override_table: { type: 'string', default: 'sipd_country_override', doc: 'CIDR → country overrides (network, country)' },
  reload_interval: { type: 'integer', default: 0, min: 0, max: 86_400, doc: 'seconds between automatic reloads of the tables; 0 = only at start and on country.reload' },
} as const;

type Params = ParamValues<typeof params>;

interface ScopeRules {
  allow: Set<string>;
  block: Set<string>;
}

interface Rules {
  scopes: Map<CountryScope, ScopeRules>;
  homes: Map<string, Set<string>>;
  overrides: CidrMap<string>;
  count: number;
}

const emptyRules = (): Rules => ({ scopes: new Map(), homes: new Map(), overrides: new CidrMap(), count: 0 });

export const COUNTRY_REFUSED = { status: 403, reason: 'Originating country not allowed' } as const;

export function createCountryModule(deps: CountryDeps = {}) {
  let ctx: ModuleContext<Params> | undefined;
  let rules = emptyRules();
  let data: CountrySource | undefined;
  let dataError: string | undefined;
  const counters = { lookups: 0, refused: 0, restricted: 0, unknown: 0 };

  function loadData(p: Params): void {
    if (data !== undefined || p.source === 'none') return;
    const t0 = Date.now();
    if (p.source === 'mmdb') {
      if (p.mmdb_path === '' || !existsSync(p.mmdb_path)) throw new ConfigError('COUNTRY_DATA_MISSING', `country.mmdb_path: ${p.mmdb_path === '' ? 'not set' : `no file ${p.mmdb_path}`}`, 'set country.mmdb_path, or country.source to tor or none');
      data = new MmdbGeoip(p.mmdb_path);
    } else {
      const missing = [p.tor_geoip, p.tor_geoip6].filter((f) => f !== '' && !existsSync(f));
      if (missing.length > 0) throw new ConfigError('COUNTRY_DATA_MISSING', `country: no geoip file ${missing[0]}`, 'install Debian\'s tor-geoipdb (scripts/install-deps.sh does), or set country.source to mmdb or none');
      data = new TorGeoip(p.tor_geoip, p.tor_geoip6);
    }
    ctx?.log.info('country: data loaded', { source: data.kind, ranges: data.ranges, ms: Date.now() - t0 });
  }

  async function load(): Promise<void> {
    const db = copy.db;
    if (db === undefined || ctx === undefined) throw new ConfigError('COUNTRY_NO_DB', 'country: no database configured');
    const p = ctx.params;
    const next = emptyRules();
    const rows = await rowsOfOptionalTable<{ scope: string; username: string; action: string; country: string }>(db, `SELECT scope, username, action, country FROM ${p.db_table}`, p.db_table, ctx.log);
    let skipped = 0;
    for (const r of rows) {
      const cc = String(r.country ?? '').toUpperCase();
      const scope = String(r.scope ?? '');
      const action = String(r.action ?? '');
      if (!/^[A-Z]{2}$/.test(cc) || (action !== 'allow' && action !== 'block')) {
        skipped++;
        continue;
      }
      if (scope === 'home') {
        const u = String(r.username ?? '');
        if (u === '' || action !== 'allow') {
          skipped++;
          continue;
        }
        let s = next.homes.get(u);
        if (s === undefined) next.homes.set(u, (s = new Set()));
        s.add(cc);
      } else if ((COUNTRY_SCOPES as readonly string[]).includes(scope)) {
        let s = next.scopes.get(scope as CountryScope);
        if (s === undefined) next.scopes.set(scope as CountryScope, (s = { allow: new Set(), block: new Set() }));
        s[action].add(cc);
      } else {
        skipped++;
        continue;
      }
      next.count++;
    }
    const ovs = await rowsOfOptionalTable<{ network: string; country: string }>(db, `SELECT network, country FROM ${p.override_table}`, p.override_table, ctx.log);
    for (const o of ovs) {
      const net = parseCidr(String(o.network ?? ''));
      const cc = String(o.country ?? '').toUpperCase();
      if (net === undefined || !/^[A-Z]{2}$/.test(cc)) {
        skipped++;
        continue;
      }
      next.overrides.add(net.ip, net.mask, cc);
    }
    // The data set is needed once a rule exists; a failure keeps the old rules (reload fails).
    if (next.count > 0) loadData(p);
    rules = next;
    ctx.log.info('country: rules loaded', { rules: next.count, overrides: next.overrides.size, skipped });
  }
  const copy = new TableCopy('country', 'rules', load);

  function countryOf(ip: string): CountryLookup {
    counters.lookups++;
    const addr = parseIp(ip);
    if (addr === undefined) return { ip, country: null, source: 'none' };
    const o = rules.overrides.size > 0 ? rules.overrides.match(addr) : undefined;
    if (o !== undefined) return { ip, country: o.value, source: 'override' };
    const cc = data?.lookup(addr);
    return cc === undefined ? { ip, country: null, source: 'none' } : { ip, country: cc, source: data!.kind };
  }

  function refusal(ip: string, cc: string | null, method: string | undefined, user: string | undefined, why: string): StageResult {
    counters.refused++;
    ctx?.api<StatsApi>('stats')?.inc('country:refused');
    ctx?.api<CoreApi>('core')?.securityEvent({ event: 'country-refused', sourceIp: ip, method, user, detail: `${cc ?? 'unknown'}: ${why}` });
    return ctx?.params.action === 'drop' ? { action: 'drop', why: 'country' } : { action: 'reply', reply: { ...COUNTRY_REFUSED } };
  }

  const api: CountryApi = {
    lookup: countryOf,
    check(scope, ip, method, user) {
      const r = rules.scopes.get(scope);
      if (r === undefined) return { action: 'continue' };
      const { country } = countryOf(ip);
      if (country === null) {
        counters.unknown++;
        if (r.allow.size > 0 && ctx?.params.unknown === 'refuse') return refusal(ip, null, method, user, `${scope}: unknown country refused`);
        return { action: 'continue' };
      }
      if (r.block.has(country)) return refusal(ip, country, method, user, `${scope}: blocked`);
      if (r.allow.size > 0 && !r.allow.has(country)) return refusal(ip, country, method, user, `${scope}: not in the allow list`);
      return { action: 'continue' };
    },
    home(user, ip, method) {
      const h = rules.homes.get(user);
      if (h === undefined) return 'home';
      const { country } = countryOf(ip);
      if (country !== null && h.has(country)) return 'home';
      if (country === null && ctx?.params.unknown === 'allow') return 'home';
      if (ctx?.params.home_policy === 'refuse') return refusal(ip, country, method, user, 'outside the subscriber\'s home countries');
      counters.restricted++;
      return 'restricted';
    },
    reload: () => copy.reload(),
  };

  return defineModule({
    name: 'country',
    params,
    async init(c) {
      ctx = c;
      assertTableName('country.db_table', c.params.db_table);
      assertTableName('country.override_table', c.params.override_table);
      if (deps.db === undefined) throw new ConfigError('MODULE_DEPENDENCY', 'country needs a database with the sipd_country tables');
      await copy.open(deps.db, c.params.reload_interval, c.log);
    },
    async reload(c) {
      // new parameters: the data set is read again on the next load
      ctx = c;
      data = undefined;
      await copy.reload();
    },
    async destroy() {
      await copy.close();
    },
    rpc: {
      'country.reload': {
        doc: 'Reload the country rules and overrides from the database',
        async handler() {
          try {
            await copy.reload();
          } catch (e) {
            ctx?.log.error('country: reload failed, keeping the previous rules', { error: String(e) });
            dataError = e instanceof Error ? e.message : String(e);
            throw new RpcFault(500, 'Reload failed.');
          }
          dataError = undefined;
          return 'Reload OK';
        },
      },
      'country.lookup': {
        doc: 'The country of an address as sipd sees it: country.lookup ip',
        handler(p: RpcParams) {
          const [ip] = rpcArgs(p, ['ip']);
          if (typeof ip !== 'string' || parseIp(ip) === undefined) throw new RpcFault(400, 'Invalid IP address');
          try {
            if (ctx !== undefined) loadData(ctx.params);
          } catch (e) {
            throw new RpcFault(500, e instanceof Error ? e.message : 'country data not available');
          }
          return countryOf(ip);
        },
      },
      'country.list': {
        doc: 'The rules in memory: scopes with their allow/block lists, home countries, overrides count',
        handler() {
          const scopes: Record<string, { allow: string[]; block: string[] }> = {};
          for (const [s, r] of rules.scopes) scopes[s] = { allow: [...r.allow].sort(), block: [...r.block].sort() };
          const homes: Record<string, string[]> = {};
          for (const [u, h] of rules.homes) homes[u] = [...h].sort();
          return { scopes, homes, overrides: rules.overrides.size };
        },
      },
      'country.stats': {
        doc: 'Data source, ranges loaded, lookups, refusals, restricted subscribers since start',
        handler: () => ({ source: data?.kind ?? 'none', ranges: data?.ranges ?? 0, rules: rules.count, overrides: rules.overrides.size, ...counters, ...(dataError ? { last_error: dataError } : {}) }),
      },
    },
    api,
  });
}
