import { Args, Flags } from '@oclif/core';
import { RpcCommand, dryRunFlag, resultJson, rpcFlags } from '../../cli/rpc-support.js';
import { addDispatcher, dispatcherReload } from '../../core/dispatcher/dispatcher.js';

export default class DispatcherAdd extends RpcCommand<typeof DispatcherAdd> {
  static summary = 'Add a destination to a dispatcher set (kamctl dispatcher add).';
  static description = `URI must be a sip: or sips: URI (it is parsed with sipctl's RFC 3261 parser: a destination the dispatcher module cannot parse would make Kamailio refuse the whole table on reload). --attrs are name=value pairs separated by ";" (weight and rweight 1-100, maxload a number). The same URI twice in a set is a conflict (exit 4).

The running proxy sees the change after a reload: add --reload to do both in one step (dispatcher.reload, on every node).`;
  static examples = [
    '<%= config.bin %> dispatcher add 1 sip:192.0.2.30:5060 --description "gateway A" --reload',
    '<%= config.bin %> dispatcher add 1 "sip:gw2.example.com;transport=tcp" --priority 10 --attrs "weight=50;duid=gw2"',
    '<%= config.bin %> dispatcher add 2 sip:[2001:db8::30] --flags 8 --dry-run',
  ];
  static args = {
    setid: Args.string({ description: 'destination set number', required: true }),
    uri: Args.string({ description: 'destination SIP URI', required: true }),
  };
  static flags = {
    ...rpcFlags,
    flags: Flags.string({ description: 'dispatcher flags (default 0; 8 = probe this destination)' }),
    priority: Flags.string({ description: 'priority within the set (default 0)' }),
    attrs: Flags.string({ description: 'attributes, e.g. "weight=50;duid=gw1" (at most 128 characters)' }),
    description: Flags.string({ description: 'free text (at most 64 characters)' }),
    reload: Flags.boolean({ description: 'then reload the dispatcher table on the proxies (dispatcher.reload)' }),
    'dry-run': dryRunFlag,
  };

  async run() {
    const db = await this.openDb();
    const f = this.flags;
    const change = await addDispatcher(db, { setid: this.args.setid, uri: this.args.uri, flags: f.flags, priority: f.priority, attrs: f.attrs, description: f.description }, { dryRun: f['dry-run'] });
    const e = change.entries[0]!;
    this.print(`${change.dryRun ? 'would add' : 'added'} ${e.destination} to dispatcher set ${e.setid}`);
    if (!f.reload || change.dryRun) {
      if (!change.dryRun) this.note('the running proxy loads it on `sipctl dispatcher reload` (or use --reload)');
      return change;
    }
    const reload = await dispatcherReload(this.opContext());
    const json = { ...change, reload: resultJson(reload) };
    await this.finish(reload, { json: () => json });
    return json;
  }
}
