import { Args } from '@oclif/core';
import { RpcCommand, dryRunFlag, envelope, rpcFlags, writeJson } from '../../cli/rpc-support.js';
import { renderTable } from '../../cli/output.js';
import { parseLimit, setUserLimit, userLimits } from '../../core/calls/calls.js';
import { UsageError } from '../../core/errors.js';
import { nodesError } from '../../core/proxy/node-set.js';

export default class CallsLimit extends RpcCommand<typeof CallsLimit> {
  static summary = 'Show or set the active-calls limit per subscriber (dialog.userLimits / dialog.setUserLimit).';
  static description = `Without arguments: the default (dialog.max_calls_per_user; 0 = none) and every subscriber with a limit of their own or a call in progress: USER, LIMIT (-1 = unlimited), SOURCE (rpc, config, default), ACTIVE.

With USER and N: from now on USER may have N calls at once as caller (0 = none at all, -1 or "unlimited" = no limit, "default" = back to the configured value). The next call over the limit gets 403 "No more active calls". Set on every node; kept across restarts in sipd's state directory.`;
  static examples = ['<%= config.bin %> calls limit', '<%= config.bin %> calls limit alice 2', '<%= config.bin %> calls limit alice default'];
  static args = {
    user: Args.string({ description: 'subscriber' }),
    limit: Args.string({ description: 'calls at once: a number, 0, -1 / unlimited, or default' }),
  };
  static flags = { ...rpcFlags, 'dry-run': dryRunFlag };

  async run() {
    const nodes = this.nodeSet();
    if (this.args.user !== undefined) {
      if (this.args.limit === undefined) throw new UsageError('MISSING_ARGUMENT', 'give the limit too: sipctl calls limit USER N');
      const n = parseLimit(this.args.limit);
      const user = this.args.user;
      const dryRun = this.flags['dry-run'];
      // --dry-run: the user's current entry, with the limit it would get (a number; "default" stays a word)
      const preview = async (c: Parameters<typeof userLimits>[0]) => {
        const cur = (await userLimits(c)).users.find((u) => u.user === user);
        return { user, limit: n === 'default' ? (cur?.limit ?? -1) : n, source: n === 'default' ? ('default' as const) : ('rpc' as const), active: cur?.active ?? 0, dryRun: true };
      };
      const outcomes = await nodes.each((c) => (dryRun ? preview(c) : setUserLimit(c, user, n)));
      const json = envelope(outcomes);
      const err = nodesError(outcomes, nodes.nodes.length);
      if (err) {
        if (this.jsonEnabled()) writeJson(json);
        throw err;
      }
      const v = outcomes.find((o) => o.ok);
      if (v?.ok) this.print(`${dryRun ? 'would set ' : ''}${v.value.user}: ${v.value.limit < 0 ? 'no limit' : `at most ${v.value.limit} call(s) at once`} (${v.value.active} active)`);
      return json;
    }
    const outcomes = await nodes.each((c) => userLimits(c));
    const rows = outcomes.flatMap((o) => (o.ok ? o.value.users.map((u) => ({ ...u, node: o.node })) : []));
    for (const o of outcomes) if (o.ok) this.note(`${nodes.multi ? `${o.node}: ` : ''}default: ${o.value.default === 0 ? 'no limit' : `${o.value.default} call(s) at once`}`);
    if (rows.length > 0) {
      this.print(await renderTable(rows, [
        ...(nodes.multi ? [{ header: 'NODE', get: (r: (typeof rows)[number]) => r.node }] : []),
        { header: 'USER', get: (r) => r.user },
        { header: 'LIMIT', get: (r) => r.limit },
        { header: 'SOURCE', get: (r) => r.source },
        { header: 'ACTIVE', get: (r) => r.active },
      ], this.out));
    }
    const json = envelope(outcomes);
    const err = nodesError(outcomes, nodes.nodes.length);
    if (err) {
      if (this.jsonEnabled()) writeJson(json);
      throw err;
    }
    return json;
  }
}
