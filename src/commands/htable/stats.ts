import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class HtableStats extends RpcCommand<typeof HtableStats> {
  static summary = 'Size of every hash table (htable.stats): slots, items, fewest and most items in one slot.';
  static description = 'A MAX/SLOT far above ITEMS/SLOTS means keys collide in a few slots: a bigger size= for that table spreads them. --json gives [{name, slots, all, min, max}] as the proxy names them.';
  static examples = ['<%= config.bin %> htable stats', '<%= config.bin %> htable stats --json'];
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await ops.htableStats(this.opContext()));
  }
}
