import { appendFileSync, chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { RpcCommand, lineError, renderResult, rpcFlags } from '../cli/rpc-support.js';
import { sanitize } from '../cli/output.js';
import { defaultDataDir } from '../core/config/config.js';
import { SipctlError } from '../core/errors.js';
import { completeLine } from '../core/proxy/completion.js';
import { LINE_HELP, prepareLine, type LineContext } from '../core/proxy/line-commands.js';
import { nodesError } from '../core/proxy/node-set.js';
import { lineHasSecret, reloadPendingCredentials } from '../core/proxy/db-line-commands.js';
import { tokenizeLine } from '../core/proxy/line-commands.js';
import { dbLineSession } from '../cli/db-line-session.js';
import { domainFlag } from '../cli/subscriber-support.js';

const HISTORY_LINES = 1000;

export default class Shell extends RpcCommand<typeof Shell> {
  static summary = 'Interactive session with the proxies: sipctl commands or raw RPC calls, connections kept open.';
  static description = `Lines are sipctl commands without "sipctl" (htable dump ipban, ul show alice, rpc core.uptime) or raw kamcmd-style calls (core.uptime, htable.get ipban 1.2.3.4), and the database commands (add, passwd, rm, show, address add|rm|show) over one database connection; a line with a password is kept out of the history. Tab completes commands, RPC method names (from system.listMethods) and htable names (from htable.listTables). History is kept in the data directory (shell_history). "help" lists the commands; "exit", "quit" or Ctrl-D leave.

Read from a pipe, it runs the lines like a script and exits non-zero if any failed (see also: sipctl batch).`;
  static examples = ['<%= config.bin %> shell', '<%= config.bin %> shell --node all', "echo 'htable dump ipban' | <%= config.bin %> shell"];
  static flags = { ...rpcFlags, domain: domainFlag };
  static enableJsonFlag = false;

  protected override configOverrides() {
    return { ...super.configOverrides(), domain: this.flags.domain };
  }

  async run() {
    const interactive = !!process.stdin.isTTY;
    const ctx: LineContext = { ...this.opContext(), db: dbLineSession(() => this.openDb(), this.cfg, this.session.proxiesChosen) };
    const nodes = ctx.nodes;
    const first = nodes.nodes[0]!;
    let methods: Promise<string[]> | undefined;
    let tables: Promise<string[]> | undefined;
    const sources = {
      methods: () => (methods ??= nodes.client(first).call<string[]>('system.listMethods').then((m) => (Array.isArray(m) ? m.map(String) : []))),
      tables: () => (tables ??= nodes.client(first).call<Array<{ name: string }>>('htable.listTables').then((t) => (Array.isArray(t) ? t.map((x) => String(x.name)) : []))),
    };

    const historyFile = join(defaultDataDir(process.env), 'shell_history');
    const history = interactive ? loadHistory(historyFile) : [];
    const rl: Interface = createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: interactive,
      history,
      historySize: HISTORY_LINES,
      completer: (line: string, cb: (err: Error | null, result: [string[], string]) => void) => {
        completeLine(line, sources).then((r) => cb(null, r), () => cb(null, [[], line]));
      },
    });
    if (interactive) ctx.confirm = (question) => new Promise<boolean>((resolve) => rl.question(`${question} [y/N] `, (a) => resolve(/^y(es)?$/i.test(a.trim()))));
    rl.setPrompt(interactive ? 'sipctl> ' : '');
    if (interactive) {
      this.log(`sipctl shell: ${nodes.nodes.map((n) => n.name).join(', ')} — "help" for commands, Tab completes, Ctrl-D leaves`);
      rl.prompt();
    }

    let failures = 0;
    let firstError: SipctlError | undefined;
    // Lines are handled one at a time, in order, even when pasted or piped in faster.
    const queue: string[] = [];
    let busy = false;
    let closed = false;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));

    const handle = async (line: string): Promise<boolean> => {
      const trimmed = line.trim();
      if (trimmed === 'exit' || trimmed === 'quit') return false;
      if (trimmed === 'help' || trimmed === '?') {
        this.log(LINE_HELP + '\n  help | exit');
        return true;
      }
      try {
        const prepared = prepareLine(line, ctx);
        if (!prepared) return true;
        if (interactive && trimmed !== '' && !lineHasSecret(tokenizeLine(trimmed))) appendHistory(historyFile, trimmed);
        const result = await prepared.run();
        for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
        const text = await renderResult(result, this.out, nodes.multi);
        if (text !== '') this.log(text);
        // A subscriber line is live on sipd at once for a person; piped input reloads in bulk.
        for (const w of await reloadPendingCredentials(ctx, { final: interactive })) process.stderr.write(`warning: ${w}\n`);
        const err = nodesError(result.outcomes);
        if (err) throw err;
      } catch (e) {
        const err = lineError(e);
        failures++;
        firstError ??= err;
        process.stderr.write(`error: ${sanitize(err.message)}${err.hint ? ` (${sanitize(err.hint)})` : ''}\n`);
      }
      return true;
    };

    const pump = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      while (queue.length > 0) {
        const line = queue.shift()!;
        if (!(await handle(line))) {
          closed = true;
          queue.length = 0;
          rl.close();
          break;
        }
        if (interactive && !closed) rl.prompt();
      }
      busy = false;
      if (closed) done();
    };

    rl.on('line', (line) => {
      queue.push(line);
      void pump();
    });
    rl.on('close', () => {
      closed = true;
      if (!busy) done();
    });
    await finished;
    for (const w of await reloadPendingCredentials(ctx, { final: true })) process.stderr.write(`warning: ${w}\n`);
    if (interactive) this.log('');
    if (!interactive && firstError) {
      throw new SipctlError('SHELL_FAILED', `${failures} command(s) failed; first: ${firstError.message}`, { category: firstError.category });
    }
  }
}

function loadHistory(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(-HISTORY_LINES).reverse();
  } catch {
    return []; // no history yet, or unreadable: history is a convenience (appendHistory says the same)
  }
}

function appendHistory(file: string, line: string): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    appendFileSync(file, line.replace(/[\r\n]/g, ' ') + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
  } catch {
    // history is a convenience: a read-only home must not break the session
  }
}
