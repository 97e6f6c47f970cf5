import { BaseCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { schemaStatus } from '../../core/db/schema/schema.js';
import { subscriberStorage, type StorageStats } from '../../core/subscribers/storage.js';
import { simStorage, type SimStorage } from '../../core/sim/sim-at-rest.js';

const MODE_TEXT: Record<StorageStats['mode'], string> = {
  empty: 'empty',
  plaintext: 'plaintext (for auth_db calculate_ha1 yes)',
  'ha1-only': 'ha1 only (for auth_db calculate_ha1 0 + password_column ha1)',
  mixed: 'mixed (some rows ha1 only: those users cannot register on a proxy with calculate_ha1 yes)',
};

export default class DbStatus extends BaseCommand<typeof DbStatus> {
  static summary = 'List the tables sipctl uses with their versions and row counts.';
  static description = 'state is ok, missing, no-version-row, or unknown-version (sipctl refuses to write to such a table). Also says how the subscriber table stores passwords: plaintext, ha1 only, mixed or empty (which Kamailio auth_db setting it fits); and how the sim table stores Ki/OPc: plain, encrypted (with the key ids), mixed or empty (see sim rekey). outdated: a sipctl table of an older version, or acc_cdrs without the dialog_key column sipd\'s exactly-once CDRs need, that db init upgrades.';
  static examples = ['<%= config.bin %> db status', '<%= config.bin %> db status --json'];

  async run() {
    const db = await this.openDb();
    const tables = await schemaStatus(db);
    const subscriber = tables.find((t) => t.table === 'subscriber');
    const storage = subscriber && subscriber.state !== 'missing' ? await subscriberStorage(db) : undefined;
    const sim = tables.find((t) => t.table === 'sim');
    const simKeys = sim?.state === 'ok' ? await simStorage(db) : undefined;
    this.print(
      await renderTable(tables, [
        { header: 'TABLE', get: (t) => t.table },
        { header: 'VERSION', get: (t) => (t.version === undefined ? '-' : t.version ?? '?') },
        { header: 'EXPECTED', get: (t) => t.expectedVersion },
        { header: 'ROWS', get: (t) => t.rows ?? '-' },
        { header: 'STATE', get: (t) => t.state },
        { header: 'OWNER', get: (t) => t.owner },
      ], this.out),
    );
    if (storage) this.note(`subscriber passwords: ${MODE_TEXT[storage.mode]}${storage.mode === 'mixed' ? ` — ${storage.plaintext} of ${storage.rows} in plaintext` : ''}`);
    if (simKeys) this.note(`sim keys: ${simKeysText(simKeys)}`);
    return { database: db.label, engine: db.engine, tables, ...(storage ? { subscriberPasswords: storage } : {}), ...(simKeys ? { simKeys } : {}) };
  }
}

function simKeysText(s: SimStorage): string {
  const ids = Object.entries(s.encrypted).map(([id, n]) => `${id} (${n})`).join(', ');
  switch (s.mode) {
    case 'empty': return 'empty';
    case 'plain': return 'plain (Ki/OPc in the clear)';
    case 'encrypted': return `encrypted, key id ${ids}`;
    case 'mixed': return `mixed: ${s.plain} of ${s.rows} plain, encrypted with key id ${ids} (sim rekey encrypts the rest)`;
  }
}
