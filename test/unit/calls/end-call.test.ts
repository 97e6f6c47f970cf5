// endCall (sipctl calls end): dlg.list first (Kamailio's and sipd's way); when the node asked holds
// no such call, sipd's dialog.endCall (in a cluster, the node that owns the call ends it). Kamailio
// answers that with "Method Not Found" and sipd without the call with 404: both are "not found",
// exit 3; any other fault (the owner did not answer) stays what it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endCall } from '../../../src/core/calls/calls.js';
import { remoteError, type RpcClient } from '../../../src/core/rpc/client.js';

function client(answers: Record<string, (params: unknown) => unknown>): RpcClient & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async call<T>(method: string, params?: unknown): Promise<T> {
      calls.push(method);
      const f = answers[method];
      if (f === undefined) throw remoteError(method, 500, 'Method Not Found', undefined, 'test');
      return (await f(params)) as T;
    },
  } as unknown as RpcClient & { calls: string[] };
}

const DLG = { h_entry: 7, h_id: 1, 'call-id': 'c1@x', from_uri: 'sip:a@x', to_uri: 'sip:b@x', state: 4, start_ts: 1, init_ts: 1, timeout: 0 };

test('a call the node holds: dlg.end_dlg, no dialog.endCall', async () => {
  const c = client({ 'dlg.list': () => [DLG], 'dlg.end_dlg': () => null });
  assert.deepEqual(await endCall(c, 'c1@x'), { callId: 'c1@x', ended: 1 });
  assert.deepEqual(c.calls, ['dlg.list', 'dlg.end_dlg']);
});

test('a call another cluster node owns: dialog.endCall ends it there', async () => {
  const c = client({ 'dlg.list': () => [], 'dialog.endCall': (p) => ({ callId: (p as string[])[0], ended: 1, node: 'node-a' }) });
  assert.deepEqual(await endCall(c, 'c1@x'), { callId: 'c1@x', ended: 1 });
  assert.deepEqual(c.calls, ['dlg.list', 'dialog.endCall']);
});

test('no node holds it: Kamailio ("Method Not Found") and sipd (404) are both CALL_NOT_FOUND; other faults pass through', async () => {
  await assert.rejects(endCall(client({ 'dlg.list': () => [] }), 'c1@x'), (e: Error & { code?: string }) => e.code === 'CALL_NOT_FOUND');
  const sipd = client({ 'dlg.list': () => [], 'dialog.endCall': () => { throw remoteError('dialog.endCall', 404, 'Dialog not found', undefined, 'test'); } });
  await assert.rejects(endCall(sipd, 'c1@x'), (e: Error & { code?: string }) => e.code === 'CALL_NOT_FOUND');
  const silent = client({ 'dlg.list': () => [], 'dialog.endCall': () => { throw remoteError('dialog.endCall', 504, 'Node node-a did not answer', undefined, 'test'); } });
  await assert.rejects(endCall(silent, 'c1@x'), (e: Error & { code?: string }) => e.code === 'RPC_ERROR' && /did not answer/.test(e.message));
});
