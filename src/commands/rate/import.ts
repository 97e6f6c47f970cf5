import { readFileSync } from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../cli/rule-command.js';
import { rpcFlags } from '../../cli/rpc-support.js';
import { importRates, reloadRates } from '../../core/rate/rates.js';
import { UsageError } from '../../core/errors.js';

export default class RateImport extends RuleCommand<typeof RateImport> {
  static summary = 'Load rates from a CSV file (prefix,price[,currency[,increment[,description]]]), then reload the proxies.';
  static description = `One rate per line; a header line starting with "prefix", blank lines and # comments are skipped; ";" separates as well as ",". Missing currency and increment take --currency and --increment. Prefixes already in the table get the new rate. Bad lines are reported with their line numbers; the good ones are written in one transaction. With --atomic one bad line means nothing is written (exit 2).`;
  static examples = ['<%= config.bin %> rate import rates.csv --dry-run', '<%= config.bin %> rate import rates.csv --atomic --increment 1'];
  static args = { file: Args.string({ description: 'the CSV file ("-" = standard input)', required: true }) };
  static flags = {
    ...rpcFlags,
    currency: Flags.string({ description: 'currency of lines that name none', default: 'EUR' }),
    increment: Flags.string({ description: 'billing increment (seconds) of lines that give none', default: '60' }),
    atomic: Flags.boolean({ description: 'all or nothing: any bad line and nothing is imported' }),
    reload: Flags.boolean({ description: 'reload rates and limits on the proxies (limits.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'check the file and count what would be written; change nothing' }),
  };

  async run() {
    let text: string;
    try {
      text = readFileSync(this.args.file === '-' ? 0 : this.args.file, 'utf8');
    } catch (e) {
      throw new UsageError('FILE_UNREADABLE', `cannot read ${this.args.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const db = await this.openDb();
    const r = await importRates(db, text, { currency: this.flags.currency, increment: Number(this.flags.increment), atomic: this.flags.atomic, dryRun: this.flags['dry-run'] });
    for (const p of r.problems) this.note(`line ${p.line}: ${p.error}`);
    this.print(`${r.dryRun ? 'would add' : 'added'} ${r.added}, ${r.dryRun ? 'would replace' : 'replaced'} ${r.replaced}, bad lines ${r.problems.length}`);
    if (r.dryRun || !this.flags.reload || r.added + r.replaced === 0) return r;
    return { ...r, reload: await this.reloadProxies(reloadRates, 'limits.reload') };
  }
}
