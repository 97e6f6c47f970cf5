/**
 * The To tag of a stateless reply is HMAC-SHA256 over Call-ID, From tag, CSeq number and top Via
 * branch (kernel/reply.ts): the precomputed-pad implementation must give createHmac's value, so
 * a retransmission answered before and after an upgrade carries the same tag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import type { SipRequest } from '../../../src/core/sip/message.js';
import { toTag } from '../../../src/daemon/kernel/reply.js';

function reference(req: SipRequest, key: Buffer): string {
  const h = createHmac('sha256', key);
  h.update(req.callId ?? '');
  h.update('\0');
  h.update(req.from?.tag ?? '');
  h.update('\0');
  h.update(String(req.cseq?.seq ?? ''));
  h.update('\0');
  h.update(req.via[0]?.branch ?? '');
  return h.digest('hex').slice(0, 24);
}

test('toTag: HMAC-SHA256 as createHmac computes it, for any key length and any field, also when absent', () => {
  const cases: Array<[string | undefined, string | undefined, number | undefined, string | undefined]> = [
    ['abc@192.0.2.1', 'f1', 7, 'z9hG4bK-1'],
    ['ünïcode€@x', 'tag', 1, 'z9hG4bK'],
    ['x'.repeat(5000), 'q', 2 ** 31 - 1, 'b'],
    [undefined, undefined, undefined, undefined],
  ];
  for (const key of [randomBytes(32), randomBytes(100), Buffer.alloc(0), Buffer.alloc(64, 3)]) {
    for (const [callId, tag, seq, branch] of cases) {
      const req = { callId, from: tag === undefined ? undefined : { tag }, cseq: seq === undefined ? undefined : { seq, method: 'REGISTER' }, via: branch === undefined ? [] : [{ branch }] } as unknown as SipRequest;
      assert.equal(toTag(req, key), reference(req, key));
      assert.equal(toTag(req, key), toTag(req, key));
    }
  }
});
