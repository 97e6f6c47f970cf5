import { RpcCommand, dryRunFlag, rpcFlags } from '../../cli/rpc-support.js';
import { dispatcherReload } from '../../core/dispatcher/dispatcher.js';

export default class DispatcherReload extends RpcCommand<typeof DispatcherReload> {
  static summary = 'Make the running proxies reload the dispatcher table (dispatcher.reload; kamctl dispatcher reload).';
  static description = 'States set with `sipctl dispatcher set-state` are lost: reloaded destinations start from their flags column.';
  static examples = ['<%= config.bin %> dispatcher reload', '<%= config.bin %> dispatcher reload --node all'];
  static flags = { ...rpcFlags, 'dry-run': dryRunFlag };

  async run() {
    return this.finish(await dispatcherReload(this.opContext()));
  }
}
