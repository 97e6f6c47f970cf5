import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, readFileSync } from 'node:fs';
import { createCipheriv, randomBytes } from 'node:crypto';
import {
  createSimParser,
  decryptTransportColumns,
  detectFormat,
  parseSimCsv,
  parseSimStream,
  parseSimText,
  parseVendorFile,
  splitCsvLine,
  type ParsedLine,
} from '../../../src/core/sim/vendor-file.js';
import { deriveOpc } from '../../../src/core/sim/milenage.js';
import { normaliseIccid, normaliseImsi, normaliseKey } from '../../../src/core/sim/validation.js';
import { ValidationError } from '../../../src/core/errors.js';

const fixture = (name: string) => new URL(`../../fixtures/sim/${name}`, import.meta.url);
const read = (name: string) => readFileSync(fixture(name), 'utf8');
/** The operator OP the fixture cards were personalised with. */
const FIXTURE_OP = Buffer.from('63bfa50ee6523365ff14c1f45f88737d', 'hex');

const records = (items: ParsedLine[]) => items.filter((i) => i.record);
const errors = (items: ParsedLine[]) => items.filter((i) => i.error);

test('detectFormat tells vendor files from CSV', () => {
  assert.equal(detectFormat(read('vendor-5.out')), 'vendor');
  assert.equal(detectFormat(read('sims-opc.csv')), 'csv');
  assert.equal(detectFormat(read('sims-op.csv')), 'csv');
  assert.equal(detectFormat('\n# comment\nvar_out: IMSI/KI\n'), 'vendor');
  assert.equal(detectFormat('Customer: X\n'), 'vendor');
  assert.equal(detectFormat('\uFEFFimsi,ki\r\n'), 'csv');
  assert.equal(detectFormat('hello world\n'), 'unknown');
  assert.equal(detectFormat(''), 'unknown');
});

test('vendor file: header block, var_out and every row with real derived OPc values', () => {
  const items = [...parseVendorFile(read('vendor-5.out'))];
  assert.deepEqual(errors(items), []);
  const recs = records(items);
  assert.equal(recs.length, 5);
  assert.deepEqual(recs.map((r) => r.line), [19, 20, 21, 22, 23]);
  assert.deepEqual(recs[0].record, {
    iccid: '8944012401000010014',
    imsi: '001010000000001',
    ki: '05FA9808D0B21D95DFB9A45D5E4FF46D',
    opc: '1B9C64EEDF6AD64B8631EBA7BF0211DE',
    batch: 'EXN2401',
  });
  for (const { record } of recs) {
    const r = record!;
    // Raw values are not yet validated; the normalisers accept every one of them.
    normaliseImsi(r.imsi!);
    normaliseIccid(r.iccid!);
    const ki = normaliseKey('ki', r.ki!);
    const opc = normaliseKey('opc', r.opc!);
    assert.equal(deriveOpc(Buffer.from(ki, 'hex'), FIXTURE_OP).toString('hex'), opc, `OPc of ${r.imsi}`);
  }
});

test('vendor file: the push parser exposes the header and var_In block', () => {
  const p = createSimParser('vendor');
  read('vendor-5.out').split('\n').forEach((l, k) => p.push(l, k + 1));
  assert.deepEqual(p.end(), []);
  assert.equal(p.header.customer, 'Example Networks Ltd');
  assert.equal(p.header.quantity, '5');
  assert.equal(p.header.transport_key, '1');
  assert.equal(p.header.po_ref, 'PO-2024-0117');
  assert.equal(p.inputVariables.imsi, '001010000000001');
  assert.equal(p.header.imsi, undefined, 'var_In values do not leak into the header');
  assert.deepEqual(p.varOut, ['ICCID', 'IMSI', 'PIN1', 'PUK1', 'PIN2', 'PUK2', 'Ki', 'OPC', 'ADM1']);
  assert.equal(p.rowsRead, 5);
});

test('vendor file: a truncated file gives a per-line error and a Quantity problem, not a crash', () => {
  const items = [...parseSimText(read('vendor-truncated.out'))];
  assert.equal(records(items).length, 3);
  const errs = errors(items);
  assert.equal(errs.length, 2);
  assert.equal(errs[0].line, 22);
  assert.equal(errs[0].fileLevel, undefined);
  assert.match(errs[0].error!, /expected 9 fields \(ICCID\/IMSI\/PIN1\/PUK1\/PIN2\/PUK2\/Ki\/OPC\/ADM1\), got 8: truncated line\?/);
  assert.equal(errs[1].fileLevel, true);
  assert.equal(errs[1].line, 3, 'points at the Quantity header');
  assert.match(errs[1].error!, /Quantity header says 5 cards but 4 rows were read/);
  // The truncated value never reaches a record.
  assert.ok(!JSON.stringify(items).includes('"F739333"'));
});

test('vendor file: var_out separators, case, ignored columns, missing var_out and missing columns', () => {
  const ki = '05fa9808d0b21d95dfb9a45d5e4ff46d', opc = '1b9c64eedf6ad64b8631eba7bf0211de';
  const text = `Quantity: 1\nvar_out:iccid imsi/Ki   Pin1/OPc/msisdn/AMF/sqn\n8944012401000010014 001010000000001 ${ki} 1234 ${opc} 447700900001 8000 000000000020\n`;
  const items = [...parseVendorFile(text)];
  assert.deepEqual(items, [{
    line: 3,
    record: { iccid: '8944012401000010014', imsi: '001010000000001', ki, opc, msisdn: '447700900001', amf: '8000', sqn: '000000000020' },
  }]);

  const noVarOut = [...parseVendorFile('Customer: X\nQuantity: 1\n')];
  assert.deepEqual(noVarOut, [{ line: 2, error: 'no var_out line: not a complete vendor output file', fileLevel: true }]);

  const noKi = [...parseVendorFile('var_out: ICCID/IMSI/PIN1\n1 2 3\n')];
  assert.equal(noKi.length, 1);
  assert.equal(noKi[0].fileLevel, true);
  assert.match(noKi[0].error!, /var_out lacks KI/);

  const junk = [...parseVendorFile('Customer: X\nthis is not a header\nvar_out: IMSI/KI\n001010000000001 ' + ki + '\n')];
  assert.equal(junk[0].line, 2);
  assert.match(junk[0].error!, /unexpected line before var_out/);
  assert.equal(records(junk).length, 1);

  const badQty = [...parseVendorFile('Quantity: lots\nvar_out: IMSI/KI\n001010000000001 ' + ki + '\n')];
  assert.match(errors(badQty)[0].error!, /Quantity header "lots" is not a whole number/);

  const tooMany = [...parseVendorFile('var_out: IMSI/KI\n001010000000001 ' + ki + ' extra\n')];
  assert.equal(tooMany[0].error, 'expected 2 fields (IMSI/KI), got 3');
});

test('CSV with opc: quotes, comments, empty fields, case-insensitive header', () => {
  const items = [...parseSimText(read('sims-opc.csv'))];
  assert.deepEqual(errors(items), []);
  assert.deepEqual(items, [
    {
      line: 3,
      record: {
        imsi: '001010000000001', iccid: '8944012401000010014', msisdn: '+447700900001',
        ki: '05fa9808d0b21d95dfb9a45d5e4ff46d', opc: '1b9c64eedf6ad64b8631eba7bf0211de',
        amf: '8000', sqn: '000000000020', batch: 'EXN2401', vendor: 'Example Cards, Inc.',
      },
    },
    {
      line: 4,
      record: {
        imsi: '001010000000002', iccid: '8944012401000010022',
        ki: '365D1595EAB834185711DAC20EFE727C', opc: '06B438A50B92A55B2C839C94CFCA84A9',
        amf: '8000', batch: 'EXN2401', vendor: 'Example Cards, Inc.',
      },
    },
  ]);
});

test('CSV with op instead of opc: OPc derived from it matches the vendor file', () => {
  const items = [...parseSimCsv(read('sims-op.csv'))];
  assert.equal(records(items).length, 2);
  const vendor = new Map(records([...parseVendorFile(read('vendor-5.out'))]).map((i) => [i.record!.imsi, i.record!]));
  for (const { record } of items) {
    assert.equal(record!.opc, undefined);
    const opc = deriveOpc(Buffer.from(record!.ki!, 'hex'), Buffer.from(record!.op!, 'hex')).toString('hex');
    assert.equal(opc, vendor.get(record!.imsi)!.opc!.toLowerCase());
  }
});

test('CSV: unknown, duplicate and missing columns are file-level errors naming them', () => {
  const unknown = [...parseSimCsv('imsi,ki,colour,pin1\n001010000000001,x,red,1234\n')];
  assert.equal(unknown.length, 1, 'rows after a bad header are not parsed');
  assert.equal(unknown[0].fileLevel, true);
  assert.equal(unknown[0].line, 1);
  assert.match(unknown[0].error!, /unknown columns "colour", "pin1"/);

  assert.match([...parseSimCsv('imsi,ki,KI\n')][0].error!, /duplicate column ki/);
  assert.match([...parseSimCsv('# c\nimsi,opc\n')][0].error!, /missing required column ki/);
  assert.deepEqual([...parseSimCsv('# only a comment\n')], [{ line: 1, error: 'no header row: the file is empty or holds only comments', fileLevel: true }]);
});

test('CSV: per-line errors for wrong field counts and bad quoting; the rest still parse', () => {
  const text = 'imsi,ki\n001010000000001,aa\n001010000000002\n"001010000000003,bb\n"0010100000004"x,cc\n001010000000005,"dd"\n';
  const items = [...parseSimCsv(text)];
  assert.deepEqual(items, [
    { line: 2, record: { imsi: '001010000000001', ki: 'aa' } },
    { line: 3, error: 'expected 2 fields (imsi,ki), got 1' },
    { line: 4, error: 'unterminated double quote' },
    { line: 5, error: 'unexpected character after closing quote in field 1' },
    { line: 6, record: { imsi: '001010000000005', ki: 'dd' } },
  ]);
});

test('splitCsvLine: quotes, escaped quotes, trailing empty field', () => {
  assert.deepEqual(splitCsvLine('a, "b, c" ,"say ""hi""",'), { fields: ['a', 'b, c', 'say "hi"', ''] });
  assert.deepEqual(splitCsvLine(''), { fields: [''] });
});

test('unknown format is one file-level error', () => {
  assert.deepEqual([...parseSimText('\nhello world\nmore\n')], [{
    line: 2,
    error: 'unrecognised file format: expected a CSV header row naming imsi, ki, … or a vendor output file with a var_out line',
    fileLevel: true,
  }]);
});

test('parseSimStream over a file stream gives the same items as parseSimText', async () => {
  for (const name of ['vendor-5.out', 'vendor-truncated.out', 'sims-opc.csv', 'sims-op.csv']) {
    const streamed: ParsedLine[] = [];
    for await (const item of parseSimStream(createReadStream(fixture(name), { highWaterMark: 7 }))) streamed.push(item);
    assert.deepEqual(streamed, [...parseSimText(read(name))], name);
  }
});

test('parseSimStream: chunks split inside UTF-8 characters and CRLF line ends', async () => {
  const text = 'Customer : Société Générale\r\nQuantity : 1\r\nvar_out: IMSI/KI\r\n001010000000001 05fa9808d0b21d95dfb9a45d5e4ff46d\r\n';
  const bytes = Buffer.from(text, 'utf8');
  const chunks = Array.from({ length: bytes.length }, (_, k) => bytes.subarray(k, k + 1));
  const items: ParsedLine[] = [];
  const p = createSimParser('vendor');
  for await (const item of parseSimStream(chunks)) items.push(item);
  assert.deepEqual(items, [{ line: 4, record: { imsi: '001010000000001', ki: '05fa9808d0b21d95dfb9a45d5e4ff46d' } }]);
  text.split('\r\n').forEach((l, k) => p.push(l, k + 1));
  assert.equal(p.header.customer, 'Société Générale');
});

test('streaming 100,000 rows yields one record per row', async () => {
  const ki = '05fa9808d0b21d95dfb9a45d5e4ff46d', opc = '1b9c64eedf6ad64b8631eba7bf0211de';
  function* chunks() {
    yield 'Quantity: 100000\nvar_out: IMSI/KI/OPC\n';
    for (let n = 0; n < 100_000; n += 1000) {
      let s = '';
      for (let k = n; k < n + 1000; k++) s += `00101${String(k).padStart(10, '0')} ${ki} ${opc}\n`;
      yield s;
    }
  }
  let count = 0, errs = 0, last = 0;
  for await (const item of parseSimStream(chunks())) {
    if (item.record) { count++; last = item.line; } else errs++;
  }
  assert.equal(count, 100_000);
  assert.equal(errs, 0);
  assert.equal(last, 100_002);
});

// ---------------------------------------------------------------------------------------------

function encryptBlock(mode: 'ecb' | 'cbc', key: Buffer, iv: Buffer | null, hexPlain: string): string {
  const c = createCipheriv(mode === 'ecb' ? 'aes-128-ecb' : 'aes-128-cbc', key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.from(hexPlain, 'hex')), c.final()]).toString('hex').toUpperCase();
}

test('transport key: ECB round trip on ki and opc (the defaults), other columns untouched', () => {
  const key = randomBytes(16);
  const row = { imsi: '001010000000001', ki: '05fa9808d0b21d95dfb9a45d5e4ff46d', opc: '1b9c64eedf6ad64b8631eba7bf0211de', op: '63bfa50ee6523365ff14c1f45f88737d' };
  const enc = { ...row, ki: encryptBlock('ecb', key, null, row.ki), opc: encryptBlock('ecb', key, null, row.opc) };
  assert.notEqual(enc.ki.toLowerCase(), row.ki);
  const before = { ...enc };
  const dec = decryptTransportColumns(enc, { key });
  assert.deepEqual(dec, row);
  assert.deepEqual(enc, before, 'input row not modified');
});

test('transport key: CBC round trip, each value decrypted on its own with the same IV', () => {
  const key = randomBytes(16), iv = randomBytes(16);
  const row = { imsi: '001010000000001', ki: '05fa9808d0b21d95dfb9a45d5e4ff46d', opc: '1b9c64eedf6ad64b8631eba7bf0211de', op: '63bfa50ee6523365ff14c1f45f88737d' };
  const enc = {
    imsi: row.imsi,
    ki: encryptBlock('cbc', key, iv, row.ki),
    opc: encryptBlock('cbc', key, iv, row.opc),
    op: encryptBlock('cbc', key, iv, row.op),
  };
  assert.deepEqual(decryptTransportColumns(enc, { key, mode: 'cbc', iv, columns: ['ki', 'opc', 'op'] }), row);
  // Only the columns asked for are decrypted; absent ones are skipped.
  const onlyKi = decryptTransportColumns({ imsi: row.imsi, ki: enc.ki }, { key, mode: 'cbc', iv, columns: ['ki', 'opc'] });
  assert.deepEqual(onlyKi, { imsi: row.imsi, ki: row.ki });
});

test('transport key: a vendor row round-trips through parse + decrypt', () => {
  const key = randomBytes(16);
  const ki = '05fa9808d0b21d95dfb9a45d5e4ff46d', opc = '1b9c64eedf6ad64b8631eba7bf0211de';
  const text = `Transport_key : 3\nvar_out: IMSI/KI/OPC\n001010000000001 ${encryptBlock('ecb', key, null, ki)} ${encryptBlock('ecb', key, null, opc)}\n`;
  const [item] = [...parseVendorFile(text)];
  assert.deepEqual(decryptTransportColumns(item.record!, { key, mode: 'ecb' }), { imsi: '001010000000001', ki, opc });
});

test('transport key: bad key, IV, mode or value length are ValidationErrors', () => {
  const key = randomBytes(16);
  const is = (field: string, re: RegExp) => (e: unknown) => e instanceof ValidationError && e.field === field && re.test(e.message);
  assert.throws(() => decryptTransportColumns({ ki: 'aa'.repeat(16) }, { key: randomBytes(24) }), is('transport_key', /expected 16 bytes, got 24/));
  assert.throws(() => decryptTransportColumns({ ki: 'aa'.repeat(16) }, { key, mode: 'cbc' }), is('transport_iv', /required in cbc mode/));
  assert.throws(() => decryptTransportColumns({ ki: 'aa'.repeat(16) }, { key, mode: 'cbc', iv: randomBytes(8) }), is('transport_iv', /expected 16 bytes, got 8/));
  assert.throws(() => decryptTransportColumns({ ki: 'aa'.repeat(16) }, { key, mode: 'ctr' as 'ecb' }), is('transport_mode', /expected ecb or cbc/));
  assert.throws(() => decryptTransportColumns({ ki: 'aa'.repeat(15) }, { key }), is('ki', /expected 32 hex digits \(16 bytes\), got 30 characters/));
  assert.throws(() => decryptTransportColumns({ ki: 'aa'.repeat(16), opc: 'zz'.repeat(16) }, { key }), is('opc', /hex digits only/));
});
