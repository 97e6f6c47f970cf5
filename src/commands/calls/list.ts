import { RpcCommand, envelope, rpcFlags, writeJson } from '../../cli/rpc-support.js';
import { renderTable, type Column } from '../../cli/output.js';
import { listCalls, type ActiveCall } from '../../core/calls/calls.js';
import { nodesError } from '../../core/proxy/node-set.js';
import { formatDuration } from '../../core/proxy/status.js';

type Row = ActiveCall & { node: string };

export default class CallsList extends RpcCommand<typeof CallsList> {
  static summary = 'List the active calls on the running proxies (dlg.list).';
  static description = 'One row per call: CALL-ID, FROM, TO, STATE (unconfirmed, early, answered, confirmed), CALLER (the subscriber whose active-calls limit it counts against), STARTED, DURATION since the answer, ENDS (when the maximum duration will end it). Works against sipd and Kamailio\'s dialog module alike. --json gives the calls with ISO times and the h_entry/h_id Kamailio needs for dlg.end_dlg.';
  static examples = ['<%= config.bin %> calls list', '<%= config.bin %> calls list --node all --json'];
  static flags = { ...rpcFlags };

  async run() {
    const nodes = this.nodeSet();
    const outcomes = await nodes.each((c) => listCalls(c));
    const rows: Row[] = outcomes.flatMap((o) => (o.ok ? o.value.map((c) => ({ ...c, node: o.node })) : []));
    const tty = this.out.tty;
    const cols: Array<Column<Row>> = [
      ...(nodes.multi ? [{ header: 'NODE', get: (r: Row) => r.node }] : []),
      { header: 'CALL-ID', get: (r) => r.callId },
      { header: 'FROM', get: (r) => r.from },
      { header: 'TO', get: (r) => r.to },
      { header: 'STATE', get: (r) => r.state },
      { header: 'CALLER', get: (r) => r.caller ?? '' },
      { header: 'STARTED', get: (r) => r.started },
      { header: 'DURATION', get: (r) => (tty ? formatDuration(r.duration) : r.duration) },
      { header: 'ENDS', get: (r) => r.endsAt ?? '' },
    ];
    if (rows.length > 0) this.print(await renderTable(rows, cols, this.out));
    else this.note('no active calls');
    const json = envelope(outcomes);
    const err = nodesError(outcomes, nodes.nodes.length);
    if (err) {
      if (this.jsonEnabled()) writeJson(json);
      throw err;
    }
    return json;
  }
}
