import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../cli/rule-command.js';
import { rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { reloadBlocklist, removeFromBlocklist } from '../../core/ipblock/ip-blocklist.js';

export default class BlocklistRm extends RuleCommand<typeof BlocklistRm> {
  static summary = 'Remove an address or network from the blocklist, then reload the proxies.';
  static description = 'Asks first on a terminal; scripts pass --yes. The entry is matched as stored (host bits cleared); one that is not there is exit code 3.';
  static examples = ['<%= config.bin %> blocklist rm 198.51.100.23 --yes', '<%= config.bin %> blocklist rm 203.0.113.0/24 --no-reload --yes'];
  static args = { network: Args.string({ description: 'the blocklisted address or CIDR network', required: true }) };
  static flags = {
    ...rpcFlags,
    reload: Flags.boolean({ description: 'reload the blocklist on the proxies (blocklist.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'show what would be removed; change nothing' }),
    yes: yesFlag,
  };

  async run() {
    const db = await this.openDb();
    if (!this.flags['dry-run']) {
      const found = await removeFromBlocklist(db, this.args.network, { dryRun: true });
      await this.confirmDestructive(`Unblock ${found.entries[0]!.network}?`);
    }
    const change = await removeFromBlocklist(db, this.args.network, { dryRun: this.flags['dry-run'] });
    this.print(`${change.dryRun ? 'would unblock' : 'unblocked'} ${change.entries[0]!.network}`);
    if (change.dryRun || !this.flags.reload) return change;
    return { ...change, reload: await this.reloadProxies(reloadBlocklist, 'blocklist.reload') };
  }
}
