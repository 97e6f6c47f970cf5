import { UsageError } from '../errors.js';
import { parseKamcmdParams } from '../rpc/params.js';
// db-line-commands imports this module too: only functions cross (used at call time, never while loading)
import { isDbLine, prepareDbLine, type DbLineSession } from './db-line-commands.js';
import { ops, type OpContext, type OpResult } from './ops.js';

/*
 * One line of `sipctl batch` or `sipctl shell`: a sipctl-style command without the leading
 * "sipctl" (`htable sets ipban 1.2.3.4 1`, `rpc core.uptime`), or a raw kamcmd-style call
 * (`htable.get ipban 1.2.3.4`, `core.uptime`). Lines are split like a shell would (quotes,
 * backslash escapes); `#` starts a comment.
 */

/** Commands and their sub-commands, for help and tab completion. */
export const LINE_COMMANDS: Record<string, string[]> = {
  htable: ['list', 'dump', 'get', 'seti', 'sets', 'delete', 'flush', 'reload'],
  ul: ['dump', 'show', 'rm'],
  address: ['dump', 'reload', 'add', 'rm', 'show'],
  add: [],
  passwd: [],
  rm: [],
  show: [],
  subscriber: ['add', 'passwd', 'rm', 'show', 'list'],
  unban: [],
  status: [],
  uptime: [],
  version: [],
  rpc: [],
};

export const LINE_HELP = `commands (as on the command line, without "sipctl"):
  htable list | dump TABLE [--filter PATTERN] | get TABLE KEY | seti TABLE KEY INT
  htable sets TABLE KEY STRING | delete TABLE KEY [--yes] | flush TABLE [--yes] | reload TABLE
  ul dump [--filter PATTERN] [--table T] [--force] | show AOR | rm AOR [--yes]
  address dump | address reload
  unban IP
  status | uptime | version
  rpc METHOD [PARAM...]        or just: METHOD [PARAM...]   (kamcmd-style params: i:5 s:007)
database (one connection for the whole session):
  add USER[@DOMAIN] PASSWORD [--allow-weak] [--dry-run]     (also: subscriber add)
  passwd USER[@DOMAIN] PASSWORD [--allow-weak] [--dry-run]  (also: subscriber passwd)
  rm USER[@DOMAIN] [--yes] [--dry-run] | show [USER[@DOMAIN]]  (also: subscriber rm|show|list)
  address add GROUP IP [--mask N] [--port N] [--tag T] [--dry-run]
  address rm GROUP IP [--mask N] [--port N] [--yes] [--dry-run] | address show [--group G]`;

/** Split a line into words: blanks separate, '…' is literal, "…" allows \\ escapes, # starts a comment. */
export function tokenizeLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    if (ch === '#' && !inWord) break;
    inWord = true;
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new UsageError('UNTERMINATED_QUOTE', 'unterminated \' quote');
      cur += line.slice(i + 1, end);
      i = end;
    } else if (ch === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        cur += line[j];
      }
      if (j >= line.length) throw new UsageError('UNTERMINATED_QUOTE', 'unterminated " quote');
      i = j;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
    } else {
      cur += ch;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

export interface Parsed {
  positional: string[];
  options: Map<string, string | true>;
}

/** `--name value`, `--name=value` and boolean `--name` / `-y`; `--` ends options. */
export function parseArgs(words: string[], valued: string[], booleans: string[]): Parsed {
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--') {
      positional.push(...words.slice(i + 1));
      break;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(w);
    if (m && valued.includes(m[1]!)) {
      const v = m[2] ?? words[++i];
      if (v === undefined) throw new UsageError('MISSING_OPTION_VALUE', `--${m[1]} needs a value`);
      options.set(m[1]!, v);
    } else if (m && booleans.includes(m[1]!) && m[2] === undefined) {
      options.set(m[1]!, true);
    } else if (w === '-y' && booleans.includes('yes')) {
      options.set('yes', true);
    } else if (/^--[a-z]/.test(w)) {
      throw new UsageError('UNKNOWN_OPTION', `unknown option ${w}`);
    } else {
      positional.push(w);
    }
  }
  return { positional, options };
}

export function need(p: Parsed, n: number, usage: string, max = n): string[] {
  if (p.positional.length < n || p.positional.length > max) throw new UsageError('BAD_ARGUMENTS', `usage: ${usage}`);
  return p.positional;
}

const str = (v: string | true | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

export interface LineContext extends OpContext {
  /** Ask before destructive commands (shell); without it they need --yes. */
  confirm?: (question: string) => Promise<boolean>;
  /** `batch --yes`: every line is confirmed. */
  assumeYes?: boolean;
  /** The database commands' session (add, passwd, rm, show, address add|rm|show): db-line-commands.ts. */
  db?: DbLineSession;
}

/** A parsed line, ready to run. */
export interface PreparedLine {
  /** "htable sets", "rpc core.uptime", … */
  command: string;
  run(): Promise<OpResult>;
  /**
   * One short call per node, made before run() returns (once the RPC layer is loaded), and no
   * prompt: `batch` may send it while the lines before it are still in flight (kept in order).
   */
  quick?: boolean;
}

/** Destructive lines, as destructive commands: --yes on the line or for the whole batch, else ask (shell), else a usage error. */
export async function confirmed(ctx: LineContext, p: Parsed, what: string, question: string, run: () => Promise<OpResult>): Promise<OpResult> {
  if (!ctx.assumeYes && !p.options.has('yes')) {
    if (!ctx.confirm) throw new UsageError('CONFIRMATION_REQUIRED', `${what} needs confirmation`, 'add --yes to the line (or run batch --yes)');
    if (!(await ctx.confirm(question))) throw new UsageError('ABORTED', 'aborted; nothing was changed');
  }
  return run();
}

/** Parse one line; returns undefined for blank and comment lines. Throws UsageError for a bad line. */
export function prepareLine(line: string, ctx: LineContext): PreparedLine | undefined {
  const words = tokenizeLine(line);
  if (words.length === 0) return undefined;
  if (words[0] === 'sipctl') words.shift(); // pasted from a script
  if (words.length === 0) return undefined;
  if (isDbLine(words)) return prepareDbLine(words, ctx);
  const [head, sub, ...rest] = words as [string, string | undefined, ...string[]];

  switch (head) {
    case 'htable': {
      const p = parseArgs(rest, ['filter'], ['yes']);
      switch (sub) {
        case 'list': need(p, 0, 'htable list'); return { command: 'htable list', run: () => ops.htableList(ctx) };
        case 'dump': { const [t] = need(p, 1, 'htable dump TABLE [--filter PATTERN]'); return { command: 'htable dump', run: () => ops.htableDump(ctx, t!, str(p.options.get('filter'))) }; }
        case 'get': { const [t, k] = need(p, 2, 'htable get TABLE KEY'); return { command: 'htable get', quick: true, run: () => ops.htableGet(ctx, t!, k!) }; }
        case 'seti': { const [t, k, v] = need(p, 3, 'htable seti TABLE KEY INT'); return { command: 'htable seti', quick: true, run: () => ops.htableSeti(ctx, t!, k!, v!) }; }
        case 'sets': { const [t, k, v] = need(p, 3, 'htable sets TABLE KEY STRING'); return { command: 'htable sets', quick: true, run: () => ops.htableSets(ctx, t!, k!, v!) }; }
        case 'delete': {
          const [t, k] = need(p, 2, 'htable delete TABLE KEY [--yes]');
          return { command: 'htable delete', quick: !ctx.confirm, run: () => confirmed(ctx, p, `htable delete ${t} ${k}`, `Delete key ${k} of htable ${t} on ${ctx.nodes.nodes.length} node(s)?`, () => ops.htableDelete(ctx, t!, k!)) };
        }
        case 'flush': {
          const [t] = need(p, 1, 'htable flush TABLE [--yes]');
          return { command: 'htable flush', run: () => confirmed(ctx, p, `htable flush ${t}`, `Flush every key of htable ${t} on ${ctx.nodes.nodes.length} node(s)?`, () => ops.htableFlush(ctx, t!)) };
        }
        case 'reload': { const [t] = need(p, 1, 'htable reload TABLE'); return { command: 'htable reload', run: () => ops.htableReload(ctx, t!) }; }
        default: throw new UsageError('UNKNOWN_COMMAND', `unknown command: htable ${sub ?? ''}`.trim(), `htable ${LINE_COMMANDS.htable!.join('|')}`);
      }
    }
    case 'ul': {
      const p = parseArgs(rest, ['filter', 'table'], ['force', 'yes']);
      const table = str(p.options.get('table'));
      switch (sub) {
        case 'dump': need(p, 0, 'ul dump [--filter PATTERN]'); return { command: 'ul dump', run: () => ops.ulDump(ctx, { filter: str(p.options.get('filter')), table, force: p.options.has('force') }) };
        case 'show': { const [a] = need(p, 1, 'ul show AOR'); return { command: 'ul show', run: () => ops.ulShow(ctx, a!, table) }; }
        case 'rm': { const [a] = need(p, 1, 'ul rm AOR [--yes]'); return { command: 'ul rm', run: () => confirmed(ctx, p, `ul rm ${a}`, `Remove every contact of ${a} on ${ctx.nodes.nodes.length} node(s)?`, () => ops.ulRm(ctx, a!, table)) }; }
        default: throw new UsageError('UNKNOWN_COMMAND', `unknown command: ul ${sub ?? ''}`.trim(), 'ul dump|show|rm');
      }
    }
    case 'address': {
      const p = parseArgs(rest, [], []);
      switch (sub) {
        case 'dump': need(p, 0, 'address dump'); return { command: 'address dump', run: () => ops.addressDump(ctx) };
        case 'reload': need(p, 0, 'address reload'); return { command: 'address reload', run: () => ops.addressReload(ctx) };
        default: throw new UsageError('UNKNOWN_COMMAND', `unknown command: address ${sub ?? ''}`.trim(), 'address dump|reload (the proxy) or add|rm|show (the database)');
      }
    }
    case 'unban': {
      const p = parseArgs(sub === undefined ? [] : [sub, ...rest], [], []);
      const [ip] = need(p, 1, 'unban IP');
      return { command: 'unban', run: () => ops.unban(ctx, ip!) };
    }
    case 'status':
    case 'uptime':
    case 'version': {
      if (sub !== undefined) throw new UsageError('BAD_ARGUMENTS', `usage: ${head}`);
      return { command: head, run: () => ops[head](ctx) };
    }
    case 'rpc': {
      if (sub === undefined) throw new UsageError('BAD_ARGUMENTS', 'usage: rpc METHOD [PARAM...]');
      const params = parseKamcmdParams(rest);
      return { command: `rpc ${sub}`, run: () => ops.raw(ctx, sub, params) };
    }
    default: {
      if (/^[A-Za-z_][\w-]*\.[\w.-]+$/.test(head)) {
        const params = parseKamcmdParams(words.slice(1));
        return { command: `rpc ${head}`, run: () => ops.raw(ctx, head, params) };
      }
      throw new UsageError('UNKNOWN_COMMAND', `unknown command: ${head}`, 'type "help" for the list (raw RPC calls look like core.uptime)');
    }
  }
}
