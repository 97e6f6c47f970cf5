import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKamcmdParams, parseKamcmdParam, RpcError } from '../../../src/core/rpc/index.js';

test('kamcmd-style parameter typing', () => {
  const table: Array<[string, unknown]> = [
    ['i:5', 5],
    ['i:-12', -12],
    ['i:+7', 7],
    ['i:4294967295', 4294967295],
    ['i:-0', 0],
    ['s:007', '007'],
    ['s:5', '5'],
    ['s:', ''],
    ['s:s:x', 's:x'],
    ['s:i:5', 'i:5'],
    ['d:1.5', 1.5],
    ['f:1.5', 1.5],
    ['d:-2', -2],
    ['d:1e3', 1000],
    ['d:.5', 0.5],
    ['j:{"a":1}', { a: 1 }],
    ['j:[1,"x"]', [1, 'x']],
    ['j:null', null],
    ['j:"str"', 'str'],
    ['5', 5],
    ['-3', -3],
    ['0', 0],
    ['007', 7], // as kamcmd (strtol); use s:007 to keep the zeros
    ['2147483647', 2147483647],
    ['2147483648', '2147483648'], // beyond C int: kept as a string
    ['61312341234', '61312341234'], // E.164-style user names survive
    ['1.5', '1.5'], // only integers are numbers when bare
    ['1.2.3.4', '1.2.3.4'],
    ['ipban', 'ipban'],
    ['', ''],
    ['brief', 'brief'],
    ['x:5', 'x:5'],
    ['I:5', 'I:5'],
    ['0x10', '0x10'],
    [' 5', ' 5'],
    ['sip:1001@example.com', 'sip:1001@example.com'],
  ];
  for (const [arg, want] of table) assert.deepEqual(parseKamcmdParam(arg), want, arg);
  assert.deepEqual(parseKamcmdParams(['ipban', '1.2.3.4', '1']), ['ipban', '1.2.3.4', 1]);
  assert.deepEqual(parseKamcmdParams([]), []);
});

test('invalid typed parameters are usage errors naming the position', () => {
  const bad: Array<[string[], number]> = [
    [['i:abc'], 1],
    [['ok', 'i:1.5'], 2],
    [['i:'], 1],
    [['i:4294967296'], 1],
    [['i:-2147483649'], 1],
    [['a', 'b', 'd:abc'], 3],
    [['f:1,5'], 1],
    [['d:'], 1],
    [['j:{bad json}'], 1],
    [['j:'], 1],
  ];
  for (const [args, position] of bad) {
    assert.throws(() => parseKamcmdParams(args), (e: unknown) => {
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, 'RPC_BAD_PARAM');
      assert.equal(e.category, 'usage');
      assert.equal(e.details?.position, position);
      assert.match(e.message, new RegExp(`^parameter ${position} `));
      return true;
    }, args.join(' '));
  }
});
