import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import type { ConfigValues } from './config.js';

/**
 * Parse the shell-variable assignments of a kamctlrc. We never source it (it is a shell
 * script); we read `NAME=value`, `NAME="value"` and `NAME='value'` lines only.
 */
export function parseKamctlrc(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2].trim();
    // A quoted value may be followed by a comment: DBRWPW="pw"  # read-write password
    const quoted = /^"((?:[^"\\]|\\.)*)"\s*(?:#.*)?$/.exec(value) ?? /^'([^']*)'\s*(?:#.*)?$/.exec(value);
    if (quoted) {
      value = quoted[1];
    } else {
      value = value.replace(/\s+#.*$/, '');
    }
    vars[m[1]] = value;
  }
  return vars;
}

/**
 * Map kamctlrc variables to sipctl configuration. The password goes into `dbPassword`, never
 * into a URL we might print. kamctl picks the ha1 hash tool with `MD5=` (e.g. MD5=sha256sum);
 * `CMDHASH=` is accepted as an alias.
 */
export function kamctlrcToConfig(vars: Record<string, string>, source: string): Partial<ConfigValues> {
  const out: Partial<ConfigValues> = {};
  const engine = (vars.DBENGINE ?? '').toUpperCase();
  if (engine === 'MYSQL' || engine === 'MARIADB' || engine === '') {
    if (vars.DBHOST || vars.DBNAME || vars.DBRWUSER || engine) {
      const host = vars.DBHOST || 'localhost';
      const port = vars.DBPORT ? `:${vars.DBPORT}` : '';
      const user = vars.DBRWUSER || 'kamailio';
      out.db = `mysql://${encodeURIComponent(user)}@${host}${port}/${encodeURIComponent(vars.DBNAME || 'kamailio')}`;
      out.dbPassword = vars.DBRWPW ?? 'kamailiorw';
    }
  } else if (engine === 'SQLITE') {
    const path = vars.DB_PATH;
    if (!path) throw new ConfigError('KAMCTLRC_NO_DB_PATH', `${source}: DBENGINE=SQLITE but DB_PATH is not set`, 'set DB_PATH to the SQLite file Kamailio uses');
    out.db = `sqlite://${path.startsWith('/') ? path : '/' + path}`;
  } else {
    throw new ConfigError('KAMCTLRC_ENGINE', `${source}: DBENGINE=${vars.DBENGINE} is not supported by sipctl`, 'sipctl speaks MYSQL and SQLITE');
  }
  if (vars.SIP_DOMAIN) out.domain = vars.SIP_DOMAIN;
  // Exactly kamctl.base + kamctl: unset or empty means 1 (plaintext stored), and only "1" stores
  // it (`[ "$STORE_PLAINTEXT_PW" = "1" ]`). Debian's stock kamctlrc leaves it commented out, which
  // is what its stock kamailio.cfg (auth_db calculate_ha1 yes) needs.
  const pw = vars.STORE_PLAINTEXT_PW ?? '';
  out.storePlaintext = pw === '' || pw === '1';
  const hashTool = vars.CMDHASH ?? vars.MD5;
  if (hashTool && /sha256/i.test(hashTool)) out.hash = 'sha256';
  return out;
}

export function readKamctlrc(path: string): Partial<ConfigValues> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('KAMCTLRC_UNREADABLE', `cannot read kamctlrc ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'give the path of an existing kamctlrc with --kamctlrc');
  }
  return kamctlrcToConfig(parseKamctlrc(text), path);
}
