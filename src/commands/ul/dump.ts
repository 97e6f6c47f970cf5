import { Flags } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class UlDump extends RpcCommand<typeof UlDump> {
  static summary = 'List the registrations the running proxy holds (usrloc).';
  static description = `One row per contact: AoR, contact, expires in, received, user agent, last modified. --json gives the same contact records as "ul show --json" (camelCase, null for unset values; schemas/ul-dump.json); --raw gives the proxy's own ul.dump structure (filtered by --filter). Values from the proxy are untrusted: control characters in, say, a User-Agent are shown escaped.

Large dumps: Kamailio 5.6 sends the whole dump as one reply. Its HTTP interface cannot send more than about 4,000 contacts and its datagram socket about 60; sipctl counts first and says so instead of hanging. The FIFO (--rpc fifo:/run/kamailio/kamailio_rpc.fifo) carries any size: 100,000 contacts took Kamailio 5.6 about 5 minutes on an idle 2-core machine (5,000 take half a second: its reply building grows faster than the contacts), within the 10 minutes a dump is allowed unless --timeout says otherwise.`;
  static examples = [
    '<%= config.bin %> ul dump',
    "<%= config.bin %> ul dump --filter '6131*'",
    '<%= config.bin %> ul dump --rpc fifo:/run/kamailio/kamailio_rpc.fifo --json > ul.json',
    '<%= config.bin %> ul dump --json --raw',
  ];
  static flags = {
    ...rpcFlags,
    filter: Flags.string({ char: 'f', description: 'only AoRs matching: a glob with * and ?, else a substring' }),
    table: Flags.string({ description: 'only this usrloc table (domain), e.g. location' }),
    force: Flags.boolean({ description: 'dump even when the proxy holds more contacts than its interface can usually send' }),
    raw: Flags.boolean({ description: "with --json: the proxy's own ul.dump structure (Kamailio's PascalCase, \"[not set]\") instead of sipctl's contact records" }),
  };

  async run() {
    const result = await ops.ulDump(this.opContext(), {
      filter: this.flags.filter,
      table: this.flags.table,
      force: this.flags.force,
      want: this.jsonEnabled() && this.flags.raw ? 'raw' : 'rows',
    });
    return this.finish(result, { raw: this.flags.raw });
  }
}
