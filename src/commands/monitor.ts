import { Flags } from '@oclif/core';
import { RpcCommand, rpcFlags } from '../cli/rpc-support.js';
import { UsageError } from '../core/errors.js';
import { Monitor } from '../core/monitor/monitor.js';
import type { MonitorSnapshot } from '../core/monitor/model.js';

export default class MonitorCommand extends RpcCommand<typeof MonitorCommand> {
  static aliases = ['top'];
  static summary = 'Live view of the proxies: request and reply rates, registrations, calls, bans, flooding sources, memory (kamctl monitor, kamcli moni).';
  static description = `Refreshed every --interval seconds from the proxy's RPC, the same against Kamailio and sipd: uptime and version; requests/s (core:rcv_requests) with a sparkline of the last minute; replies sent per second by class (sl:NNN_replies and sl:Nxx_replies + tmx:Nxx_transactions); registered users and contacts (usrloc); active calls (dialog); the sizes of the ipban and userban htables with the keys that appeared most recently (htable.stats, htable.dump — tables above 1,000 keys are only counted); the top flooding sources (pike.top); memory (core.shmmem and pkg.stats for Kamailio, the process RSS for sipd). With --node all the nodes stand side by side.

Keys: q quit, p pause/resume, n next node (when not all fit). A method the proxy lacks (no dialog module, no pike) shows "—" and is named on the "missing" line; it never stops the monitor. A node that stops answering shows DOWN until it answers again.

Not on a terminal (or with --json): one JSON snapshot per interval on standard output, one line each (schemas/monitor.json), missing methods as warnings on standard error — for scripts and log shippers. --count N stops after N snapshots (rates need two samples: the first snapshot has requestsPerSec null).`;
  static examples = [
    '<%= config.bin %> monitor',
    '<%= config.bin %> top --node all --interval 2',
    "<%= config.bin %> monitor --count 3 | jq -c '.nodes[0].requestsPerSec'",
  ];
  static flags = {
    ...rpcFlags,
    interval: Flags.string({ description: 'seconds between refreshes (0.2 to 3600; default 1)', default: '1', env: 'SIPCTL_INTERVAL' }),
    count: Flags.integer({ description: 'stop after this many snapshots', min: 1 }),
  };

  async run() {
    const intervalMs = parseInterval(this.flags.interval);
    const nodes = this.nodeSet();
    const json = this.jsonEnabled() || !process.stdout.isTTY;
    if (json) {
      const monitor = new Monitor({
        nodes,
        intervalMs,
        count: this.flags.count,
        onSnapshot: (snap) => writeLine(JSON.stringify(snap) + '\n'),
        onMissing: (node, m) => process.stderr.write(`sipctl: warning: ${nodes.multi ? `${node}: ` : ''}${m} is not available; shown as null\n`),
      });
      const stop = () => monitor.stop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await monitor.run();
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      // No node ever answered: a script must see that, as for any command (exit code of the failure).
      if (!monitor.answered && monitor.lastError) throw monitor.lastError;
      return undefined as unknown as Record<string, never>;
    }

    const { TerminalScreen } = await import('../cli/terminal-screen.js');
    const { renderScreen } = await import('../core/monitor/render.js');
    let focus = 0;
    let last: MonitorSnapshot | undefined;
    let signal: NodeJS.Signals | undefined;
    // eslint-disable-next-line prefer-const
    let monitor: Monitor;
    const redraw = () => {
      if (last) screen.draw(renderScreen(last, { width: screen.width, height: screen.height, paused: monitor.isPaused, focus }));
    };
    const screen = new TerminalScreen({
      onKey: (k) => {
        if (k === 'q' || k === 'Q' || k === '\x03' || k === '\x1b') monitor.stop();
        else if (k === 'p' || k === 'P' || k === ' ') {
          monitor.togglePause();
          redraw();
        } else if ((k === 'n' || k === 'N') && nodes.nodes.length > 1) {
          focus = (focus + 1) % nodes.nodes.length;
          redraw();
        }
      },
      onSignal: (sig) => {
        signal = sig;
        monitor.stop();
      },
      onResize: redraw,
    });
    monitor = new Monitor({
      nodes,
      intervalMs,
      count: this.flags.count,
      onSnapshot: (snap) => {
        last = snap;
        redraw();
      },
    });
    screen.enter();
    try {
      screen.draw([`sipctl monitor: asking ${nodes.nodes.map((n) => n.name).join(', ')}…`]);
      await monitor.run();
    } finally {
      screen.restore();
    }
    if (!monitor.answered && monitor.lastError) throw monitor.lastError;
    if (signal === 'SIGINT') process.exitCode = 130;
    return undefined as unknown as Record<string, never>;
  }

  /** The snapshots were the output; nothing more at the end. */
  protected override logJson(): void {}
}

/** "1" → 1000 ms; "0.5" → 500. */
export function parseInterval(v: string): number {
  const n = Number(v);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(v) || !(n >= 0.2 && n <= 3600)) throw new UsageError('BAD_INTERVAL', `--interval: "${v}" is not a number of seconds from 0.2 to 3600`, 'e.g. --interval 2');
  return Math.round(n * 1000);
}

function writeLine(s: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(s)) resolve();
    else process.stdout.once('drain', () => resolve());
  });
}
