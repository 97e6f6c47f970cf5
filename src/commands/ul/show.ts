import { Args, Flags } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class UlShow extends RpcCommand<typeof UlShow> {
  static summary = 'Show the contacts of one AoR (ul.lookup).';
  static description = 'Exit code 3 when the AoR is not registered (on every node).';
  static examples = ['<%= config.bin %> ul show 61312341234', '<%= config.bin %> ul show sip:alice@example.com --json'];
  static args = { aor: Args.string({ description: 'address of record: user, user@domain or sip:user@domain', required: true }) };
  static flags = { ...rpcFlags, table: Flags.string({ description: 'usrloc table', default: 'location' }) };

  async run() {
    return this.finish(await ops.ulShow(this.opContext(), this.args.aor, this.flags.table));
  }
}
