import { Args, Flags } from '@oclif/core';
import { BlockCommand } from '../../cli/block-command.js';
import { rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { removeBlocked } from '../../core/block/blocklist.js';

export default class BlockRm extends BlockCommand<typeof BlockRm> {
  static summary = 'Unblock a destination prefix (mtree table), then reload the proxies.';
  static description = 'Asks first on a terminal; scripts pass --yes. Removes exactly that prefix (after dropping spaces, dashes, dots and brackets); a prefix that is not blocked is exit code 3. Every proxy then reloads the table (mtree.reload) unless --no-reload is given.';
  static examples = ['<%= config.bin %> block rm +44 --yes', '<%= config.bin %> block rm 1900 --no-reload --yes'];
  static args = { prefix: Args.string({ description: 'the blocked prefix', required: true }) };
  static flags = {
    ...rpcFlags,
    reload: Flags.boolean({ description: 'reload the blocked prefixes on the proxies (mtree.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'show what would be removed; change nothing' }),
    yes: yesFlag,
  };

  async run() {
    const db = await this.openDb();
    if (!this.flags['dry-run']) {
      const found = await removeBlocked(db, this.args.prefix, { dryRun: true }); // not blocked: exit 3 before any question
      await this.confirmDestructive(`Unblock ${found.entries[0]!.prefix} (${found.entries[0]!.note})?`);
    }
    const change = await removeBlocked(db, this.args.prefix, { dryRun: this.flags['dry-run'] });
    const e = change.entries[0]!;
    this.print(`${change.dryRun ? 'would unblock' : 'unblocked'} ${e.prefix} (${e.note})`);
    if (change.dryRun || !this.flags.reload) return change;
    return { ...change, reload: await this.reloadProxies() };
  }
}
