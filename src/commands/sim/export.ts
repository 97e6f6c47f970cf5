import { closeSync, fchmodSync, openSync, writeSync } from 'node:fs';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { UsageError } from '../../core/errors.js';
import { exportSims, iterateSims, openRow, EXPORT_COLUMNS, MASK } from '../../core/sim/sim-records.js';
import { configuredKek } from '../../cli/sim-support.js';

export default class SimExport extends BaseCommand<typeof SimExport> {
  static summary = 'Export SIM cards as CSV or JSON, e.g. for loading into an HSS.';
  static description = `CSV has a header row with the columns "sim import" reads (imsi, iccid, msisdn, ki, opc, amf, sqn, batch, vendor); JSON is an array of objects with the same names. Ki and OPc are exported only with --reveal: without it those columns are left out. A file written with --output is created with mode 0600.

With --json the cards are returned in the JSON document (under "sims", Ki/OPc masked unless --reveal) unless --output is given.`;
  static examples = [
    '<%= config.bin %> sim export --format csv --reveal --output hss-load.csv',
    '<%= config.bin %> sim export --format json --batch EXN2401',
  ];
  static flags = {
    format: Flags.string({ description: 'output format', options: ['csv', 'json'], default: 'csv' }),
    reveal: Flags.boolean({ description: 'include Ki and OPc' }),
    batch: Flags.string({ description: 'only this batch' }),
    'imsi-prefix': Flags.string({ description: 'only IMSIs starting with these digits' }),
    output: Flags.string({ char: 'o', description: 'write to this file (mode 0600) instead of standard output' }),
  };

  async run() {
    const f = this.flags;
    const db = await this.openDb();
    const format = f.format as 'csv' | 'json';
    // Encrypted rows are opened with the configured key-encryption key; the export itself is plain text (0600 with --output).
    const kek = f.reveal ? await configuredKek(this.cfg) : undefined;
    if (this.jsonEnabled() && f.output === undefined) {
      const sims: Array<Record<string, string | null>> = [];
      for await (const stored of iterateSims(db, { batch: f.batch, imsiPrefix: f['imsi-prefix'] })) {
        const r = f.reveal ? openRow(stored, kek) : stored;
        const o: Record<string, string | null> = {};
        for (const c of EXPORT_COLUMNS) o[c] = (c === 'ki' || c === 'opc') && !f.reveal ? MASK : r[c];
        sims.push(o);
      }
      return { count: sims.length, revealed: !!f.reveal, sims };
    }
    let count = 0;
    const chunks = exportSims(db, { format, reveal: f.reveal, batch: f.batch, imsiPrefix: f['imsi-prefix'], onRecord: () => count++, kek });
    if (f.output !== undefined) {
      let fd: number;
      try {
        fd = openSync(f.output, 'w', 0o600);
        fchmodSync(fd, 0o600);
      } catch (e) {
        throw new UsageError('EXPORT_FILE', `cannot write ${f.output} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      try {
        for await (const c of chunks) writeSync(fd, c);
      } finally {
        closeSync(fd);
      }
      this.note(`exported ${count} SIM(s) to ${f.output}${f.reveal ? '' : ' (Ki and OPc left out: add --reveal to include them)'}`);
    } else {
      for await (const c of chunks) {
        if (!process.stdout.write(c)) await new Promise((r) => process.stdout.once('drain', r));
      }
      if (!f.reveal && process.stderr.isTTY) this.note('Ki and OPc left out: add --reveal to include them');
    }
    return { count, format, revealed: !!f.reveal, ...(f.output !== undefined ? { output: f.output } : {}) };
  }
}
