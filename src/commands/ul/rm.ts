import { Args, Flags } from '@oclif/core';
import { RpcCommand, dryRunFlag, rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class UlRm extends RpcCommand<typeof UlRm> {
  static summary = 'Remove every contact of an AoR from the running proxy (ul.rm), on every node.';
  static description = 'Asks first on a terminal; scripts pass --yes. The AoR is looked up first: one that is not registered is exit code 3 (Kamailio\'s ul.rm itself reports success for anything). With several nodes, each reports its own row.';
  static examples = ['<%= config.bin %> ul rm 61312341234 --yes', '<%= config.bin %> ul rm 61312341234 --dry-run'];
  static args = { aor: Args.string({ description: 'address of record: user, user@domain or sip:user@domain', required: true }) };
  static flags = { ...rpcFlags, table: Flags.string({ description: 'usrloc table', default: 'location' }), yes: yesFlag, 'dry-run': dryRunFlag };

  async run() {
    const ctx = this.opContext();
    await this.confirmDestructive(`Remove every contact of ${this.args.aor} on ${ctx.nodes.nodes.map((n) => n.name).join(', ')}?`);
    return this.finish(await ops.ulRm(ctx, this.args.aor, this.flags.table));
  }
}
