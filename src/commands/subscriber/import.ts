import type { ReadStream } from 'node:fs';
import { statSync } from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { progressBar } from '../../cli/progress.js';
import { LIVE_CHANGE_HELP, credentialConfig, credentialFlags, plaintextChoice, reloadProxyCredentials } from '../../cli/subscriber-support.js';
import { SipctlError } from '../../core/errors.js';
import { importSubscribers, openInput } from '../../core/subscribers/import.js';

export default class SubscriberImport extends BaseCommand<typeof SubscriberImport> {
  static summary = 'Bulk-add subscribers from CSV (header: username,domain,password).';
  static description = `Rows are validated, then written in transactions of 500. Subscribers already present are skipped (their passwords are not changed). Rejected rows are listed with their line numbers; the command then exits with code 2. With --atomic the whole file is one transaction and any rejected row means nothing is written.

${LIVE_CHANGE_HELP} sipctl asks once, after the import, when it added subscribers.`;
  static examples = ['<%= config.bin %> subscriber import users.csv', 'generate-users | <%= config.bin %> subscriber import - --atomic --json'];
  static args = { file: Args.string({ description: 'CSV file, or - for standard input', required: true }) };
  static flags = {
    ...credentialFlags,
    atomic: Flags.boolean({ description: 'all or nothing: one transaction, rolled back on any rejected row' }),
    'dry-run': Flags.boolean({ description: 'validate every row and report; write nothing' }),
  };

  protected override configOverrides() {
    return credentialConfig(this.flags);
  }

  async run() {
    const db = await this.openDb();
    const input = openInput(this.args.file);
    // Progress by bytes read: the file's size is known up front, its row count is not.
    const size = this.args.file === '-' ? 0 : statSync(this.args.file, { throwIfNoEntry: false })?.size ?? 0;
    const bar = !this.jsonEnabled() && !!process.stderr.isTTY && size > 0 ? progressBar() : undefined;
    let summary;
    try {
      summary = await importSubscribers(db, input, {
        hash: this.cfg.values.hash,
        storePlaintext: plaintextChoice(this.cfg),
        allowWeak: this.flags['allow-weak'],
        defaultDomain: this.cfg.values.domain,
        atomic: this.flags.atomic,
        dryRun: this.flags['dry-run'],
        onProgress: bar ? (lines) => bar.update({ done: (input as ReadStream).bytesRead, total: size, note: `line ${lines}` }) : undefined,
      });
    } finally {
      bar?.done();
    }
    const verb = summary.dryRun ? 'would add' : 'added';
    for (const w of summary.warnings ?? []) this.note(`warning: ${w}`);
    for (const r of summary.rejections) this.note(`line ${r.line}: ${r.reason}`);
    this.print(`${verb} ${summary.added}, skipped ${summary.skipped} (already present), rejected ${summary.rejected}${summary.rolledBack ? ' — rolled back, nothing imported (--atomic)' : ''}`);
    // Rows written (also when others were rejected): live on sipd at once.
    if (summary.added > 0 && !summary.rolledBack) summary = await reloadProxyCredentials(this.session, summary, (l) => this.note(l));
    if (summary.rejected > 0) {
      if (this.jsonEnabled()) this.logJson(summary);
      throw new SipctlError('IMPORT_REJECTED_ROWS', `${summary.rejected} row(s) rejected${summary.rolledBack ? '; nothing was imported' : ''}`, { category: 'usage', details: { added: summary.added, skipped: summary.skipped, rejected: summary.rejected } });
    }
    return summary;
  }
}
