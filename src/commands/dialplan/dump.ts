import { Args } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { dialplanDump } from '../../core/dialplan/dialplan.js';

export default class DialplanDump extends RpcCommand<typeof DialplanDump> {
  static summary = 'The rules of one dialplan the running proxy has loaded (dialplan.dump).';
  static description = 'A dialplan id the proxy has no rules for is exit code 3. Compare with `sipctl dialplan show DPID` (the database).';
  static examples = ['<%= config.bin %> dialplan dump 1', '<%= config.bin %> dialplan dump 1 --json'];
  static args = { dpid: Args.string({ description: 'dialplan id', required: true }) };
  static flags = { ...rpcFlags };

  async run() {
    return this.finish(await dialplanDump(this.opContext(), this.args.dpid));
  }
}
