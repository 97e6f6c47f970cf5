import { Args, Flags } from '@oclif/core';
import { RpcCommand, dryRunFlag, rpcFlags } from '../../cli/rpc-support.js';
import { ops } from '../../core/proxy/ops.js';

export default class UlAdd extends RpcCommand<typeof UlAdd> {
  static summary = 'Add a contact to an AoR in the running proxy (ul.add), on every node (kamctl ul add).';
  static description = 'A static registration: lookup() finds it like one made by REGISTER. --expires 0 (the default, as kamctl) makes it permanent; otherwise it expires after that many seconds. The same contact again updates it. The contact must be a sip: or sips: URI. With a database-backed usrloc the proxy also writes it to the location table (db_mode 1 at once, db_mode 2 at its next timer run).';
  static examples = [
    '<%= config.bin %> ul add alice sip:alice@192.0.2.10:5060',
    '<%= config.bin %> ul add alice@sip.example.com sip:alice@192.0.2.11:5060 --expires 3600 --q 0.5',
  ];
  static args = {
    aor: Args.string({ description: 'address of record: user, user@domain or sip:user@domain', required: true }),
    contact: Args.string({ description: 'contact URI, e.g. sip:alice@192.0.2.10:5060', required: true }),
  };
  static flags = {
    ...rpcFlags,
    table: Flags.string({ description: 'usrloc table', default: 'location' }),
    expires: Flags.string({ description: 'seconds until it expires; 0 = permanent (default 0)' }),
    q: Flags.string({ description: 'q value 0..1, -1 for none (default 1)' }),
    path: Flags.string({ description: 'Path header value to keep with the contact' }),
    flags: Flags.string({ description: 'usrloc flags (integer, default 0)' }),
    cflags: Flags.string({ description: 'branch flags (integer, default 0)' }),
    methods: Flags.string({ description: 'methods bitmask (integer, default 0)' }),
    'dry-run': dryRunFlag,
  };

  async run() {
    const f = this.flags;
    return this.finish(await ops.ulAdd(this.opContext(), this.args.aor, this.args.contact, { expires: f.expires, q: f.q, path: f.path, flags: f.flags, cflags: f.cflags, methods: f.methods }, f.table));
  }
}
