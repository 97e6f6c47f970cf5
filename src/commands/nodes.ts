import { RpcCommand, rpcFlags } from '../cli/rpc-support.js';
import { ops } from '../core/proxy/ops.js';

export default class Nodes extends RpcCommand<typeof Nodes> {
  static summary = 'The members of a sipd cluster (sipd --cluster) with their last heartbeat.';
  static description = `Asks the proxy for the nodes registered in the cluster's Redis (RPC cluster.nodes): node id, state, last heartbeat, pid, server_id (what its location rows carry) and listen addresses. STATE is alive (a heartbeat in the last 6 s), stopped (shut down cleanly; LAST SEEN says when) or silent (no heartbeat for 6 s: killed, hung or cut off from Redis). Calls for users registered through a node that is not alive are made directly, not handed to it. A sipd without --cluster lists no members; --node all asks every configured proxy.`;
  static examples = ['<%= config.bin %> nodes', '<%= config.bin %> nodes --json'];
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await ops.nodes(this.opContext()));
  }
}
