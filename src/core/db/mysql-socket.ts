/**
 * Where a mysql:// URL connects, the way libmysqlclient (and so kamctl's `mysql -h localhost`)
 * decides: host "localhost" means the server's unix socket, never TCP; 127.0.0.1 (or any other
 * host) means TCP. A stock kamctlrc says DBHOST=localhost and MariaDB users are often granted
 * only @'localhost', which a TCP connection from 127.0.0.1 does not match.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConnectionError } from '../errors.js';
import type { DbUrl } from './database.js';

/** Compiled-in defaults of Debian's and others' client libraries, in the order they are tried. */
export const DEFAULT_SOCKETS = ['/run/mysqld/mysqld.sock', '/var/run/mysqld/mysqld.sock', '/tmp/mysql.sock'];
const MY_CNF = ['/etc/mysql/my.cnf', '/etc/my.cnf'];
const MY_CNF_DIRS = ['/etc/mysql/conf.d', '/etc/mysql/mariadb.conf.d'];

/** `socket = PATH` in the [client] groups of the usual option files (cheap: no !include following). */
export function socketFromMyCnf(files: string[] = optionFiles()): string | undefined {
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    let group = '';
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      const g = /^\[([^\]]+)\]/.exec(line);
      if (g) {
        group = g[1].trim().toLowerCase();
        continue;
      }
      if (!['client', 'client-server', 'client-mariadb', 'mysql'].includes(group)) continue;
      const m = /^socket\s*=\s*(.+)$/.exec(line);
      if (m) return m[1].trim().replace(/^["']|["']$/g, '');
    }
  }
  return undefined;
}

function optionFiles(): string[] {
  const out = [...MY_CNF];
  for (const d of MY_CNF_DIRS) {
    try {
      out.push(...readdirSync(d).filter((n) => n.endsWith('.cnf')).sort().map((n) => join(d, n)));
    } catch {
      /* no such directory: nothing to read there */
    }
  }
  return out;
}

function isSocket(p: string): boolean {
  try {
    return statSync(p).isSocket();
  } catch {
    return false;
  }
}

export interface MysqlTarget {
  socketPath?: string;
  host?: string;
  port?: number;
}

/** `?socket=` wins; host localhost → the first socket found (my.cnf's, then the defaults); else TCP. */
export function mysqlTarget(u: Pick<DbUrl, 'host' | 'port' | 'socketPath'>, candidates?: string[]): MysqlTarget {
  if (u.socketPath) return { socketPath: u.socketPath };
  if ((u.host ?? 'localhost') !== 'localhost') return { host: u.host, port: u.port };
  const tried = candidates ?? [socketFromMyCnf(), ...DEFAULT_SOCKETS].filter((s): s is string => !!s);
  const found = tried.find(isSocket);
  if (found) return { socketPath: found };
  throw new ConnectionError(
    'DB_NO_SOCKET',
    `database host "localhost" means the server's unix socket (as for the mysql client), and none was found (tried ${[...new Set(tried)].join(', ')})`,
    { hint: 'add ?socket=/path/to/mysqld.sock to the URL, or use host 127.0.0.1 for TCP' },
  );
}

/** The likely cause of "Access denied", for the hint. */
export function accessDeniedHint(target: MysqlTarget, user: string | undefined): string {
  if (target.socketPath) {
    return `check the password (SIPCTL_DB_PASSWORD, dbPassword, or kamctlrc DBRWPW); over the socket the server matches '${user}'@'localhost' — a user created only for '127.0.0.1' or another host needs the URL host 127.0.0.1 (TCP)`;
  }
  const h = target.host;
  const local = h === '127.0.0.1' || h === '::1';
  return local
    ? `over TCP the server sees '${user}'@'${h}': a user granted only @'localhost' (as kamdbctl creates it) needs host localhost in the URL (the unix socket), or a grant for '${user}'@'${h}'; else check the password (SIPCTL_DB_PASSWORD, dbPassword, kamctlrc DBRWPW)`
    : `check the user's grants for the host this machine connects from, and the password (SIPCTL_DB_PASSWORD, dbPassword, kamctlrc DBRWPW)`;
}

