import { RpcCommand, rpcFlags } from '../cli/rpc-support.js';
import { ops } from '../core/proxy/ops.js';

export default class Uptime extends RpcCommand<typeof Uptime> {
  static summary = 'How long each proxy has been running (core.uptime).';
  static examples = ['<%= config.bin %> uptime'];
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await ops.uptime(this.opContext()));
  }
}
