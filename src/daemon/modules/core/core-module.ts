/**
 * The core module: Kamailio's core.version, core.uptime and core.psx, and the kernel's services for other
 * modules (CoreApi in contracts.ts: the shared database, security events, myself, domains, the
 * state directory, the SIP sockets bound). The kernel builds it with its own functions; the module holds no state of
 * its own beyond the start time.
 */
import { arch, platform } from 'node:os';
import type { CoreApi } from '../../kernel/contracts.js';
import { defineModule } from '../../kernel/module.js';

export interface CoreModuleDeps extends CoreApi {
  /** sipd's version (package.json) */
  version: string;
  /** epoch ms the daemon started */
  startedAt: number;
  now?: () => number;
}

/** C ctime() without the newline: "Sat Nov 21 05:38:23 2026" (local time), as Kamailio prints. */
export function ctime(ms: number): string {
  const d = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${d.getFullYear()}`;
}

export function createCoreModule(deps: CoreModuleDeps) {
  const now = deps.now ?? Date.now;
  const api: CoreApi = {
    database: () => deps.database(),
    securityEvent: (ev) => deps.securityEvent(ev),
    isMyself: (host, port) => deps.isMyself(host, port),
    domains: () => deps.domains(),
    stateDir: deps.stateDir,
    sipSockets: () => deps.sipSockets(),
    onSipSocketsBound: (l) => deps.onSipSocketsBound(l),
  };
  return defineModule({
    name: 'core',
    params: {},
    init() {},
    destroy() {},
    rpc: {
      'core.version': {
        doc: 'Returns the version string of the server',
        // Kamailio: "kamailio 5.6.3 (x86_64/linux) " — name, version, (arch/os), trailing space.
        handler: () => `sipd ${deps.version} (${arch()}/${platform()}) `,
      },
      'core.psx': {
        doc: 'List the processes: IDX, PID, DSC (sipd is one process)',
        // Kamailio lists its forked workers; sipd does SIP, timers and RPC on one event loop
        handler: () => [{ IDX: 0, PID: process.pid, DSC: 'sipd main process - SIP, timers and RPC (one event loop)' }],
      },
      'core.uptime': {
        doc: 'Returns uptime of the server: now, up_since (local time, ctime format) and uptime in seconds',
        handler: () => {
          const t = now();
          return { now: ctime(t), up_since: ctime(deps.startedAt), uptime: Math.max(0, Math.floor((t - deps.startedAt) / 1000)) };
        },
      },
    },
    api,
  });
}
