import { Flags } from '@oclif/core';
import { renderTable } from '../../cli/output.js';
import { RpcCommand, envelope, rpcFlags, writeJson } from '../../cli/rpc-support.js';
import { parseCount, recentAlerts } from '../../core/alerts/alerts.js';
import { nodesError } from '../../core/proxy/node-set.js';

export default class AlertsRecent extends RpcCommand<typeof AlertsRecent> {
  static summary = 'The last alerts sipd raised, newest first (alerts.recent).';
  static description = `One row per alert: TIME, TYPE, KEY (source IP, user, …), SEVERITY, SUPPRESSED (events of the same type and key held back by deduplication before it) and SUMMARY. sipd keeps the last alerts.recent_size (default 200) in memory; they do not survive a restart (the webhooks, exec hook and syslog have them).`;
  static examples = ['<%= config.bin %> alerts recent', '<%= config.bin %> alerts recent --limit 5 --json'];
  static flags = { ...rpcFlags, limit: Flags.string({ char: 'n', description: 'how many (1-10000)', default: '20' }) };

  async run() {
    const n = parseCount(this.flags.limit);
    const nodes = this.nodeSet();
    const outcomes = await nodes.each((c) => recentAlerts(c, n));
    const rows = outcomes.flatMap((o) => (o.ok ? o.value.map((a) => ({ ...a, node: o.node })) : []));
    if (rows.length > 0) {
      this.print(await renderTable(rows, [
        ...(nodes.multi ? [{ header: 'NODE', get: (r: (typeof rows)[number]) => r.node }] : []),
        { header: 'TIME', get: (r) => r.time },
        { header: 'TYPE', get: (r) => r.type },
        { header: 'KEY', get: (r) => r.key },
        { header: 'SEVERITY', get: (r) => r.severity },
        { header: 'SUPPRESSED', get: (r) => r.suppressed },
        { header: 'SUMMARY', get: (r) => r.summary },
      ], this.out));
    } else this.note('no alerts yet');
    const json = envelope(outcomes);
    const err = nodesError(outcomes, nodes.nodes.length);
    if (err) {
      if (this.jsonEnabled()) writeJson(json);
      throw err;
    }
    return json;
  }
}
