import { Flags } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../cli/rpc-support.js';
import { ops } from '../core/proxy/ops.js';

export default class Online extends RpcCommand<typeof Online> {
  static summary = 'List the AoRs with at least one live contact (kamctl online).';
  static description = 'From the proxy\'s ul.dump: one row per AoR with the number of contacts that have not expired, sorted. --json gives [{aor, contacts}]. Large tables: as `ul dump` (use the FIFO beyond about 4,000 contacts on Kamailio).';
  static examples = ['<%= config.bin %> online', "<%= config.bin %> online --filter 'alice*' --json"];
  static flags = {
    ...rpcFlags,
    filter: Flags.string({ char: 'f', description: 'only AoRs matching: a glob with * and ?, else a substring' }),
    table: Flags.string({ description: 'only this usrloc table (domain), e.g. location' }),
    force: Flags.boolean({ description: 'dump even when the proxy holds more contacts than its interface can usually send' }),
  };

  async run() {
    return this.finish(await ops.online(this.opContext(), { filter: this.flags.filter, table: this.flags.table, force: this.flags.force }));
  }
}
