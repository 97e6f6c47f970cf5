import { Args } from '@oclif/core';
import { RpcCommand, dryRunFlag, rpcFlags } from '../../cli/rpc-support.js';
import { dispatcherSetState } from '../../core/dispatcher/dispatcher.js';

export default class DispatcherSetState extends RpcCommand<typeof DispatcherSetState> {
  static summary = 'Change the state of a loaded destination on the running proxies (dispatcher.set_state).';
  static description = 'STATE is active, inactive, disabled or probing. In memory only: the next reload or restart starts again from the table. The destination must be loaded on every node (exit 3 on a node where it is not).';
  static examples = ['<%= config.bin %> dispatcher set-state inactive 1 sip:192.0.2.30:5060', '<%= config.bin %> dispatcher set-state active 1 sip:192.0.2.30:5060 --node all'];
  static args = {
    state: Args.string({ description: 'active, inactive, disabled or probing', required: true, options: ['active', 'inactive', 'disabled', 'probing'] }),
    setid: Args.string({ description: 'destination set number', required: true }),
    uri: Args.string({ description: 'destination SIP URI', required: true }),
  };
  static flags = { ...rpcFlags, 'dry-run': dryRunFlag };

  async run() {
    return this.finish(await dispatcherSetState(this.opContext(), this.args.state, this.args.setid, this.args.uri));
  }
}
