import { readFileSync } from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../cli/rule-command.js';
import { rpcFlags } from '../../cli/rpc-support.js';
import { importBlocklist, reloadBlocklist } from '../../core/ipblock/ip-blocklist.js';
import { UsageError } from '../../core/errors.js';

export default class BlocklistImport extends RuleCommand<typeof BlocklistImport> {
  static summary = 'Add every address or network listed in a file to the blocklist, then reload the proxies.';
  static description = `FILE is a plain list, one address or CIDR network per line (e.g. a public VoIP blocklist saved to a file); blank lines and comments (# or ;) are ignored, and so is anything after the first word. Bad lines are reported with their line numbers; the good ones are added in one transaction. With --atomic one bad line means nothing is written (exit 2). Entries already listed are counted, not added twice.`;
  static examples = ['<%= config.bin %> blocklist import blocklist.txt --dry-run', "<%= config.bin %> blocklist import blocklist.txt --reason 'public VoIP blocklist'", '<%= config.bin %> blocklist import blocklist.txt --atomic --expires 30d'];
  static args = { file: Args.string({ description: 'the list, one address or CIDR per line ("-" = standard input)', required: true }) };
  static flags = {
    ...rpcFlags,
    reason: Flags.string({ description: 'reason stored with every entry', default: 'imported' }),
    expires: Flags.string({ description: 'expiry of every entry: a duration (12h, 7d) or a date-time; default never' }),
    atomic: Flags.boolean({ description: 'all or nothing: any bad line and nothing is imported' }),
    reload: Flags.boolean({ description: 'reload the blocklist on the proxies (blocklist.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'check the file and count what would be added; change nothing' }),
  };

  async run() {
    let text: string;
    try {
      text = readFileSync(this.args.file === '-' ? 0 : this.args.file, 'utf8');
    } catch (e) {
      throw new UsageError('FILE_UNREADABLE', `cannot read ${this.args.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const db = await this.openDb();
    const r = await importBlocklist(db, text, { reason: this.flags.reason, expires: this.flags.expires, atomic: this.flags.atomic, dryRun: this.flags['dry-run'] });
    for (const p of r.problems) this.note(`line ${p.line}: ${p.error}`);
    this.print(`${r.dryRun ? 'would add' : 'added'} ${r.added}, already listed ${r.duplicates}, bad lines ${r.problems.length}`);
    if (r.dryRun || !this.flags.reload || r.added === 0) return r;
    return { ...r, reload: await this.reloadProxies(reloadBlocklist, 'blocklist.reload') };
  }
}
