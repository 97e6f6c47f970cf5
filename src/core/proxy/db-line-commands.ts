/**
 * The database commands of `sipctl batch` and `sipctl shell`: kamctl's `add`, `passwd`, `rm`,
 * `show` (and their `subscriber …` spellings) and `address add|rm|show`, run through the same
 * core functions as the commands, over ONE database connection opened on the first such line and
 * kept for the session — a bulk password change is one process and one connection.
 *
 * Passwords are taken on the line as kamctl takes them (`passwd alice s3cret`): they are then in
 * the input file, which the first such line says once (a warning); they are never echoed, never
 * part of a result, an error or the shell's history (lineHasSecret).
 */
import type { Database } from '../db/database.js';
import { UsageError } from '../errors.js';
import { addAddress, listAddresses, removeAddress, type AddressChange, type AddressRow } from '../address/addresses.js';
import type { HashAlgorithm } from '../config/config.js';
import { splitAor } from '../subscribers/identity.js';
import { addSubscriber, changePassword, getSubscriber, listSubscribers, removeSubscriber, type SubscriberChange, type SubscriberView } from '../subscribers/subscribers.js';
import { confirmed, need, parseArgs, type LineContext, type PreparedLine } from './line-commands.js';
import type { OpResult } from './ops.js';
import { CREDENTIAL_RELOAD_EVERY, committed, reloadCredentialsOn } from '../subscribers/credential-reload.js';

/** The database side of a batch or shell session. */
export interface DbLineSession {
  /** The session's one connection, opened on first use (the caller closes it at the end). */
  open(): Promise<Database>;
  /** domain for users given without @domain (--domain, SIPCTL_DOMAIN, config file) */
  domain?: string;
  hash: HashAlgorithm;
  /** the plaintext choice when someone made one; undefined = sipctl's default (see subscriber add) */
  storePlaintext?: boolean;
  /** set once the "passwords in the input" warning was given */
  passwordWarned?: boolean;
  /** subscriber changes committed since sipd last reloaded its credentials (reloadPendingCredentials) */
  credentialsPending?: number;
  /** someone chose the proxies (Session.proxiesChosen): a failed reload is then a warning */
  proxiesChosen?: boolean;
}

/** What a database line did: one line of text for people and `batch`, the record for --json. */
export interface DbChange {
  message: string;
  change: SubscriberChange | AddressChange;
}

/** The name the result carries where proxy lines name a node. */
export const DB_NODE = 'database';

/** Heads that are database commands (with `address`, only add/rm/show). */
const DB_HEADS = new Set(['add', 'passwd', 'rm', 'show', 'subscriber']);

export function isDbLine(words: string[]): boolean {
  const [head, sub] = words;
  return DB_HEADS.has(head ?? '') || (head === 'address' && ['add', 'rm', 'show'].includes(sub ?? ''));
}

/** A line that carries a password (add / passwd): the shell keeps it out of its history. */
export function lineHasSecret(words: string[]): boolean {
  const [head, sub] = words[0] === 'sipctl' ? words.slice(1) : words;
  return head === 'add' || head === 'passwd' || (head === 'subscriber' && (sub === 'add' || sub === 'passwd'));
}

function dbResult<T>(command: string, view: 'db-change' | 'db-subscribers' | 'db-addresses', value: T, warnings: string[] = []): OpResult<T> {
  return { command, view, write: view === 'db-change', outcomes: [{ node: DB_NODE, ok: true, value }], warnings };
}

function session(ctx: LineContext): DbLineSession {
  if (!ctx.db) throw new UsageError('NO_DATABASE', 'database commands are not available here');
  return ctx.db;
}

const aor = (s: DbLineSession, user: string) => splitAor(user, s.domain);

/** Parse a database line (the caller checked isDbLine). */
export function prepareDbLine(words: string[], ctx: LineContext): PreparedLine {
  let [head, ...rest] = words as [string, ...string[]];
  if (head === 'subscriber') {
    const sub = rest.shift();
    if (sub === 'list') head = 'show';
    else if (sub === 'add' || sub === 'passwd' || sub === 'rm' || sub === 'show') head = sub;
    else throw new UsageError('UNKNOWN_COMMAND', `unknown command: subscriber ${sub ?? ''}`.trim(), 'subscriber add|passwd|rm|show|list');
  }
  if (head === 'address') return addressLine(rest[0]!, rest.slice(1), ctx);
  switch (head) {
    case 'add':
    case 'passwd': {
      const p = parseArgs(rest, [], ['allow-weak', 'dry-run']);
      if (p.positional.length === 1) throw new UsageError('PASSWORD_REQUIRED', `${head}: give the password on the line (${head} USER PASSWORD); there is no prompt in a batch`);
      const [user, password] = need(p, 2, `${head} USER[@DOMAIN] PASSWORD [--allow-weak] [--dry-run]`);
      const dryRun = p.options.has('dry-run') || !!ctx.dryRun;
      return {
        command: head,
        run: async () => {
          const s = session(ctx);
          const { username, domain } = aor(s, user!);
          const warnings: string[] = [];
          if (!s.passwordWarned) {
            s.passwordWarned = true;
            warnings.push('passwords are read from the input (kamctl style): keep that file private and delete it when done');
          }
          const db = await s.open();
          const opts = { hash: s.hash, storePlaintext: s.storePlaintext, allowWeak: p.options.has('allow-weak'), dryRun };
          const change = head === 'add' ? await addSubscriber(db, username, domain, password!, opts) : await changePassword(db, username, domain, password!, opts);
          if (committed(change)) s.credentialsPending = (s.credentialsPending ?? 0) + 1;
          const verb = head === 'add' ? (dryRun ? 'would add subscriber' : 'added subscriber') : dryRun ? 'would change password of' : 'changed password of';
          return dbResult<DbChange>(head, 'db-change', { message: `${verb} ${username}@${domain}`, change }, [...warnings, ...(change.warnings ?? [])]);
        },
      };
    }
    case 'rm': {
      const p = parseArgs(rest, [], ['yes', 'dry-run']);
      const [user] = need(p, 1, 'rm USER[@DOMAIN] [--yes] [--dry-run]');
      const dryRun = p.options.has('dry-run') || !!ctx.dryRun;
      return {
        command: 'rm',
        run: async () => {
          const s = session(ctx);
          const { username, domain } = aor(s, user!);
          const db = await s.open();
          const remove = async () => {
            const change = await removeSubscriber(db, username, domain, { dryRun });
            if (committed(change)) s.credentialsPending = (s.credentialsPending ?? 0) + 1;
            return dbResult<DbChange>('rm', 'db-change', { message: `${dryRun ? 'would remove' : 'removed'} subscriber ${username}@${domain}`, change });
          };
          if (dryRun) return remove();
          await getSubscriber(db, username, domain); // nobody confirms the removal of nothing
          return confirmed(ctx, p, `rm ${username}@${domain}`, `Remove subscriber ${username}@${domain}?`, remove);
        },
      };
    }
    case 'show': {
      const p = parseArgs(rest, [], []);
      const [user] = need(p, 0, 'show [USER[@DOMAIN]]', 1);
      return {
        command: 'show',
        run: async () => {
          const s = session(ctx);
          const db = await s.open();
          if (user === undefined) return dbResult<SubscriberView[]>('show', 'db-subscribers', (await listSubscribers(db, {})).subscribers);
          const { username, domain } = aor(s, user);
          return dbResult<SubscriberView[]>('show', 'db-subscribers', [await getSubscriber(db, username, domain)]);
        },
      };
    }
    default:
      throw new UsageError('UNKNOWN_COMMAND', `unknown command: ${head}`);
  }
}

function addressLine(sub: string, rest: string[], ctx: LineContext): PreparedLine {
  switch (sub) {
    case 'add': {
      const p = parseArgs(rest, ['mask', 'port', 'tag'], ['dry-run']);
      const [grp, ip] = need(p, 2, 'address add GROUP IP [--mask N] [--port N] [--tag T] [--dry-run]');
      const dryRun = p.options.has('dry-run') || !!ctx.dryRun;
      const opt = (k: string) => (typeof p.options.get(k) === 'string' ? (p.options.get(k) as string) : undefined);
      return {
        command: 'address add',
        run: async () => {
          const db = await session(ctx).open();
          const change = await addAddress(db, { grp: grp!, ip: ip!, mask: opt('mask'), port: opt('port'), tag: opt('tag') }, { dryRun });
          const e = change.entries[0]!;
          return dbResult<DbChange>('address add', 'db-change', { message: `${dryRun ? 'would add' : 'added'} ${e.ip}/${e.mask} port ${e.port} to group ${e.grp}`, change });
        },
      };
    }
    case 'rm': {
      const p = parseArgs(rest, ['mask', 'port'], ['yes', 'dry-run']);
      const [grp, ip] = need(p, 2, 'address rm GROUP IP [--mask N] [--port N] [--yes] [--dry-run]');
      const dryRun = p.options.has('dry-run') || !!ctx.dryRun;
      const opt = (k: string) => (typeof p.options.get(k) === 'string' ? (p.options.get(k) as string) : undefined);
      const remove = async () => {
        const db = await session(ctx).open();
        const change = await removeAddress(db, grp!, ip!, { mask: opt('mask'), port: opt('port'), dryRun });
        return dbResult<DbChange>('address rm', 'db-change', { message: `${dryRun ? 'would remove' : 'removed'} ${change.entries.length} entr(ies) of ${ip} from group ${grp}`, change });
      };
      return { command: 'address rm', run: () => (dryRun ? remove() : confirmed(ctx, p, `address rm ${grp} ${ip}`, `Remove ${ip} from address group ${grp}?`, remove)) };
    }
    default: {
      const p = parseArgs(rest, ['group'], []);
      need(p, 0, 'address show [--group G]');
      const g = p.options.get('group');
      return {
        command: 'address show',
        run: async () => {
          const db = await session(ctx).open();
          return dbResult<AddressRow[]>('address show', 'db-addresses', await listAddresses(db, typeof g === 'string' ? { group: g } : {}));
        },
      };
    }
  }
}

/**
 * sipd's credential cache after subscriber lines (core/subscribers/credential-reload.ts): one
 * auth.reloadCredentials per node for the changes so far — at the end of a batch (`final`), after
 * each changing line of an interactive shell (`final` too), else once CREDENTIAL_RELOAD_EVERY
 * changes have gathered. Returns the warnings; never throws.
 */
export async function reloadPendingCredentials(ctx: LineContext, opts: { final: boolean }): Promise<string[]> {
  const s = ctx.db;
  const pending = s?.credentialsPending ?? 0;
  if (!s || pending === 0 || ctx.dryRun) return [];
  if (!opts.final && pending < CREDENTIAL_RELOAD_EVERY) return [];
  s.credentialsPending = 0;
  return reloadCredentialsOn(ctx.nodes, { chosen: s.proxiesChosen ?? true });
}
