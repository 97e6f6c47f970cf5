import { Args } from '@oclif/core';
import { renderTable } from '../../cli/output.js';
import { RpcCommand, envelope, rpcFlags, writeJson } from '../../cli/rpc-support.js';
import { checkUser, usageOf } from '../../core/limits/limits.js';
import { nodesError } from '../../core/proxy/node-set.js';

export default class LimitsShow extends RpcCommand<typeof LimitsShow> {
  static summary = "A subscriber's usage today and this month against its limits (limits.usage).";
  static description = "One row per limit: LIMIT, USED, MAX ('-' = no limit). The usage is sipd's: the day's and month's CDRs plus the calls running now, so it asks the proxy (several with --rpc or --node, one row set each). Days and months are UTC.";
  static examples = ['<%= config.bin %> limits show alice', '<%= config.bin %> limits show alice --json'];
  static args = { user: Args.string({ description: "subscriber user name, or '*'", required: true }) };
  static flags = { ...rpcFlags };

  async run() {
    const user = checkUser(this.args.user);
    const nodes = this.nodeSet();
    const outcomes = await nodes.each((c) => usageOf(c, user));
    const rows = outcomes.flatMap((o) => {
      if (!o.ok) return [];
      const u = o.value;
      const max = (v: number | null) => (v === null ? '-' : String(v));
      return [
        { node: o.node, limit: 'calls/day', used: String(u.used.calls), max: max(u.limits.callsPerDay) },
        { node: o.node, limit: 'minutes/day', used: String(u.used.minutes), max: max(u.limits.minutesPerDay) },
        { node: o.node, limit: `cost/day (${u.currency})`, used: String(u.used.costDay), max: max(u.limits.costPerDay) },
        { node: o.node, limit: `cost/month (${u.currency})`, used: String(u.used.costMonth), max: max(u.limits.costPerMonth) },
      ];
    });
    if (rows.length > 0) {
      this.print(await renderTable(rows, [
        ...(nodes.multi ? [{ header: 'NODE', get: (r: (typeof rows)[number]) => r.node }] : []),
        { header: 'LIMIT', get: (r) => r.limit },
        { header: 'USED', get: (r) => r.used },
        { header: 'MAX', get: (r) => r.max },
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
