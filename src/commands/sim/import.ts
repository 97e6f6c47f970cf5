import { createReadStream, statSync } from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { progressBar } from '../../cli/progress.js';
import { SipctlError, UsageError } from '../../core/errors.js';
import { hexToBytes, wipe } from '../../core/sim/milenage.js';
import { normaliseKey } from '../../core/sim/validation.js';
import type { SimImportSource } from '../../core/sim/sim-import.js';
import type { TransportColumn } from '../../core/sim/vendor-file.js';
import { configuredKek, keyFlags, keyReader, obtainKey } from '../../cli/sim-support.js';

export default class SimImport extends BaseCommand<typeof SimImport> {
  static summary = 'Bulk-load SIM cards from a CSV file or a SIM-vendor output file.';
  static description = `Formats (detected from the first line unless --format is given):
  CSV with a header row naming the columns as in the sim table: imsi, ki (required), iccid, msisdn, opc, op, amf, sqn, batch, vendor. An op column is used to derive the OPc and is never stored.
  The SIM-vendor personalisation output file: a "key : value" header block, a var_out: line naming the columns (ICCID/IMSI/Ki/OPC/…; unknown ones such as PIN1 or ADM1 are ignored) and one whitespace-separated row per card. A Quantity header must match the number of rows (a truncated file is refused). A header ICCID_check_digit: no (or Check_digit / Luhn: no) accepts 19-digit ICCIDs printed without their check digit.

The operator OP can be given once (--op-file, or --op) to derive the OPc of every row without an opc or op column; a row's own opc is then checked against it.

--transport-key-file decrypts the Ki and OPc columns first: AES-128, the key as 32 hex digits in the file; --transport-mode ecb (default) or cbc with --transport-iv (every value decrypted on its own with that IV); --transport-columns picks the columns (default ki,opc; op allowed). The transport key is never stored or printed.

Every row is checked as by "sim add". The file is scanned once before anything is written: an unknown format, a bad header or a truncated vendor file changes nothing (exit 2). Rows are then written in transactions of --batch-size rows (default 10,000; 1,000 rows per INSERT). A row whose IMSI is already stored with the same Ki, OPc and ICCID is skipped; one that clashes with a stored card (same IMSI with other keys, another card's Ki or ICCID) or repeats an earlier line is rejected, as is every invalid row; rejections are listed with their line numbers and the command exits 2. With --atomic any rejection means nothing is imported. --dry-run checks everything and writes nothing. A progress bar is shown on a terminal.

With a key-encryption key configured (SIPCTL_SIM_KEK_FILE or SIPCTL_SIM_KEK) Ki and OPc are stored encrypted, as by "sim add".`;
  static examples = [
    '<%= config.bin %> sim import EXN2401.out --op-file /etc/sipctl/op.hex',
    '<%= config.bin %> sim import EXN2401.out --transport-key-file tk.hex --atomic',
    '<%= config.bin %> sim import cards.csv --dry-run --json',
  ];
  static args = { file: Args.string({ description: 'CSV or vendor output file, or - for standard input', required: true }) };
  static flags = {
    ...keyFlags('op', { prompt: false }),
    'transport-key-file': Flags.string({ description: 'file holding the AES-128 transport key (32 hex digits) that encrypts the key columns' }),
    'transport-mode': Flags.string({ description: 'transport encryption mode', options: ['ecb', 'cbc'], default: 'ecb' }),
    'transport-iv': Flags.string({ description: 'IV for --transport-mode cbc, 32 hex digits' }),
    'transport-columns': Flags.string({ description: 'comma-separated columns to decrypt (ki, opc, op)', default: 'ki,opc' }),
    format: Flags.string({ description: 'input format', options: ['auto', 'csv', 'vendor'], default: 'auto' }),
    'iccid-without-check-digit': Flags.boolean({ description: 'accept 19-digit ICCIDs printed without their Luhn check digit' }),
    batch: Flags.string({ description: 'batch label for rows that carry none (a vendor file\'s Batch header counts)' }),
    vendor: Flags.string({ description: 'vendor name for rows that carry none' }),
    atomic: Flags.boolean({ description: 'all or nothing: one transaction, rolled back on any rejected row' }),
    'dry-run': Flags.boolean({ description: 'validate every row and check for clashes; write nothing' }),
    'batch-size': Flags.integer({ description: 'rows per transaction (written 1,000 rows per INSERT)', default: 10_000, min: 1, max: 100_000 }),
  };

  async run() {
    const f = this.flags;
    const file = this.args.file;
    const reader = keyReader(file === '-' ? 'the import file (-)' : undefined);
    const op = await obtainKey(reader, { field: 'op', flag: '--op', value: f.op, file: f['op-file'] }, { required: false });
    const tkHex = await reader.read({ field: 'transport key', flag: '--transport-key', file: f['transport-key-file'] });
    if (f['transport-iv'] !== undefined && tkHex === undefined) throw new UsageError('TRANSPORT_IV_WITHOUT_KEY', '--transport-iv needs --transport-key-file');

    let transportKey: Buffer | undefined;
    let iv: Buffer | undefined;
    let columns: TransportColumn[] | undefined;
    if (tkHex !== undefined) {
      transportKey = Buffer.from(normaliseKey('transport_key', tkHex), 'hex');
      if (f['transport-mode'] === 'cbc') {
        if (f['transport-iv'] === undefined) throw new UsageError('TRANSPORT_IV_MISSING', '--transport-mode cbc needs --transport-iv (32 hex digits)');
        iv = hexToBytes('transport_iv', f['transport-iv'].trim(), 16);
      }
      columns = f['transport-columns'].split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '') as TransportColumn[];
      for (const c of columns) if (!['ki', 'opc', 'op'].includes(c)) throw new UsageError('TRANSPORT_COLUMNS', `--transport-columns: cannot decrypt ${JSON.stringify(c)} (only ki, opc, op)`);
    }

    // The input is read twice (scan, then load): a file is simply reopened; standard input is held in memory.
    let source: SimImportSource;
    let held: Buffer[] | undefined;
    if (file === '-') {
      held = [];
      for await (const c of process.stdin) held.push(c as Buffer);
      const chunks = held;
      source = () => chunks;
    } else {
      try {
        if (!statSync(file).isFile()) throw Object.assign(new Error(), { code: 'not a regular file' });
      } catch (e) {
        throw new UsageError('SIM_FILE_UNREADABLE', `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`);
      }
      source = () => createReadStream(file, { highWaterMark: 1 << 20 });
    }

    const kek = await configuredKek(this.cfg);
    const db = await this.openDb();
    const { importSims } = await import('../../core/sim/sim-import.js');
    const bar = !this.jsonEnabled() && !!process.stderr.isTTY ? progressBar() : undefined;
    try {
      const summary = await importSims(db, source, {
        format: f.format === 'auto' ? undefined : (f.format as 'csv' | 'vendor'),
        op,
        transport: transportKey ? { key: transportKey, mode: f['transport-mode'] as 'ecb' | 'cbc', iv, columns } : undefined,
        allowNoCheckDigit: f['iccid-without-check-digit'],
        batch: f.batch,
        vendor: f.vendor,
        atomic: f.atomic,
        dryRun: f['dry-run'],
        batchSize: f['batch-size'],
        onProgress: bar?.update,
        kek,
      });
      bar?.done();
      for (const r of summary.rejections) this.note(`line ${r.line}: ${r.reason}`);
      if (summary.rejected > summary.rejections.length) this.note(`… and ${summary.rejected - summary.rejections.length} more rejected row(s)`);
      const verb = summary.dryRun ? 'would add' : 'added';
      this.print(`${verb} ${summary.added}, skipped ${summary.skipped} (already present), rejected ${summary.rejected}${summary.rolledBack ? (summary.dryRun ? ' — with --atomic nothing would be imported' : ' — rolled back, nothing imported (--atomic)') : ''}`);
      if (summary.rejected > 0) {
        if (this.jsonEnabled()) this.logJson(summary);
        throw new SipctlError('SIM_IMPORT_REJECTED_ROWS', `${summary.rejected} row(s) rejected${summary.rolledBack ? '; nothing was imported' : ''}`, {
          category: 'usage',
          details: { added: summary.added, skipped: summary.skipped, rejected: summary.rejected },
        });
      }
      // After the work: an error stays one line (what scripts read).
      for (const w of reader.warnings) this.note(`warning: ${w}`);
      return reader.warnings.length ? { ...summary, warnings: reader.warnings } : summary;
    } finally {
      bar?.done();
      wipe(transportKey, iv);
      if (held) wipe(...held);
      kek?.wipe();
    }
  }
}
