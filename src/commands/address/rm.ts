import { Args, Flags } from '@oclif/core';
import { RpcCommand, resultJson, rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { removeAddress } from '../../core/address/addresses.js';
import { ops } from '../../core/proxy/ops.js';

export default class AddressRm extends RpcCommand<typeof AddressRm> {
  static summary = 'Remove an IP from a group of the permissions address table (kamctl address rm).';
  static description = 'Asks first on a terminal; scripts pass --yes. Removes every entry of the group for that IP (any mask and port), or only the one given with --mask/--port. Nothing matching is exit code 3. Add --reload to make the running proxies forget it at once.';
  static examples = ['<%= config.bin %> address rm 200 10.0.1.102 --yes', '<%= config.bin %> address rm 1 192.168.0.0 --mask 16 --reload --yes'];
  static args = {
    group: Args.string({ description: 'group number', required: true }),
    ip: Args.string({ description: 'IPv4 or IPv6 address', required: true }),
  };
  static flags = {
    ...rpcFlags,
    mask: Flags.string({ description: 'only the entry with this mask' }),
    port: Flags.string({ description: 'only the entry with this port' }),
    reload: Flags.boolean({ description: 'then reload the address table on the proxies (permissions.addressReload)' }),
    'dry-run': Flags.boolean({ description: 'show what would be removed; change nothing' }),
    yes: yesFlag,
  };

  async run() {
    const db = await this.openDb();
    const opts = { mask: this.flags.mask, port: this.flags.port };
    if (!this.flags['dry-run']) {
      // look first: what is not there is exit 3 before any question, and the question names what goes
      const found = await removeAddress(db, this.args.group, this.args.ip, { ...opts, dryRun: true });
      await this.confirmDestructive(`Remove ${found.entries.map((e) => `${e.ip}/${e.mask} port ${e.port || 'any'}`).join(', ')} from address group ${this.args.group}?`);
    }
    const change = await removeAddress(db, this.args.group, this.args.ip, { ...opts, dryRun: this.flags['dry-run'] });
    for (const e of change.entries) this.print(`${change.dryRun ? 'would remove' : 'removed'} ${e.ip}/${e.mask} port ${e.port || 'any'} from group ${e.grp}`);
    if (!this.flags.reload || change.dryRun) {
      if (!change.dryRun) this.note('the running proxy forgets it on `sipctl address reload` (or use --reload)');
      return change;
    }
    const reload = await ops.addressReload(this.opContext());
    const json = { ...change, reload: resultJson(reload) };
    await this.finish(reload, { json: () => json });
    return json;
  }
}
