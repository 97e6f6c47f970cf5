import { Args, Flags } from '@oclif/core';
import { RuleCommand } from '../../cli/rule-command.js';
import { rpcFlags } from '../../cli/rpc-support.js';
import { addToBlocklist, reloadBlocklist } from '../../core/ipblock/ip-blocklist.js';

export default class BlocklistAdd extends RuleCommand<typeof BlocklistAdd> {
  static summary = 'Block an address or CIDR network (sipd_blocklist table), then reload the proxies.';
  static description = `sipd drops every message from a blocklisted source before parsing it and sends nothing back; a TCP or TLS connection from it is refused. Host bits are cleared (10.1.2.3/8 is stored as 10.0.0.0/8). --expires takes a duration (90m, 12h, 7d, 2w) or a date-time; without it the entry stays until removed.

Then every proxy reloads the list (blocklist.reload); --no-reload only writes the database.`;
  static examples = ["<%= config.bin %> blocklist add 198.51.100.23 --reason 'SIP scanner'", '<%= config.bin %> blocklist add 203.0.113.0/24 --expires 7d', '<%= config.bin %> blocklist add 2001:db8:bad::/48 --no-reload'];
  static args = { network: Args.string({ description: 'IPv4/IPv6 address or CIDR network', required: true }) };
  static flags = {
    ...rpcFlags,
    reason: Flags.string({ description: 'why it is blocked (at most 255 characters)', default: '' }),
    expires: Flags.string({ description: 'when the entry stops blocking: a duration (12h, 7d, 2w) or a date-time; default never' }),
    reload: Flags.boolean({ description: 'reload the blocklist on the proxies (blocklist.reload)', default: true, allowNo: true }),
    'dry-run': Flags.boolean({ description: 'validate and show what would be added; change nothing' }),
  };

  async run() {
    const db = await this.openDb();
    const change = await addToBlocklist(db, this.args.network, { reason: this.flags.reason, expires: this.flags.expires, dryRun: this.flags['dry-run'] });
    const e = change.entries[0]!;
    this.print(`${change.dryRun ? 'would block' : 'blocked'} ${e.network}${e.expires ? ` until ${e.expires}` : ''}${e.reason ? ` (${e.reason})` : ''}`);
    if (change.dryRun || !this.flags.reload) return change;
    return { ...change, reload: await this.reloadProxies(reloadBlocklist, 'blocklist.reload') };
  }
}
