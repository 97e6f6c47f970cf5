import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { initSchema } from '../../core/db/schema/schema.js';

export default class DbInit extends BaseCommand<typeof DbInit> {
  static summary = 'Create the Kamailio 5.x tables sipctl uses (idempotent).';
  static description = `Creates version, subscriber, address, trusted, location, location_attrs, htable and sim, column for column as Kamailio's kamdbctl does, with the version rows Kamailio's modules check. Tables that exist are left alone, except sipctl's own tables of an older version, which are upgraded in place (sim version 1 → 2 adds the key_id and keys_enc columns for encryption at rest; existing rows stay plain), and an acc_cdrs made by an earlier sipctl, which gets the unique dialog_key column (existing rows NULL; the version stays Kamailio's 2) so that sipd writes each answered call's CDR once; a table with a version sipctl does not know stops it. On SQLite the file is created if missing. On MySQL/MariaDB the database itself must exist.`;
  static examples = ['<%= config.bin %> db init', '<%= config.bin %> db init --db mysql://kamailio@localhost/kamailio'];
  static flags = { 'dry-run': Flags.boolean({ description: 'show which tables would be created' }) };

  async run() {
    const db = await this.openDb({ create: !this.flags['dry-run'] });
    const result = await initSchema(db, { dryRun: this.flags['dry-run'] });
    const verb = this.flags['dry-run'] ? 'would create' : 'created';
    this.print(result.created.length ? `${verb}: ${result.created.join(', ')}` : result.migrated.length || result.added.length ? '' : 'schema up to date: nothing to create');
    for (const m of result.migrated) this.print(`${this.flags['dry-run'] ? 'would upgrade' : 'upgraded'} ${m.table}: version ${m.from} → ${m.to}`);
    for (const c of result.added) this.print(`${this.flags['dry-run'] ? 'would add' : 'added'} ${c.table}.${c.column}`);
    if (result.existing.length) this.note(`already present: ${result.existing.join(', ')}`);
    return { database: db.label, ...result, dryRun: !!this.flags['dry-run'] };
  }
}
