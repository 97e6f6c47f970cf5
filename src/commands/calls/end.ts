import { Args } from '@oclif/core';
import { RpcCommand, dryRunFlag, envelope, rpcFlags, writeJson, yesFlag } from '../../cli/rpc-support.js';
import { endCall, listCalls, type EndedCall } from '../../core/calls/calls.js';
import { NotFoundError } from '../../core/errors.js';
import { nodesError, type NodeOutcome } from '../../core/proxy/node-set.js';

export default class CallsEnd extends RpcCommand<typeof CallsEnd> {
  static summary = 'End an active call: BYE to both sides (dlg.end_dlg).';
  static description = 'Asks first on a terminal; scripts pass --yes. Finds the call by its Call-ID in dlg.list and ends it with dlg.end_dlg (the proxy sends BYE to the caller and to the callee; the CDR records end reason "rpc"). With several nodes, the node that holds the call ends it; a Call-ID no node knows is exit code 3. On a sipd cluster (sipd --cluster) any one node reaches the call wherever it runs: when the node asked does not hold it, sipctl falls back to sipd\'s dialog.endCall, and the node that owns the call sends the BYEs (exit 3 when no node holds it, an RPC error when the owner does not answer).';
  static examples = ['<%= config.bin %> calls end 8a1f3c@10.0.0.5 --yes   # needs: an active call with this Call-ID', '<%= config.bin %> calls end 8a1f3c@10.0.0.5 --node all --dry-run   # needs: an active call with this Call-ID'];
  static args = { callid: Args.string({ description: 'the Call-ID (see `sipctl calls list`)', required: true }) };
  static flags = { ...rpcFlags, yes: yesFlag, 'dry-run': dryRunFlag };

  async run() {
    const nodes = this.nodeSet();
    const callId = this.args.callid;
    const dryRun = this.flags['dry-run'];
    await this.confirmDestructive(`End call ${callId} (BYE to both sides)?`);
    // --dry-run: only find the call's dialogs, as endCall would
    const preview = async (c: Parameters<typeof endCall>[0]): Promise<EndedCall> => {
      const n = (await listCalls(c)).filter((d) => d.callId === callId && d.state !== 'deleted').length;
      if (n === 0) throw new NotFoundError('CALL_NOT_FOUND', `no active call with Call-ID ${callId}`, 'see `sipctl calls list`');
      return { callId, ended: n };
    };
    let outcomes: Array<NodeOutcome<EndedCall>> = await nodes.each((c) => (dryRun ? preview(c) : endCall(c, callId)));
    // with several nodes the call lives on one: "not found" elsewhere is expected (ended: 0)
    const notFound = (o: NodeOutcome<EndedCall>) => !o.ok && o.error.code === 'CALL_NOT_FOUND';
    if (outcomes.length > 1 && !outcomes.every(notFound)) outcomes = outcomes.map((o) => (notFound(o) ? { node: o.node, ok: true, value: { callId, ended: 0 } } : o));
    const json = envelope(outcomes, [], (v) => ({ ...v, ...(dryRun ? { dryRun: true } : {}) }));
    const err = nodesError(outcomes, outcomes.length);
    if (err) {
      if (this.jsonEnabled()) writeJson(json);
      throw err;
    }
    const ended = outcomes.reduce((n, o) => n + (o.ok ? o.value.ended : 0), 0);
    this.print(`${dryRun ? 'would end' : 'ended'} ${callId}${ended > 1 ? ` (${ended} dialogs)` : ''}: BYE ${dryRun ? 'to' : 'sent to'} both sides`);
    return json;
  }
}
