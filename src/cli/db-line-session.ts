/** The database side of a batch or shell session: one connection, opened on the first database line. */
import type { ResolvedConfig } from '../core/config/config.js';
import type { Database } from '../core/db/database.js';
import type { DbLineSession } from '../core/proxy/db-line-commands.js';
import { plaintextChoice } from './subscriber-support.js';

/**
 * `open` is the command's openDb (which closes it at the end); it is called at most once.
 * `proxiesChosen`: Session.proxiesChosen (a failed credential reload on sipd is then a warning).
 */
export function dbLineSession(open: () => Promise<Database>, cfg: ResolvedConfig, proxiesChosen = true): DbLineSession {
  let db: Promise<Database> | undefined;
  return {
    open: () => (db ??= open()),
    proxiesChosen,
    get domain() {
      return cfg.values.domain;
    },
    get hash() {
      return cfg.values.hash;
    },
    get storePlaintext() {
      return plaintextChoice(cfg);
    },
  };
}
