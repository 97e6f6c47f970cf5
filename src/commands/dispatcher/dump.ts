import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { dispatcherDump } from '../../core/dispatcher/dispatcher.js';

export default class DispatcherDump extends RpcCommand<typeof DispatcherDump> {
  static summary = 'What the running proxy has loaded, with each destination\'s state (dispatcher.list; kamctl dispatcher dump).';
  static description = 'One record per destination: set, URI, Kamailio\'s state letters (AP = active and probing, IP = inactive and probing, …), state, priority, attrs. An empty list is not an error. Compare with `sipctl dispatcher show` (the database).';
  static examples = ['<%= config.bin %> dispatcher dump', '<%= config.bin %> dispatcher dump --node all --json'];
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await dispatcherDump(this.opContext()));
  }
}
