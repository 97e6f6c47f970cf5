/**
 * The lifecycle every module that keeps an in-memory copy of database tables shares (mtree,
 * blocklist, country, timerule, limits): open the module's database, load through one
 * ReloadGate, reload every reload_interval, answer `<module>.reload` as Kamailio's modules do
 * ("Reload OK", or a 500 that keeps the previous copy), and on destroy stop the timer, wait for
 * a running load and close the connection the module owns. The module keeps its own load() and
 * data; only this sequence lives here, once.
 */
import type { Database } from '../../core/db/database.js';
import type { Logger, RpcMethod } from './module.js';
import { closeModuleDb, openModuleDb, type ModuleDbDependency } from './module-db.js';
import { ReloadGate, startPeriodicReload } from './reload-gate.js';
import { RpcFault } from './rpc-fault.js';

export class TableCopy {
  private readonly gate: ReloadGate;
  private dbOpen: Database | undefined;
  private owned = false;
  private timer: NodeJS.Timeout | undefined;
  private log: Logger | undefined;

  /** `what` names the copy in log lines: "keeping the previous <what>". */
  constructor(
    private readonly module: string,
    private readonly what: string,
    load: () => Promise<void>,
  ) {
    this.gate = new ReloadGate(load);
  }

  /** The open database (undefined before open() and after close()), for load(). */
  get db(): Database | undefined {
    return this.dbOpen;
  }

  /** One fresh load that reflects the tables as they are now (ReloadGate's promise). */
  reload(): Promise<void> {
    return this.gate.reload();
  }

  /** For init(): open the database, load once (a failure fails init), then reload periodically. */
  async open(dep: ModuleDbDependency, reloadIntervalSec: number, log: Logger): Promise<void> {
    this.log = log;
    ({ db: this.dbOpen, owned: this.owned } = await openModuleDb(dep));
    await this.gate.reload();
    this.timer = startPeriodicReload(this.gate, reloadIntervalSec, (e) => log.error(`${this.module}: periodic reload failed, keeping the previous ${this.what}`, { error: String(e) }));
  }

  /** For destroy(). */
  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.gate.idle();
    await closeModuleDb(this.dbOpen, this.owned);
    this.dbOpen = undefined;
    this.owned = false;
  }

  /** The `<module>.reload` RPC method; `fault` and `ok` are Kamailio's own texts where the module has them. */
  reloadMethod(doc: string, { fault = 'Reload failed.', ok = 'Reload OK' as unknown } = {}): RpcMethod {
    return {
      doc,
      handler: async () => {
        try {
          await this.gate.reload();
        } catch (e) {
          this.log?.error(`${this.module}: reload failed, keeping the previous ${this.what}`, { error: String(e) });
          throw new RpcFault(500, fault);
        }
        return ok;
      },
    };
  }
}
