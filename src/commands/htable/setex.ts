import { Args } from '@oclif/core';
import { RpcCommand, dryRunFlag, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class HtableSetex extends RpcCommand<typeof HtableSetex> {
  static summary = 'Set when a key expires (htable.setex), on every node.';
  static description = 'The key must exist (exit code 3 otherwise: Kamailio answers "Ok" for a missing key and changes nothing). SECONDS counts from now; 0 makes the key never expire.';
  static examples = ['<%= config.bin %> htable setex ipban 192.0.2.66 600', '<%= config.bin %> htable setex ipban 192.0.2.66 0 --dry-run'];
  static args = {
    table: Args.string({ description: 'table name', required: true }),
    key: Args.string({ description: 'key', required: true }),
    seconds: Args.string({ description: 'seconds until it expires (0 = never)', required: true }),
  };
  static flags = { ...rpcFlags, 'dry-run': dryRunFlag };

  async run() {
    return this.finish(await ops.htableSetex(this.opContext(), this.args.table, this.args.key, this.args.seconds));
  }
}
