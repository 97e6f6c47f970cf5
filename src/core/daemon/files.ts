/**
 * The files sipd keeps in its state directory, shared by sipd (which writes them) and
 * `sipctl daemon` (which reads them).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** sipd's pid; written by sipd at start (it also locks the directory), removed at stop */
export const PID_FILE = 'sipd.pid';
/** what sipd bound, ports resolved; written once started, removed at stop */
export const RUNTIME_FILE = 'sipd.runtime.json';
/** sipd's output when `sipctl daemon start` runs it */
export const LOG_FILE = 'sipd.log';
/** the default JSON-RPC unix socket */
export const SOCKET_NAME = 'sipd.sock';

export interface RuntimeInfo {
  pid: number;
  version: string;
  startedAt: string;
  /** SIP sockets, e.g. udp:127.0.0.1:5060 */
  listen: string[];
  /** RPC endpoints, e.g. http://127.0.0.1:5071/RPC, unix:/…/sipd.sock */
  rpc: string[];
  stateDir: string;
  configFile?: string;
  modules: string[];
}

/** $SIPD_STATE_DIR, else $XDG_STATE_HOME/sipd, else ~/.local/state/sipd. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SIPD_STATE_DIR) return env.SIPD_STATE_DIR;
  const base = env.XDG_STATE_HOME ?? join(env.HOME ?? homedir(), '.local', 'state');
  return join(base, 'sipd');
}

/** Is a process with this pid alive (EPERM: alive, owned by someone else)? */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
