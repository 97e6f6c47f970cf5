import { assertPrivateMode, readFileWithMode } from '../config/private-file.js';
import { ConfigError } from '../errors.js';
import type { RpcAuth } from './client.js';

/**
 * The auth file: one line, `user:password` (basic) or `Bearer TOKEN` / a bare token (bearer).
 * Like ssh keys, it must not be readable by group or others.
 */
export function readAuthFile(path: string): RpcAuth {
  const { text, mode } = readFileWithMode(path, 'RPC auth file', 'RPC_AUTH_FILE_UNREADABLE');
  assertPrivateMode(path, mode, 'RPC auth file');
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '')?.trim() ?? '';
  if (line === '') throw new ConfigError('RPC_AUTH_FILE_EMPTY', `RPC auth file ${path} is empty`);
  const bearer = /^bearer\s+(.+)$/i.exec(line);
  if (bearer) return { bearer: bearer[1]!.trim() };
  const colon = line.indexOf(':');
  if (colon > 0) return { user: line.slice(0, colon), password: line.slice(colon + 1) };
  return { bearer: line };
}
