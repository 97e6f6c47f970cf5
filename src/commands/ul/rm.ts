import { Args, Flags } from '@oclif/core';
import { RpcCommand, dryRunFlag, rpcFlags, yesFlag } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class UlRm extends RpcCommand<typeof UlRm> {
  static summary = 'Remove every contact of an AoR (ul.rm), or one contact of it (ul.rm_contact), on every node.';
  static description = 'Asks first on a terminal; scripts pass --yes. The AoR is looked up first: one that is not registered is exit code 3 (Kamailio\'s ul.rm itself reports success for anything). With CONTACT only that contact goes (kamctl ul rm AOR CONTACT); a contact the AoR does not have is exit code 3. With several nodes, each reports its own row.';
  static examples = ['<%= config.bin %> ul rm 61312341234 --yes', '<%= config.bin %> ul rm 61312341234 --dry-run', '<%= config.bin %> ul rm alice sip:alice@192.0.2.10:5060 --yes'];
  static args = {
    aor: Args.string({ description: 'address of record: user, user@domain or sip:user@domain', required: true }),
    contact: Args.string({ description: 'only this contact URI, exactly as `ul show` lists it' }),
  };
  static flags = { ...rpcFlags, table: Flags.string({ description: 'usrloc table', default: 'location' }), yes: yesFlag, 'dry-run': dryRunFlag };

  async run() {
    const ctx = this.opContext();
    const where = ctx.nodes.nodes.map((n) => n.name).join(', ');
    if (this.args.contact !== undefined) {
      await this.confirmDestructive(`Remove contact ${this.args.contact} of ${this.args.aor} on ${where}?`);
      return this.finish(await ops.ulRmContact(ctx, this.args.aor, this.args.contact, this.flags.table));
    }
    await this.confirmDestructive(`Remove every contact of ${this.args.aor} on ${where}?`);
    return this.finish(await ops.ulRm(ctx, this.args.aor, this.flags.table));
  }
}
