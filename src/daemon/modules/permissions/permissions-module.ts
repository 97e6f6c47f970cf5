/**
 * The permissions module: Kamailio's `address` table in memory (exact addresses and subnets,
 * IPv4 and IPv6, port 0 = any port, groups), for allow_source_address-style checks by the
 * pipeline, and Kamailio's RPC methods over it with their exact result shapes:
 * permissions.addressReload ("Reload OK"), permissions.addressDump, permissions.subnetDump.
 *
 * Reload differs from Kamailio on purpose: Kamailio refuses a second reload within
 * reload_delta (5 s) with 500 "ongoing reload". sipd never refuses: a reload asked for while
 * another runs waits for it and then reads the table again (callers arriving together share
 * that one follow-up read), so every "Reload OK" means "the table now reflects what the
 * database held when I asked". A failed reload (database error, bad row) keeps the old table
 * and answers 500 "Reload failed." like Kamailio.
 */
import { ConfigError } from '../../../core/errors.js';
import type { Database } from '../../../core/db/database.js';
import type { PermissionsApi } from '../../kernel/contracts.js';
import { defineModule, type Logger } from '../../kernel/module.js';
import { AddressTable, type AddressDumpItem, type AddressRow, type SubnetDumpItem } from './address-table.js';
import { closeModuleDb, openModuleDb, assertTableName, type ModuleDbDependency } from '../../kernel/module-db.js';
import { ReloadGate, startPeriodicReload } from '../../kernel/reload-gate.js';
import { RpcFault } from '../../kernel/rpc-fault.js';

export interface PermissionsModuleApi extends PermissionsApi {
  /** the tag of the first matching entry of `group` (Kamailio's peer_tag_avp); undefined when none matches */
  tagOf(group: number, ip: string, port?: number): string | null | undefined;
  addressDump(): AddressDumpItem[];
  subnetDump(): SubnetDumpItem[];
}

export interface PermissionsDeps {
  /** the database holding `address`; a function is called at init and its result closed at destroy */
  db?: ModuleDbDependency;
}

const params = {
  address_table: { type: 'string', default: 'address', doc: 'table with grp, ip_addr, mask, port, tag columns (Kamailio address_table)' },
  max_subnets: { type: 'integer', default: 512, min: 1, max: 65_536, doc: 'most subnet rows (mask below 32/128) accepted; more fails the load (Kamailio max_subnets)' },
  reload_interval: { type: 'integer', default: 0, min: 0, max: 86_400, doc: 'seconds between automatic reloads; 0 = only at start and on permissions.addressReload' },
} as const;

export function createPermissionsModule(deps: PermissionsDeps = {}) {
  let table = new AddressTable([]);
  let db: Database | undefined;
  let ownsDb = false;
  let tableName: string = params.address_table.default;
  let maxSubnets: number = params.max_subnets.default;
  let log: Logger | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function load(): Promise<void> {
    if (db === undefined) throw new ConfigError('PERMISSIONS_NO_DB', 'permissions: no database configured');
    const rows = await db.query<AddressRow>(`SELECT id, grp, ip_addr, mask, port, tag FROM ${tableName} ORDER BY id`);
    const next = new AddressTable(rows, { maxSubnets });
    table = next;
    log?.info('permissions: address table loaded', { addresses: next.addressCount, subnets: next.subnetCount, skippedHostNames: next.skippedNames });
  }

  const gate = new ReloadGate(load);
  const reload = () => gate.reload();

  const api: PermissionsModuleApi = {
    allowSource: (group, ip, port) => table.allows(group, ip, port),
    groupsOf: (ip, port) => table.groupsOf(ip, port),
    tagOf: (group, ip, port) => table.tagOf(group, ip, port),
    reload,
    addressDump: () => table.addressDump(),
    subnetDump: () => table.subnetDump(),
  };

  return defineModule({
    name: 'permissions',
    params,
    async init(ctx) {
      log = ctx.log;
      assertTableName('permissions.address_table', ctx.params.address_table);
      tableName = ctx.params.address_table;
      maxSubnets = ctx.params.max_subnets;
      if (deps.db !== undefined) ({ db, owned: ownsDb } = await openModuleDb(deps.db));
      await reload();
      timer = startPeriodicReload(gate, ctx.params.reload_interval, (e) => ctx.log.error('permissions: periodic reload failed, keeping the previous table', { error: String(e) }));
    },
    async destroy() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await gate.idle();
      table = new AddressTable([]);
      await closeModuleDb(db, ownsDb);
      db = undefined;
      ownsDb = false;
    },
    rpc: {
      'permissions.addressReload': {
        doc: 'Reload the address table from the database',
        async handler() {
          try {
            await reload();
          } catch (e) {
            log?.error('permissions: reload failed, keeping the previous table', { error: String(e) });
            throw new RpcFault(500, 'Reload failed.');
          }
          return 'Reload OK';
        },
      },
      'permissions.addressDump': {
        doc: 'Dump the exact-address entries (mask 32 / 128) of the address table',
        handler: () => table.addressDump(),
      },
      'permissions.subnetDump': {
        doc: 'Dump the subnet entries (mask below 32 / 128) of the address table',
        handler: () => table.subnetDump(),
      },
    },
    api,
  });
}
