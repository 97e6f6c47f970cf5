import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  callMethod, flattenAddressDump, flattenHtableDump, flattenUlDump, ulDumpAors,
  type AddressDumpResult, type HtableDumpResult, type HtableGetResult, type HtableListTablesResult,
  type UlDumpBriefResult, type UlDumpResult, type CoreUptimeResult,
} from '../../../src/core/rpc/index.js';
import { recordedHttp, recordedFifo, recordedDgram, parseRecorded } from './recorded.js';

const http = <T>(label: string): T => parseRecorded<T>(recordedHttp(label).body);

test('flattenUlDump on the recorded ul.dump', () => {
  const rows = flattenUlDump(http<UlDumpResult>('ul.dump'));
  assert.equal(rows.length, 3);
  assert.deepEqual(rows[0], {
    domain: 'location',
    aor: '1002',
    contact: 'sip:1002@127.0.0.1:5093',
    expires: 2950,
    received: null, // "[not set]"
    userAgent: 'sipsak 0.9.8.1',
    lastModified: 1795238853,
    callId: '38360799@127.0.0.1',
    cseq: 2,
    q: null, // Q -1
    ruid: 'uloc-6b012baf-224c-1',
    socket: 'udp:127.0.0.1:5060',
  });
  assert.deepEqual(rows.map((r) => r.aor), ['1002', '1001', '61312341234']);
  assert.deepEqual(rows.map((r) => r.contact), ['sip:1002@127.0.0.1:5093', 'sip:1001@127.0.0.1:5092', 'sip:61312341234@127.0.0.1:5091']);
});

test('flattenUlDump keeps Kamailio\'s special Expires values and real q/received', () => {
  const dump = http<UlDumpResult>('ul.dump');
  const c = dump.Domains[0]!.Domain.AoRs[0]!.Info.Contacts[0]!.Contact;
  c.Expires = 'permanent';
  c.Q = 0.5;
  c.Received = 'sip:192.0.2.1:5060';
  c.Socket = '[not set]';
  const row = flattenUlDump(dump)[0]!;
  assert.equal(row.expires, 'permanent');
  assert.equal(row.q, 0.5);
  assert.equal(row.received, 'sip:192.0.2.1:5060');
  assert.equal(row.socket, null);
});

test('ul.dump brief: no contact rows, AoRs via ulDumpAors', () => {
  const brief = http<UlDumpBriefResult>('ul.dump brief');
  assert.deepEqual(flattenUlDump(brief), []);
  assert.deepEqual(ulDumpAors(brief), ['1002', '1001', '61312341234']);
  assert.deepEqual(ulDumpAors(http<UlDumpResult>('ul.dump')), ['1002', '1001', '61312341234']);
  assert.deepEqual(ulDumpAors(parseRecorded<UlDumpBriefResult>(recordedFifo('ul.dump brief'))), ['1002', '1001', '61312341234']);
});

test('flattenHtableDump on recorded dumps (HTTP and FIFO), including the empty table', () => {
  assert.deepEqual(flattenHtableDump(http<HtableDumpResult>('htable.dump ipban')), [{ name: '1.2.3.4', value: 1, type: 'int' }]);
  assert.deepEqual(flattenHtableDump(http<HtableDumpResult>('extra params (htable.dump ipban extra)')), [
    { name: '1.1.1.2', value: 0, type: 'int' },
    { name: '1.1.1.1', value: 0, type: 'int' },
    { name: '5.6.7.8', value: 1, type: 'int' },
    { name: '1.2.3.4', value: 1, type: 'int' },
  ]);
  assert.deepEqual(flattenHtableDump(http<HtableDumpResult>('htable.dump MessageCount (empty table)')), []);
  assert.equal(flattenHtableDump(parseRecorded<HtableDumpResult>(recordedFifo('htable.dump ipban'))).length, 4);
  // a str value, shaped as kamcmd_htable.dump_MessageCount.txt shows it
  assert.deepEqual(flattenHtableDump([{ entry: 201, size: 1, slot: [{ name: 'ExampleAdd', value: 'Iamastring', type: 'str' }] }]),
    [{ name: 'ExampleAdd', value: 'Iamastring', type: 'str' }]);
});

test('flattenAddressDump on the recorded permissions.addressDump', () => {
  assert.deepEqual(flattenAddressDump(http<AddressDumpResult>('permissions.addressDump')), [
    { group: 200, ip: '10.0.1.102', port: 5060, tag: 'Carrier IP address' },
  ]);
  assert.deepEqual(flattenAddressDump(parseRecorded<AddressDumpResult>(recordedFifo('permissions.addressDump'))), [
    { group: 200, ip: '10.0.1.102', port: 5060, tag: 'Carrier IP address' },
  ]);
  assert.deepEqual(flattenAddressDump([{ table: 3, group: 1, item: { ip: '192.0.2.7', port: 0, tag: 'NULL' } }]),
    [{ group: 1, ip: '192.0.2.7', port: 0, tag: null }]);
  assert.deepEqual(flattenAddressDump(http<AddressDumpResult>('permissions.subnetDump (empty)')), []);
});

test('recorded shapes of the other typed methods', () => {
  const get = http<HtableGetResult>('htable.get ipban 1.2.3.4');
  assert.deepEqual(get, { item: { name: '1.2.3.4', value: 1, flags: 0, expire: '2026-11-21 05:43:23' } });
  assert.equal(parseRecorded<HtableGetResult>(recordedDgram('htable.get ipban 1.2.3.4')).item.expire, '2026-11-21 05:43:23');
  const tables = http<HtableListTablesResult>('htable.listTables');
  assert.deepEqual(tables.map((t) => [t.name, t.expire, t.size]), [['MessageCount', 0, 256], ['userban', 900, 256], ['ipban', 300, 256]]);
  assert.deepEqual(Object.keys(tables[0]!).sort(), ['dbmode', 'dbtable', 'dmqreplicate', 'expire', 'name', 'size', 'updateexpire']);
  const up = http<CoreUptimeResult>('core.uptime');
  assert.deepEqual(Object.keys(up), ['now', 'up_since', 'uptime']);
  assert.equal(http<string>('core.version'), 'kamailio 5.6.3 (x86_64/linux) ');
  const methods = http<string[]>('system.listMethods (trimmed in RESULTS)');
  assert.equal(methods.length, 147);
  for (const m of ['ul.dump', 'htable.dump', 'htable.get', 'htable.listTables', 'permissions.addressDump', 'core.version', 'core.uptime', 'system.listMethods']) {
    assert.ok(methods.includes(m), m);
  }
});

test('callMethod passes positional params and omits empty ones', async () => {
  const calls: Array<[string, unknown]> = [];
  const fake = {
    call: async <T>(method: string, params?: unknown): Promise<T> => {
      calls.push([method, params]);
      return (method === 'htable.dump' ? [] : 'kamailio') as T;
    },
  };
  const dump: HtableDumpResult = await callMethod(fake, 'htable.dump', 'ipban');
  const version: string = await callMethod(fake, 'core.version');
  assert.deepEqual(dump, []);
  assert.equal(version, 'kamailio');
  assert.deepEqual(calls, [['htable.dump', ['ipban']], ['core.version', undefined]]);
});
