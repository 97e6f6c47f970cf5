import { createInterface } from 'node:readline';
import { Flags } from '@oclif/core';
import { RpcCommand, compactLine, lineError, rpcFlags, resultJson } from '../cli/rpc-support.js';
import { sanitize } from '../cli/output.js';
import { SipctlError, type ErrorCategory } from '../core/errors.js';
import { EXIT_CODES } from '../cli/exit-codes.js';
import { prepareLine, type LineContext } from '../core/proxy/line-commands.js';
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
    let total = 0;
    let failed = 0;
    let first: { line: number; error: SipctlError } | undefined;
    let lineNo = 0;
    const out = new OutputBuffer();
    const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
    for await (const line of rl) {
      lineNo++;
      let prepared;
      let error: SipctlError | undefined;
      let record: Record<string, unknown> | undefined;
      let text: string | undefined;
      try {
        prepared = prepareLine(line, ctx);
        if (!prepared) continue;
        total++;
        const result = await prepared.run();
        error = nodesError(result.outcomes);
        for (const w of result.warnings) process.stderr.write(`sipctl: line ${lineNo}: warning: ${w}\n`);
        if (json) {
          record = { line: lineNo, command: prepared.command, ok: !error, result: resultJson(result) };
          if (error) record.error = { code: error.code, category: error.category, message: error.message, exitCode: EXIT_CODES[error.category] };
        } else {
          text = `${lineNo}\t${compactLine(result, multi)}`;
        }
      } catch (e) {
        if (!prepared) total++;
        error = lineError(e);
        record = { line: lineNo, ...(prepared ? { command: prepared.command } : {}), ok: false, error: { code: error.code, category: error.category, message: error.message, exitCode: EXIT_CODES[error.category] } };
        text = `${lineNo}\terror\t${sanitize(error.message)}`;
      }
      await out.write(json ? JSON.stringify(record) + '\n' : text + '\n');
      for (const w of await reloadPendingCredentials(ctx, { final: false })) process.stderr.write(`sipctl: warning: ${w}\n`);
      if (error) {
        failed++;
        first ??= { line: lineNo, error };
        if (this.flags['stop-on-error']) break;
      }
    }
    rl.close();
    await out.flush();
    // Subscriber lines: sipd's credential cache reloads once for the whole batch.
    for (const w of await reloadPendingCredentials(ctx, { final: true })) process.stderr.write(`sipctl: warning: ${w}\n`);
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

/** Writes one result line at once (a co-process may be waiting for it), respecting back-pressure. */
class OutputBuffer {
  async write(s: string): Promise<void> {
    if (!process.stdout.write(s)) await new Promise<void>((r) => process.stdout.once('drain', () => r()));
  }

  async flush(): Promise<void> {}
}
