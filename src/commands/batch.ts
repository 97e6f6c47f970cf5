import { Flags } from '@oclif/core';
import { RpcCommand, compactLine, lineError, rpcFlags, resultJson } from '../cli/rpc-support.js';
import { sanitize } from '../cli/output.js';
import { SipctlError, type ErrorCategory } from '../core/errors.js';
import { EXIT_CODES } from '../cli/exit-codes.js';
import { prepareLine, type LineContext, type PreparedLine } from '../core/proxy/line-commands.js';
import type { OpResult } from '../core/proxy/ops.js';
import { BatchOutput, InputLines } from '../cli/batch-io.js';
import { nodesError } from '../core/proxy/node-set.js';
import { dbLineSession } from '../cli/db-line-session.js';
import { reloadPendingCredentials } from '../core/proxy/db-line-commands.js';
import { credentialConfig, domainFlag } from '../cli/subscriber-support.js';

export default class Batch extends RpcCommand<typeof Batch> {
  static summary = 'Run many commands from standard input over one connection per proxy.';
  static description = `One sipctl-style command per line, without "sipctl" (htable sets ipban 1.2.3.4 1, ul show alice, address reload, rpc core.uptime), or a raw kamcmd-style call (htable.get ipban 1.2.3.4). Blank lines and # comments are skipped; quotes work as in a shell.

The database commands work too — add, passwd, rm, show (or subscriber add|passwd|rm|show|list) and address add|rm|show — over one database connection for the whole batch, so 1,000 password changes are one process. Passwords are given on the line as kamctl takes them (passwd alice@example.com NEW-PASSWORD): they are never echoed, but they are in your input, which the first such line warns about — keep that file private. A bad line (weak password, unknown user) fails alone: the lines before and after it are applied, each line on its own.

One result line per command: LINE<TAB>ok<TAB>summary or LINE<TAB>error<TAB>message (LINE = input line number). With --json, one JSON object per line: {"line", "command", "ok", "result" | "error"}. Every line runs even when some fail (unless --stop-on-error); the exit code is non-zero if any failed.

This is how a script should make many changes: 10,000 htable updates cost one sipctl start-up instead of 10,000 kamcmd or sipctl processes. Destructive lines (htable delete, htable flush, ul rm) need --yes, on the line or for the whole batch.`;
  static examples = [
    "printf 'htable sets ipban 1.2.3.4 1\\nhtable get ipban 1.2.3.4\\nhtable delete ipban 1.2.3.4 --yes\\n' | <%= config.bin %> batch",
    '<%= config.bin %> batch --json < changes.txt',
    "printf 'address add 1 192.0.2.77 --tag pbx\\naddress show --group 1\\naddress rm 1 192.0.2.77 --yes\\n' | <%= config.bin %> batch",
    '<%= config.bin %> batch < new-passwords.txt   # needs: a file of "passwd USER@DOMAIN NEW-PASSWORD" lines for existing subscribers',
  ];
  static flags = {
    ...rpcFlags,
    yes: Flags.boolean({ char: 'y', description: 'confirm destructive lines (htable delete, htable flush, ul rm, rm, address rm)' }),
    domain: domainFlag,
    hash: Flags.string({ description: 'ha1 hash of add/passwd lines: md5 (Kamailio default) or sha256', options: ['md5', 'sha256'] }),
    'store-plaintext': Flags.boolean({ description: 'add/passwd lines also store the plaintext password (see subscriber add)', allowNo: true }),
    'stop-on-error': Flags.boolean({ description: 'stop at the first line that fails' }),
  };

  protected override configOverrides() {
    return { ...super.configOverrides(), ...credentialConfig(this.flags) };
  }

  async run() {
    const ctx: LineContext = { ...this.opContext(), assumeYes: this.flags.yes, db: dbLineSession(() => this.openDb(), this.cfg, this.session.proxiesChosen) };
    const json = this.jsonEnabled();
    const multi = ctx.nodes.multi;
    const stopOnError = this.flags['stop-on-error'];
    // Quick lines (one short call per node) go out while the proxy still works on the lines
    // before them: over the FIFO many at once (Kamailio executes them in order), elsewhere the
    // next one waits only for the reply before it (InOrderClient). Results are still reported in
    // line order, and a line that is not quick (database, dumps, reloads, raw RPC) runs alone.
    // --stop-on-error: one line at a time, so nothing after the failing line runs.
    const ahead = stopOnError ? 1 : ctx.nodes.pipelines ? FIFO_LINES_AHEAD : 2;
    if (ahead > 1) ctx.nodes.keepCallOrder();
    let total = 0;
    let failed = 0;
    let first: { line: number; error: SipctlError } | undefined;
    let stopped = false;
    const out = new BatchOutput(process.stdout);
    const warn = (text: string): void => {
      out.flush(); // stdout and stderr in order
      process.stderr.write(text);
    };

    /** Print one line's result, in line order. */
    const report = async (line: Running): Promise<void> => {
      const { lineNo, prepared } = line;
      const done = await line.done;
      let error: SipctlError | undefined;
      let record: Record<string, unknown> | undefined;
      let text: string | undefined;
      if (done.ok) {
        const result = done.result;
        error = nodesError(result.outcomes);
        for (const w of result.warnings) warn(`sipctl: line ${lineNo}: warning: ${w}\n`);
        if (json) {
          record = { line: lineNo, command: prepared!.command, ok: !error, result: resultJson(result) };
          if (error) record.error = { code: error.code, category: error.category, message: error.message, exitCode: EXIT_CODES[error.category] };
        } else {
          text = `${lineNo}\t${compactLine(result, multi)}`;
        }
      } else {
        error = lineError(done.error);
        record = { line: lineNo, ...(prepared ? { command: prepared.command } : {}), ok: false, error: { code: error.code, category: error.category, message: error.message, exitCode: EXIT_CODES[error.category] } };
        text = `${lineNo}\terror\t${sanitize(error.message)}`;
      }
      if (!out.add(json ? JSON.stringify(record) + '\n' : text + '\n')) await out.ready();
      if (ctx.db?.credentialsPending) for (const w of await reloadPendingCredentials(ctx, { final: false })) warn(`sipctl: warning: ${w}\n`);
      if (error) {
        failed++;
        first ??= { line: lineNo, error };
        if (stopOnError) stopped = true;
      }
    };

    const inFlight: Running[] = [];
    const reportInFlight = async (): Promise<void> => {
      while (inFlight.length > 0) await report(inFlight.shift()!);
    };
    const input = new InputLines(process.stdin);
    let lineNo = 0;
    try {
      while (!stopped) {
        const line = input.take();
        if (line === undefined) {
          // Nothing more to read yet: report what is in flight before waiting (a co-process may
          // be waiting for those results before it writes more).
          await reportInFlight();
          out.flush();
          if (stopped || !(await input.wait())) break;
          continue;
        }
        lineNo++;
        let prepared: PreparedLine | undefined;
        try {
          prepared = prepareLine(line, ctx);
        } catch (e) {
          total++;
          inFlight.push({ lineNo, done: Promise.resolve({ ok: false, error: e }) });
          if (inFlight.length >= ahead) await report(inFlight.shift()!);
          continue;
        }
        if (!prepared) continue;
        total++;
        if (ahead > 1 && prepared.quick) {
          const before = ctx.nodes.callsMade;
          inFlight.push({ lineNo, prepared, done: runLine(prepared) });
          // Its calls must all be out before the next line's (else it runs alone, as others do).
          if (ctx.nodes.callsMade - before !== ctx.nodes.nodes.length) await reportInFlight();
          while (inFlight.length >= ahead) await report(inFlight.shift()!);
        } else {
          await reportInFlight();
          out.flush(); // a slow line must not hold back the results before it
          if (stopped) break;
          await report({ lineNo, prepared, done: runLine(prepared) });
        }
      }
      if (!stopped) await reportInFlight();
    } finally {
      input.close();
      out.flush();
    }
    // Subscriber lines: sipd's credential cache reloads once for the whole batch.
    for (const w of await reloadPendingCredentials(ctx, { final: true })) warn(`sipctl: warning: ${w}\n`);
    if (first) {
      const category: ErrorCategory = first.error.category;
      throw new SipctlError('BATCH_FAILED', `${failed} of ${total} line(s) failed; first: line ${first.line}: ${first.error.message}`, { category, details: { failed, total, firstLine: first.line } });
    }
    if (!json && total === 0) this.note('no commands on standard input');
    return undefined as unknown as Record<string, never>;
  }

  /** batch prints its own JSON lines; nothing more at the end. */
  protected override logJson(): void {}
}

/** Quick lines in flight at once over Kamailio's FIFO. */
const FIFO_LINES_AHEAD = 32;

/** A line started, and how it ended (never rejects). */
interface Running {
  lineNo: number;
  prepared?: PreparedLine;
  done: Promise<{ ok: true; result: OpResult } | { ok: false; error: unknown }>;
}

function runLine(prepared: PreparedLine): Running['done'] {
  try {
    return prepared.run().then((result) => ({ ok: true as const, result }), (error: unknown) => ({ ok: false as const, error }));
  } catch (error) {
    return Promise.resolve({ ok: false as const, error });
  }
}
