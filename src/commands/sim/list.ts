import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { renderTable, type Column } from '../../cli/output.js';
import { listSims, type SimView } from '../../core/sim/sim-records.js';
import { configuredKek, revealFlag } from '../../cli/sim-support.js';

export default class SimList extends BaseCommand<typeof SimList> {
  static summary = 'List SIM cards, filtered by batch and IMSI prefix, paged.';
  static description = 'Sorted by IMSI. Ki and OPc are shown only with --reveal (masked as **** otherwise, also with --json).';
  static examples = ['<%= config.bin %> sim list --batch EXN2401', '<%= config.bin %> sim list --imsi-prefix 00101 --limit 50 --page 2'];
  static flags = {
    batch: Flags.string({ description: 'only this batch' }),
    'imsi-prefix': Flags.string({ description: 'only IMSIs starting with these digits (e.g. MCC+MNC)' }),
    limit: Flags.integer({ description: 'rows per page', default: 100, min: 1, max: 1_000_000 }),
    page: Flags.integer({ description: 'page number, from 1', default: 1, min: 1 }),
    reveal: revealFlag,
  };

  async run() {
    const db = await this.openDb();
    const { limit, page } = this.flags;
    const kek = this.flags.reveal ? await configuredKek(this.cfg) : undefined;
    const { total, sims } = await listSims(db, { batch: this.flags.batch, imsiPrefix: this.flags['imsi-prefix'], limit, offset: (page - 1) * limit, reveal: this.flags.reveal, kek });
    kek?.wipe();
    const cols: Column<SimView>[] = [
      { header: 'IMSI', get: (s) => s.imsi },
      { header: 'ICCID', get: (s) => s.iccid ?? '' },
      { header: 'MSISDN', get: (s) => s.msisdn ?? '' },
      { header: 'AMF', get: (s) => s.amf },
      { header: 'SQN', get: (s) => s.sqn },
      { header: 'BATCH', get: (s) => s.batch ?? '' },
      { header: 'VENDOR', get: (s) => s.vendor ?? '' },
    ];
    if (this.flags.reveal) cols.push({ header: 'KI', get: (s) => s.ki }, { header: 'OPC', get: (s) => s.opc });
    this.print(await renderTable(sims, cols, this.out));
    // Never cut short silently (issue 11): piped or not, stderr says what this page left out.
    const pages = Math.max(1, Math.ceil(total / limit));
    const truncated = sims.length < total;
    if (truncated) this.note(`${sims.length} of ${total} SIM(s), page ${page} of ${pages}: ${page < pages ? `--page ${page + 1} for the next, ` : ''}--limit ${total} for all`);
    else if (this.out.tty) this.note(`${sims.length} of ${total} SIM(s)`);
    return { total, truncated, page, limit, sims };
  }
}
