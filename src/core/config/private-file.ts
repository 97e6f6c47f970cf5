import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../errors.js';

/** Read a file that may hold secrets, with its permission bits. */
export function readFileWithMode(path: string, what: string, code: string): { text: string; mode: number } {
  try {
    const mode = statSync(path).mode;
    return { text: readFileSync(path, 'utf8'), mode };
  } catch (e) {
    throw new ConfigError(code, `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Like ssh with its keys: a file holding a secret must not be readable by group or others. */
export function assertPrivateMode(path: string, mode: number, what: string): void {
  if ((mode & 0o077) !== 0) {
    throw new ConfigError('CONFIG_INSECURE_MODE', `${what} ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)})`, `run: chmod 600 ${path}`);
  }
}
