import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRpcUrl, maskUrl } from '../../../src/core/rpc/index.js';
import { JsonFrameScanner } from '../../../src/core/rpc/json-frame.js';

test('parseRpcUrl: the four schemes', () => {
  const h = parseRpcUrl('http://127.0.0.1:5071/RPC');
  assert.equal(h.kind, 'http');
  assert.equal(h.kind === 'http' && h.url.href, 'http://127.0.0.1:5071/RPC');
  const s = parseRpcUrl('https://admin:pw@proxy.example:8443/RPC?x=1');
  assert.ok(s.kind === 'http');
  assert.equal(s.url.href, 'https://proxy.example:8443/RPC?x=1'); // credentials stripped
  assert.deepEqual([s.username, s.password, s.display], ['admin', 'pw', 'https://admin:***@proxy.example:8443/RPC?x=1']);
  assert.deepEqual(parseRpcUrl('unix:/run/sipd/sipd.sock'), { kind: 'unix', path: '/run/sipd/sipd.sock', display: 'unix:/run/sipd/sipd.sock' });
  assert.deepEqual(parseRpcUrl('fifo:///run/kamailio/kamailio_rpc.fifo'), { kind: 'fifo', path: '/run/kamailio/kamailio_rpc.fifo', display: 'fifo:/run/kamailio/kamailio_rpc.fifo' });
  assert.equal(parseRpcUrl('HTTP://127.0.0.1/RPC').kind, 'http');
});

test('maskUrl hides passwords and token parameters, keeps the rest', () => {
  const cases: Array<[string, string]> = [
    ['http://u:p@h/RPC', 'http://u:***@h/RPC'],
    ['https://user:p%40ss:w@host:1/x', 'https://user:***@host:1/x'],
    ['http://user@host/RPC', 'http://user@host/RPC'],
    ['http://host/RPC?token=abc&x=1', 'http://host/RPC?token=***&x=1'],
    ['http://host/RPC?a=1&password=zz', 'http://host/RPC?a=1&password=***'],
    ['fifo:/run/kamailio/kamailio_rpc.fifo', 'fifo:/run/kamailio/kamailio_rpc.fifo'],
    ['ftp://a:b@c', 'ftp://a:***@c'],
  ];
  for (const [raw, want] of cases) assert.equal(maskUrl(raw), want, raw);
});

test('JsonFrameScanner finds the end of pretty and compact JSON across chunks', () => {
  const doc = Buffer.from('\n{\n\t"a":\t"}\\"{",\n\t"b":\t[1, {"c": "]"}]\n}trailing');
  for (const size of [1, 2, 3, 7, doc.length]) {
    const sc = new JsonFrameScanner();
    let end = -1;
    let consumed = 0;
    for (let i = 0; i < doc.length && end < 0; i += size) {
      const chunk = doc.subarray(i, i + size);
      const e = sc.push(chunk);
      if (e >= 0) end = consumed + e;
      consumed += chunk.length;
    }
    assert.equal(doc.subarray(0, end).toString(), '\n{\n\t"a":\t"}\\"{",\n\t"b":\t[1, {"c": "]"}]\n}', `chunk size ${size}`);
  }
  assert.throws(() => new JsonFrameScanner().push(Buffer.from('OK\n')), /does not start with a JSON object/);
  assert.equal(new JsonFrameScanner().push(Buffer.from('[]')), 2);
});
