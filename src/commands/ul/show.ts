import { Args, Flags } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class UlShow extends RpcCommand<typeof UlShow> {
  static summary = 'Show the contacts of one AoR (ul.lookup), or of every AoR when none is given (kamctl ul show).';
  static description = 'Exit code 3 when the AoR is not registered (on every node). --json gives {aor, contacts} with the same contact records as `ul dump --json`; --raw the proxy\'s own ul.lookup answer. With several nodes (--node all), a binding that several nodes list is one row whose NODE column names each of them (sipd --cluster answers ul.lookup from the cluster store, so every node lists every binding; so do Kamailio nodes replicating usrloc over DMQ): a binding is its ruid. --json keeps each node\'s own answer under nodes[], where such a binding appears under each node with the same ruid. Without an AoR it is `ul dump` (every registration, one row per contact; --json an array of contact records).';
  static examples = ['<%= config.bin %> ul show', '<%= config.bin %> ul show 61312341234', '<%= config.bin %> ul show sip:alice@example.com --json'];
  static args = { aor: Args.string({ description: 'address of record: user, user@domain or sip:user@domain (none: every AoR)' }) };
  static flags = {
    ...rpcFlags,
    table: Flags.string({ description: 'usrloc table', default: 'location' }),
    raw: Flags.boolean({ description: "with --json: the proxy's own ul.lookup (ul.dump) answer instead of sipctl's contact records" }),
  };

  async run() {
    if (this.args.aor === undefined) {
      const result = await ops.ulDump(this.opContext(), { table: this.flags.table, want: this.jsonEnabled() && this.flags.raw ? 'raw' : 'rows' });
      return this.finish(result, { raw: this.flags.raw });
    }
    return this.finish(await ops.ulShow(this.opContext(), this.args.aor, this.flags.table, { raw: this.flags.raw }), { raw: this.flags.raw });
  }
}
