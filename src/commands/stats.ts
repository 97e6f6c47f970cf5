import { Args } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../cli/rpc-support.js';
import { ops } from '../core/proxy/ops.js';

export default class Stats extends RpcCommand<typeof Stats> {
  static summary = 'Show the running proxy\'s statistics (stats.get_statistics; kamctl stats, kamcli stats).';
  static description = 'One row per statistic: GROUP, NAME, VALUE (a number). Without arguments: all. An argument is a group (`core`, `usrloc:`), a group and name (`core:rcv_requests`) or a bare name (`rcv_requests`); a bare word is read as a group first. --json gives [{group, name, value}] per node. Kamailio needs the kex module.';
  static examples = ['<%= config.bin %> stats', '<%= config.bin %> stats usrloc', '<%= config.bin %> stats core:rcv_requests registrar: --json'];
  static strict = false;
  static args = { stat: Args.string({ description: 'GROUP, GROUP:, GROUP:NAME or NAME (repeatable; default all)' }) };
  static flags = { ...rpcFlags };

  async run() {
    const { argv } = await this.parse(Stats);
    return this.finish(await ops.stats(this.opContext(), argv as string[]));
  }
}
