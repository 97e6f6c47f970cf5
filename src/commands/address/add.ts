import { Args, Flags } from '@oclif/core';
import { RpcCommand, rpcFlags, resultJson } from '../../cli/rpc-support.js';
import { addAddress } from '../../core/address/addresses.js';
import { ops } from '../../core/proxy/ops.js';

export default class AddressAdd extends RpcCommand<typeof AddressAdd> {
  static summary = 'Add an entry to the permissions address table (kamctl address add).';
  static description = `Arguments in kamctl's order. MASK defaults to 32 for IPv4 and 128 for IPv6 (one host); a shorter mask makes a subnet. PORT 0 (the default) means any port. Everything is checked before writing; the same group, IP, mask and port twice is a conflict (exit 4).

The running proxy sees the change after a reload: add --reload to do both in one step (on every node).`;
  static examples = [
    '<%= config.bin %> address add 200 10.0.1.102 32 5060 "Carrier IP address"',
    '<%= config.bin %> address add 1 192.168.0.0 16 --reload',
    '<%= config.bin %> address add 2 2001:db8::10 --dry-run',
  ];
  static args = {
    group: Args.string({ description: 'group number (what allow_source_address() checks)', required: true }),
    ip: Args.string({ description: 'IPv4 or IPv6 address', required: true }),
    mask: Args.string({ description: 'network mask bits (default 32 / 128)' }),
    port: Args.string({ description: 'port, 0 = any (default 0)' }),
    tag: Args.string({ description: 'free text tag (at most 64 characters)' }),
  };
  static flags = {
    ...rpcFlags,
    reload: Flags.boolean({ description: 'then reload the address table on the proxies (permissions.addressReload)' }),
    'dry-run': Flags.boolean({ description: 'validate and show what would be added; change nothing' }),
  };

  async run() {
    const { group, ip, mask, port, tag } = this.args;
    const db = await this.openDb();
    const change = await addAddress(db, { grp: group, ip, mask, port, tag }, { dryRun: this.flags['dry-run'] });
    const e = change.entries[0]!;
    this.print(`${change.dryRun ? 'would add' : 'added'} ${e.ip}/${e.mask} port ${e.port || 'any'} to group ${e.grp}${e.tag ? ` (${e.tag})` : ''}`);
    if (!this.flags.reload || change.dryRun) {
      if (!change.dryRun) this.note('the running proxy loads it on `sipctl address reload` (or use --reload)');
      return change;
    }
    const reload = await ops.addressReload(this.opContext());
    const json = { ...change, reload: resultJson(reload) };
    await this.finish(reload, { json: () => json });
    return json;
  }
}
