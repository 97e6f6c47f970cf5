import { Args, Flags } from '@oclif/core';
import { BlockCommand } from '../../cli/block-command.js';
import { rpcFlags } from '../../cli/rpc-support.js';
import { addBlocked } from '../../core/block/blocklist.js';

export default class BlockAdd extends BlockCommand<typeof BlockAdd> {
  static summary = 'Block calls to a destination prefix (mtree table), then reload the proxies.';
  static description = `Subscribers' calls to the carrier whose dialled number starts with PREFIX (longest match wins) are refused with 403 "Destination blocked". Spaces, dashes, dots and brackets are ignored; digits, +, * and # count as written, so +44 and 0044 are different prefixes — block both when both are dialled.

The row goes into the mtree table (Kamailio's schema: tprefix, tvalue); then every proxy reloads it (mtree.reload). Use --no-reload to only write the database.`;
  static examples = ['<%= config.bin %> block add +44', "<%= config.bin %> block add '+44 90' --note 'UK premium rate'", '<%= config.bin %> block add 00881 --no-reload'];
  static args = { prefix: Args.string({ description: 'dialled-number prefix, e.g. +44, 0044, 1900', required: true }) };
  static flags = {
    ...rpcFlags,
    note: Flags.string({ description: 'why it is blocked (stored as tvalue, at most 128 characters)', default: 'blocked' }),
    reload: Flags.boolean({ description: 'reload the blocked prefixes on the proxies (mtree.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'validate and show what would be added; change nothing' }),
  };

  async run() {
    const db = await this.openDb();
    const change = await addBlocked(db, this.args.prefix, this.flags.note, { dryRun: this.flags['dry-run'] });
    const e = change.entries[0]!;
    this.print(`${change.dryRun ? 'would block' : 'blocked'} ${e.prefix} (${e.note})`);
    if (change.dryRun || !this.flags.reload) return change;
    return { ...change, reload: await this.reloadProxies() };
  }
}
