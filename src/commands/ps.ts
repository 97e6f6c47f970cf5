import { RpcCommand, rpcFlags } from '../cli/rpc-support.js';
import { ops } from '../core/proxy/ops.js';

export default class Ps extends RpcCommand<typeof Ps> {
  static summary = 'List the running proxy\'s processes (core.psx; kamctl ps, kamcli ps).';
  static description = 'One row per process: IDX, PID, DESCRIPTION. sipd is one process (SIP, timers and RPC share one event loop), so it lists one row.';
  static examples = ['<%= config.bin %> ps', '<%= config.bin %> ps --node all --json'];
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await ops.ps(this.opContext()));
  }
}
