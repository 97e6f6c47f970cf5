import { Args, Flags } from '@oclif/core';
import { RpcCommand, dryRunFlag, resultJson, rpcFlags } from '../../cli/rpc-support.js';
import { addDialplan, dialplanReload } from '../../core/dialplan/dialplan.js';

export default class DialplanAdd extends RpcCommand<typeof DialplanAdd> {
  static summary = 'Add a translation rule to a dialplan (kamctl dialplan add).';
  static description = `MATCH is tested against the input with --match-op (regexp, the default; equal; fnmatch). On a match, --subst (a regular expression; by default MATCH itself for regexp rules, the whole input otherwise) is replaced by REPLACE, which may use \\1…\\9. Rules of a dialplan are tried by --priority, lowest first.

Regular expressions are PCRE in Kamailio, which drops a rule it cannot compile. sipctl accepts only the subset where PCRE and JavaScript agree (groups, classes including [[:digit:]], quantifiers, anchors, \\d \\w \\s, lookahead) and names anything else it refuses (possessive quantifiers, atomic groups, inline options, \\A \\Z, variable-length lookbehind, …). A back-reference in REPLACE must have its group in --subst.

The running proxy sees the change after a reload: add --reload to do both in one step (dialplan.reload, on every node).`;
  static examples = [
    '<%= config.bin %> dialplan add 1 "^00([1-9][0-9]+)$" "+\\1" --attrs intl --reload',
    '<%= config.bin %> dialplan add 1 "^0([1-9][0-9]+)$" "+49\\1" --priority 2',
    '<%= config.bin %> dialplan add 2 911 "sip:112@emergency.example" --match-op equal',
  ];
  static args = {
    dpid: Args.string({ description: 'dialplan id', required: true }),
    match: Args.string({ description: 'match expression (regexp, exact string or fnmatch glob; at most 64 characters)', required: true }),
    replace: Args.string({ description: 'replacement, with \\1…\\9 for groups of --subst (at most 256 characters)', required: true }),
  };
  static flags = {
    ...rpcFlags,
    'match-op': Flags.string({ description: 'how MATCH is tested (default regexp)', options: ['regexp', 'equal', 'fnmatch'] }),
    subst: Flags.string({ description: 'regular expression to replace (default: MATCH for regexp rules)' }),
    priority: Flags.string({ description: 'order within the dialplan, lowest first (default 0)' }),
    attrs: Flags.string({ description: 'free text returned with a match (at most 64 characters)' }),
    reload: Flags.boolean({ description: 'then reload the dialplan table on the proxies (dialplan.reload)' }),
    'dry-run': dryRunFlag,
  };

  async run() {
    const db = await this.openDb();
    const f = this.flags;
    const change = await addDialplan(db, { dpid: this.args.dpid, match: this.args.match, replace: this.args.replace, matchOp: f['match-op'], subst: f.subst, priority: f.priority, attrs: f.attrs }, { dryRun: f['dry-run'] });
    const e = change.entries[0]!;
    this.print(`${change.dryRun ? 'would add' : 'added'} to dialplan ${e.dpid} (priority ${e.pr}): ${e.matchOp} "${e.matchExp}" → "${e.replExp}"`);
    if (!f.reload || change.dryRun) {
      if (!change.dryRun) this.note('the running proxy loads it on `sipctl dialplan reload` (or use --reload)');
      return change;
    }
    const reload = await dialplanReload(this.opContext());
    const json = { ...change, reload: resultJson(reload) };
    await this.finish(reload, { json: () => json });
    return json;
  }
}
