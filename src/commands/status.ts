import { RpcCommand, rpcFlags } from '../cli/rpc-support.js';
import { ops } from '../core/proxy/ops.js';

export default class Status extends RpcCommand<typeof Status> {
  static summary = 'One line of health per proxy: up or down, version, uptime, RPC round trip.';
  static description = 'Calls core.version and core.uptime on every node. Exit code 0 only when every node answered; a node that is down is named, with the reason.';
  static examples = ['<%= config.bin %> status', '<%= config.bin %> status --node all --json'];
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await ops.status(this.opContext()));
  }
}
