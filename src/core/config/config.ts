import { existsSync } from 'node:fs';
import { assertPrivateMode, readFileWithMode } from './private-file.js';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, UsageError } from '../errors.js';
import { readKamctlrc } from './kamctlrc.js';

export type HashAlgorithm = 'md5' | 'sha256';

/** Everything sipctl can be configured with. Keys are the config-file keys. */
export interface ConfigValues {
  db: string;               // database URL (mysql://… or sqlite:…)
  dbPassword?: string;      // kept apart from the URL so it is never on a command line
  domain?: string;          // default SIP domain (= digest realm)
  hash: HashAlgorithm;      // ha1 hash for subscribers
  storePlaintext: boolean;  // write the subscriber.password column
  rpc: string[];            // JSON-RPC endpoints of the proxies
  nodes?: Record<string, string>; // named proxies (name → URL)
  timeoutMs: number;        // RPC timeout
  rpcUser?: string;         // HTTP basic auth for the RPC endpoints (config file / env only)
  rpcPassword?: string;     // never a flag: it would show in ps
  rpcToken?: string;        // HTTP bearer token (config file / env only)
  rpcCaFile?: string;       // PEM CA bundle for https:// RPC endpoints
  rpcFifoReplyDir?: string; // Kamailio's jsonrpcs fifo_reply_dir, for fifo: endpoints (default /tmp)
  simKekFile?: string;      // 0600 file with the SIM key-encryption key (config file / env only, never a flag)
}

export type ConfigSource = 'flag' | 'env' | 'kamctlrc' | 'file' | 'default';
export interface ResolvedConfig {
  values: ConfigValues;
  sources: Record<keyof ConfigValues, { source: ConfigSource; detail?: string }>;
  files: string[]; // config files that were read
  /** files whose secrets others can read: refused when the secret is used (assertSecretPrivate) */
  insecure?: InsecureFile[];
}

export interface ConfigInputs {
  flags?: Partial<ConfigValues> & { config?: string; kamctlrc?: string };
  env?: NodeJS.ProcessEnv;
  /** Override the search path (tests). */
  searchPaths?: string[];
}

const ENV_KEYS: Record<string, keyof ConfigValues> = {
  SIPCTL_DB: 'db',
  SIPCTL_DB_PASSWORD: 'dbPassword',
  SIPCTL_DOMAIN: 'domain',
  SIPCTL_HASH: 'hash',
  SIPCTL_STORE_PLAINTEXT: 'storePlaintext',
  SIPCTL_RPC: 'rpc',
  SIPCTL_TIMEOUT: 'timeoutMs',
  SIPCTL_RPC_USER: 'rpcUser',
  SIPCTL_RPC_PASSWORD: 'rpcPassword',
  SIPCTL_RPC_TOKEN: 'rpcToken',
  SIPCTL_RPC_CA_FILE: 'rpcCaFile',
  SIPCTL_RPC_FIFO_REPLY_DIR: 'rpcFifoReplyDir',
  SIPCTL_SIM_KEK_FILE: 'simKekFile',
};

export function defaultDataDir(env: NodeJS.ProcessEnv): string {
  return env.XDG_DATA_HOME ? join(env.XDG_DATA_HOME, 'sipctl') : join(env.HOME ?? homedir(), '.local', 'share', 'sipctl');
}

export function defaultConfigPaths(env: NodeJS.ProcessEnv): string[] {
  const xdg = env.XDG_CONFIG_HOME ?? join(env.HOME ?? homedir(), '.config');
  return [join(xdg, 'sipctl', 'config.json'), '/etc/sipctl/config.json'];
}

function defaults(env: NodeJS.ProcessEnv): ConfigValues {
  return {
    db: 'sqlite://' + join(defaultDataDir(env), 'sipctl.db'),
    hash: 'md5',
    storePlaintext: false,
    rpc: ['http://127.0.0.1:5071/RPC'],
    timeoutMs: 5000,
  };
}

function coerce(key: keyof ConfigValues, value: unknown, where: string): unknown {
  switch (key) {
    case 'storePlaintext':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(1|true|yes|on)$/i.test(value)) return true;
      if (typeof value === 'string' && /^(0|false|no|off|)$/i.test(value)) return false;
      throw new ConfigError('CONFIG_BAD_VALUE', `${where}: storePlaintext must be true or false`);
    case 'hash': {
      const v = String(value).toLowerCase().replace('-', '');
      if (v === 'md5' || v === 'sha256') return v;
      throw new ConfigError('CONFIG_BAD_VALUE', `${where}: hash must be md5 or sha256, not ${String(value)}`);
    }
    case 'timeoutMs': {
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0) throw new ConfigError('CONFIG_BAD_VALUE', `${where}: timeout must be a positive number of milliseconds`);
      return n;
    }
    case 'rpc':
      if (Array.isArray(value)) return value.map(String);
      return String(value).split(/[\s,]+/).filter(Boolean);
    case 'nodes':
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        for (const [name, url] of Object.entries(value as Record<string, unknown>)) {
          if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new ConfigError('CONFIG_BAD_VALUE', `${where}: node name "${name}" must be letters, digits, '.', '_' or '-'`);
          if (typeof url !== 'string' || url === '') throw new ConfigError('CONFIG_BAD_VALUE', `${where}: node "${name}" needs an RPC URL string`);
        }
        return value;
      }
      throw new ConfigError('CONFIG_BAD_VALUE', `${where}: nodes must be an object of name → URL`);
    default:
      return String(value);
  }
}

/** A config file holding a secret must not be readable by group or others (like ssh keys). */
function readConfigFile(path: string, required: boolean, insecure?: InsecureFile[]): Partial<ConfigValues> | undefined {
  if (!required && !existsSync(path)) return undefined;
  const { text, mode } = readFileWithMode(path, 'config file', 'CONFIG_UNREADABLE');
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError('CONFIG_BAD_JSON', `config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError('CONFIG_BAD_JSON', `config file ${path} must hold a JSON object`);
  const out: Record<string, unknown> = {};
  const known = new Set<string>(['db', 'dbPassword', 'domain', 'hash', 'storePlaintext', 'rpc', 'nodes', 'timeoutMs', ...RPC_OPTIONAL_KEYS]);
  for (const [k, v] of Object.entries(parsed)) {
    if (!known.has(k)) throw new ConfigError('CONFIG_UNKNOWN_KEY', `config file ${path}: unknown key "${k}"`, `known keys: ${[...known].join(', ')}`);
    out[k] = coerce(k as keyof ConfigValues, v, path);
  }
  // A secret in a file others can read is refused by the commands that use it (assertSecretPrivate),
  // not by every command: `sipctl status` needs no database password, so it only warns.
  const secrets: SecretKind[] = [];
  if (typeof out.dbPassword === 'string' || (typeof out.db === 'string' && urlHasPassword(out.db))) secrets.push('db');
  const rpcSecret = typeof out.rpcPassword === 'string' || typeof out.rpcToken === 'string'
    || (Array.isArray(out.rpc) && (out.rpc as string[]).some(urlHasPassword))
    || (out.nodes !== undefined && Object.values(out.nodes as Record<string, string>).some(urlHasPassword));
  if (rpcSecret) secrets.push('rpc');
  if (secrets.length && (mode & 0o077) !== 0) insecure?.push({ path, mode, secrets });
  return out as Partial<ConfigValues>;
}

export type SecretKind = 'db' | 'rpc';
/** A config file holding secrets that group or others can read. */
export interface InsecureFile {
  path: string;
  mode: number;
  secrets: SecretKind[];
}

const SECRET_TEXT: Record<SecretKind, string> = { db: 'a database password', rpc: 'an RPC password or token' };

/** Before using a secret from the config file: refuse when others can read that file (exit 10). */
export function assertSecretPrivate(rc: ResolvedConfig, kind: SecretKind): void {
  for (const f of rc.insecure ?? []) {
    if (f.secrets.includes(kind)) assertPrivateMode(f.path, f.mode, `config file (it holds ${SECRET_TEXT[kind]})`);
  }
}

/** One line per insecure file, for commands that go on without its secret. */
export function insecureWarnings(rc: ResolvedConfig): string[] {
  return (rc.insecure ?? []).map((f) => `config file ${f.path} holds ${f.secrets.map((k) => SECRET_TEXT[k]).join(' and ')} and is readable by group or others (mode ${(f.mode & 0o777).toString(8)}): run chmod 600 ${f.path}`);
}

/** Optional RPC settings: config file and environment only (secrets never come from flags, except the CA file). */
const RPC_OPTIONAL_KEYS = ['rpcUser', 'rpcPassword', 'rpcToken', 'rpcCaFile', 'rpcFifoReplyDir', 'simKekFile'] as const;

export function urlHasPassword(url: string): boolean {
  return /^[a-z0-9+]+:\/\/[^/@]*:[^/@]*@/i.test(url);
}

/** Replace the password in a URL with ****; safe to print. */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z0-9+]+:\/\/[^/:@]*):[^/@]*@/i, '$1:****@');
}

/** flags > environment > kamctlrc > config file > embedded default. */
export function resolveConfig(inputs: ConfigInputs = {}): ResolvedConfig {
  const env = inputs.env ?? process.env;
  const values = defaults(env) as ConfigValues;
  const sources = Object.fromEntries(Object.keys({ ...values, dbPassword: 1, domain: 1, nodes: 1, ...Object.fromEntries(RPC_OPTIONAL_KEYS.map((k) => [k, 1])) }).map((k) => [k, { source: 'default' as ConfigSource }])) as ResolvedConfig['sources'];
  const files: string[] = [];
  const insecure: InsecureFile[] = [];
  const apply = (partial: Partial<ConfigValues> | undefined, source: ConfigSource, detail?: string) => {
    if (!partial) return;
    for (const [k, v] of Object.entries(partial)) {
      if (v === undefined) continue;
      (values as unknown as Record<string, unknown>)[k] = v;
      sources[k as keyof ConfigValues] = { source, detail };
    }
  };

  const flags = inputs.flags ?? {};
  const explicitFile = flags.config ?? env.SIPCTL_CONFIG;
  if (explicitFile) {
    const path = resolve(explicitFile);
    apply(readConfigFile(path, true, insecure), 'file', path);
    files.push(path);
  } else {
    // The first file found wins, like most tools' user-then-system lookup.
    for (const path of inputs.searchPaths ?? defaultConfigPaths(env)) {
      const got = readConfigFile(path, false, insecure);
      if (got) {
        apply(got, 'file', path);
        files.push(path);
        break;
      }
    }
  }

  const kamctlrc = flags.kamctlrc ?? env.SIPCTL_KAMCTLRC;
  if (kamctlrc) apply(readKamctlrc(kamctlrc), 'kamctlrc', kamctlrc);

  const fromEnv: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '') fromEnv[key] = coerce(key, v, name);
  }
  for (const [k, v] of Object.entries(fromEnv)) apply({ [k]: v } as Partial<ConfigValues>, 'env', Object.entries(ENV_KEYS).find(([, key]) => key === k)?.[0]);

  const fromFlags: Record<string, unknown> = {};
  for (const key of ['db', 'dbPassword', 'domain', 'hash', 'storePlaintext', 'rpc', 'timeoutMs', 'rpcCaFile'] as const) {
    const v = flags[key];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) fromFlags[key] = coerce(key, v, `--${key}`);
  }
  apply(fromFlags as Partial<ConfigValues>, 'flag');

  if (urlHasPassword(values.db) && values.dbPassword === undefined) {
    // A password in the URL is accepted, but flags put it in the process list: say so once.
    sources.db.detail = (sources.db.detail ? sources.db.detail + '; ' : '') + 'password in URL';
  }
  return { values, sources, files, ...(insecure.length ? { insecure } : {}) };
}

/** The effective configuration with secrets masked, for `config show`. */
export function describeConfig(rc: ResolvedConfig): Array<{ key: string; value: string; source: string }> {
  const rows: Array<{ key: string; value: string; source: string }> = [];
  for (const key of Object.keys(rc.sources) as Array<keyof ConfigValues>) {
    const raw = rc.values[key];
    let value: string;
    if (raw === undefined) value = '';
    else if (key === 'dbPassword' || key === 'rpcPassword' || key === 'rpcToken') value = '****';
    else if (key === 'db') value = maskUrl(String(raw));
    else if (key === 'rpc') value = (raw as string[]).map(maskUrl).join(', ');
    else if (key === 'nodes') value = Object.entries(raw as Record<string, string>).map(([n, u]) => `${n}=${maskUrl(u)}`).join(', ');
    else value = String(raw);
    const s = rc.sources[key];
    rows.push({ key, value, source: s.detail ? `${s.source} (${s.detail})` : s.source });
  }
  return rows;
}

export function requireDomain(domain: string | undefined): string {
  if (!domain) throw new UsageError('NO_DOMAIN', 'no SIP domain given and none configured', 'give user@domain, --domain, SIPCTL_DOMAIN, or "domain" in the config file');
  return domain;
}
