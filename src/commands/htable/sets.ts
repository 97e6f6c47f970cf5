import { Args } from '@oclif/core';
import { RpcCommand, dryRunFlag, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class HtableSets extends RpcCommand<typeof HtableSets> {
  static summary = 'Set a key to a string value (htable.sets), on every node.';
  static description = 'The value is stored as a string even when it looks like a number (use seti for integers).';
  static examples = ['<%= config.bin %> htable sets MessageCount greeting hello', '<%= config.bin %> htable sets ipban 1.2.3.4 "banned by hand"'];
  static args = {
    table: Args.string({ description: 'table name', required: true }),
    key: Args.string({ description: 'key', required: true }),
    value: Args.string({ description: 'string value', required: true }),
  };
  static flags = { ...rpcFlags, 'dry-run': dryRunFlag };

  async run() {
    return this.finish(await ops.htableSets(this.opContext(), this.args.table, this.args.key, this.args.value));
  }
}
