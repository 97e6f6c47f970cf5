import { Args, Flags } from '@oclif/core';
import { RpcCommand, dryRunFlag, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';
import { SHV_TYPES } from '../../core/proxy/shv.js';

export default class ShvSet extends RpcCommand<typeof ShvSet> {
  static summary = 'Set a shared variable ($shv) of the running proxy (pv.shvSet; kamcli shv set), on every node.';
  static description = 'The variable keeps its type unless --type says otherwise; an int value must be an integer in C int range (Kamailio itself would store 0 for anything else). A variable the proxy does not declare is exit code 3: pv.shvSet cannot create one.';
  static examples = ['<%= config.bin %> shv set maint 1', '<%= config.bin %> shv set motd "back at 10:00" --type str'];
  static args = {
    name: Args.string({ description: 'variable name', required: true }),
    value: Args.string({ description: 'new value', required: true }),
  };
  static flags = { ...rpcFlags, type: Flags.string({ description: 'int or str (default: the type it has now)', options: [...SHV_TYPES] }), 'dry-run': dryRunFlag };

  async run() {
    return this.finish(await ops.shvSet(this.opContext(), this.args.name, this.args.value, this.flags.type as 'int' | 'str' | undefined));
  }
}
