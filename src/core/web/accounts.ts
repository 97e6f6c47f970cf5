/**
 * Accounts of the web console (`sipctl web user add|rm|list`): `web-users.json` in the sipctl
 * config directory ($XDG_CONFIG_HOME/sipctl, default ~/.config/sipctl), mode 0600, written
 * atomically (a 0600 temporary file in the same directory, fsync, rename). It holds names, roles
 * and scrypt hashes with a per-user random salt — never a password.
 *
 * Stored hash: `scrypt$N$r$p$<salt b64url>$<key b64url>` (64-byte key). Verification compares in
 * constant time, and an unknown name is checked against a dummy hash of the same cost, so the
 * answer time does not tell which names exist.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync, readFileSync } from 'node:fs';
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError, ConflictError, NotFoundError, UsageError, ValidationError } from '../errors.js';
import { assertPrivateMode } from '../config/private-file.js';

export const WEB_ROLES = ['viewer', 'operator'] as const;
export type WebRole = (typeof WEB_ROLES)[number];

export interface WebUser {
  name: string;
  role: WebRole;
  /** ISO time the account was made */
  created: string;
}

interface StoredUser extends WebUser {
  hash: string;
}

interface AccountsFile {
  version: 1;
  users: StoredUser[];
}

/** scrypt cost: N = 2^15, r = 8, p = 1 (OWASP's minimum for scrypt; ~32 MiB, ~0.1 s). */
export const SCRYPT = { N: 32768, r: 8, p: 1, keyLen: 64, saltLen: 16 } as const;
const MAXMEM = 128 * SCRYPT.N * SCRYPT.r * 2;

export const MIN_WEB_PASSWORD = 10;
export const MAX_WEB_PASSWORD = 256;

function scrypt(password: string, salt: Buffer, keyLen: number, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keyLen, o, (e, k) => (e ? reject(e) : resolve(k))));
}

/** The sipctl config directory (where config.json lives): $XDG_CONFIG_HOME/sipctl or ~/.config/sipctl. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME ?? homedir(), '.config'), 'sipctl');
}

export function defaultAccountsFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'web-users.json');
}

export function validateWebName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(name)) {
    throw new ValidationError('name', 'must be 1 to 64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit');
  }
  return name;
}

export function parseRole(role: string | undefined): WebRole {
  const r = role ?? 'viewer';
  if (!(WEB_ROLES as readonly string[]).includes(r)) throw new ValidationError('role', `must be viewer or operator, not ${JSON.stringify(r)}`);
  return r as WebRole;
}

export function validateWebPassword(password: string, name: string): string {
  if (password.length < MIN_WEB_PASSWORD) throw new ValidationError('password', `must be at least ${MIN_WEB_PASSWORD} characters`);
  if (password.length > MAX_WEB_PASSWORD) throw new ValidationError('password', `must be at most ${MAX_WEB_PASSWORD} characters`);
  if (password.toLowerCase().includes(name.toLowerCase())) throw new ValidationError('password', 'must not contain the account name');
  if (new Set(password).size < 4) throw new ValidationError('password', 'has too few different characters');
  return password;
}

export async function hashPassword(password: string, salt = randomBytes(SCRYPT.saltLen)): Promise<string> {
  const key = await scrypt(password, salt, SCRYPT.keyLen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: MAXMEM });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** True when `password` matches `stored` (constant-time compare; false for a malformed hash). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(stored);
  if (!m) return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const salt = Buffer.from(m[4]!, 'base64url');
  const want = Buffer.from(m[5]!, 'base64url');
  if (N < 1 << 14 || N > 1 << 20 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16 || want.length < 16) return false;
  const got = await scrypt(password.normalize('NFC'), salt, want.length, { N, r, p, maxmem: 128 * N * r * 2 + 1024 * 1024 });
  return timingSafeEqual(got, want);
}

let dummyHash: Promise<string> | undefined;

/** The account file: read on every call (another `sipctl web user …` may have changed it). */
export class AccountStore {
  constructor(readonly file: string) {}

  static forEnv(env: NodeJS.ProcessEnv = process.env, file?: string): AccountStore {
    return new AccountStore(file ?? defaultAccountsFile(env));
  }

  private read(): AccountsFile {
    if (!existsSync(this.file)) return { version: 1, users: [] };
    assertPrivateMode(this.file, statSync(this.file).mode, 'web accounts file');
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (e) {
      throw new ConfigError('WEB_ACCOUNTS_UNREADABLE', `web accounts file ${this.file} is not valid JSON (${(e as Error).message.split('\n')[0]})`);
    }
    const users = (doc as AccountsFile)?.users;
    if (!Array.isArray(users) || users.some((u) => typeof u?.name !== 'string' || typeof u?.hash !== 'string' || !(WEB_ROLES as readonly string[]).includes(u?.role))) {
      throw new ConfigError('WEB_ACCOUNTS_UNREADABLE', `web accounts file ${this.file} is not a sipctl accounts file`);
    }
    return { version: 1, users };
  }

  /** Atomic: a 0600 temporary file beside the real one, fsync, rename over it. */
  private write(doc: AccountsFile): void {
    const dir = dirname(this.file);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.web-users.json.${process.pid}.${randomBytes(6).toString('hex')}`);
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, JSON.stringify(doc, null, 2) + '\n');
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw e;
    }
    closeSync(fd);
    try {
      renameSync(tmp, this.file);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  list(): WebUser[] {
    return this.read().users.map(({ name, role, created }) => ({ name, role, created })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get(name: string): WebUser | undefined {
    const u = this.read().users.find((x) => x.name === name);
    return u && { name: u.name, role: u.role, created: u.created };
  }

  async add(nameIn: string, roleIn: string | undefined, password: string, opts: { dryRun?: boolean } = {}): Promise<WebUser & { action: 'add'; dryRun: boolean }> {
    const name = validateWebName(nameIn);
    const role = parseRole(roleIn);
    validateWebPassword(password, name);
    const doc = this.read();
    if (doc.users.some((u) => u.name === name)) throw new ConflictError('WEB_USER_EXISTS', `web user ${name} already exists`, `remove it first with \`sipctl web user rm ${name}\``);
    const user: StoredUser = { name, role, created: new Date().toISOString(), hash: await hashPassword(password.normalize('NFC')) };
    if (!opts.dryRun) this.write({ version: 1, users: [...doc.users, user] });
    return { action: 'add', name, role, created: user.created, dryRun: opts.dryRun === true };
  }

  remove(nameIn: string, opts: { dryRun?: boolean } = {}): { action: 'rm'; name: string; dryRun: boolean } {
    const name = validateWebName(nameIn);
    const doc = this.read();
    if (!doc.users.some((u) => u.name === name)) throw new NotFoundError('WEB_USER_NOT_FOUND', `no web user named ${name}`, 'see `sipctl web user list`');
    if (!opts.dryRun) this.write({ version: 1, users: doc.users.filter((u) => u.name !== name) });
    return { action: 'rm', name, dryRun: opts.dryRun === true };
  }

  /**
   * The account when name and password match, else undefined. An unknown name costs the same
   * scrypt run as a known one.
   */
  async verify(name: string, password: string): Promise<WebUser | undefined> {
    if (typeof name !== 'string' || typeof password !== 'string' || password.length > MAX_WEB_PASSWORD || name.length > 64) return undefined;
    const u = this.read().users.find((x) => x.name === name);
    dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
    const ok = await verifyPassword(password, u?.hash ?? (await dummyHash));
    return ok && u ? { name: u.name, role: u.role, created: u.created } : undefined;
  }
}

export function assertAccountsExist(store: AccountStore): void {
  if (store.list().length === 0) throw new UsageError('WEB_NO_USERS', 'there are no web console accounts yet', 'add one with `sipctl web user add NAME --role operator`');
}
