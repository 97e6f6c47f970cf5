import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConflictError } from '../errors.js';
import type { ConfigValues } from './config.js';

/** Write a config file atomically with mode 0600 (it may hold a password). */
export function writeConfigFile(path: string, values: Partial<ConfigValues>, opts: { force?: boolean } = {}): void {
  if (existsSync(path) && !opts.force) throw new ConflictError('CONFIG_EXISTS', `config file ${path} already exists`, 'pass --force to replace it');
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(values, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}
