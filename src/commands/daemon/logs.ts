import { statSync } from 'node:fs';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { daemonPaths, defaultStateDir, followLog, logTail } from '../../core/daemon/daemon-control.js';
import { NotFoundError } from '../../core/errors.js';

export default class DaemonLogs extends BaseCommand<typeof DaemonLogs> {
  static summary = "Print sipd's log (JSON lines), or follow it.";
  static examples = ['<%= config.bin %> daemon logs', '<%= config.bin %> daemon logs -n 0', '<%= config.bin %> daemon logs --follow'];
  static enableJsonFlag = false;
  static flags = {
    'state-dir': Flags.string({ description: 'sipd state directory (default $XDG_STATE_HOME/sipd or ~/.local/state/sipd)', env: 'SIPD_STATE_DIR' }),
    lines: Flags.integer({ char: 'n', description: 'last lines to print; 0 = the whole log', default: 100, min: 0 }),
    follow: Flags.boolean({ char: 'f', description: 'keep printing what is appended, until interrupted' }),
  };

  async run() {
    const { logFile } = daemonPaths(this.flags['state-dir'] ?? defaultStateDir());
    let size: number;
    try {
      size = statSync(logFile).size;
    } catch {
      throw new NotFoundError('DAEMON_NO_LOG', `no sipd log at ${logFile}`, 'sipctl daemon start writes it');
    }
    process.stdout.write(logTail(logFile, this.flags.lines));
    if (this.flags.follow) {
      const stop = new AbortController();
      const abort = () => stop.abort();
      process.once('SIGINT', abort);
      process.once('SIGTERM', abort);
      await followLog(logFile, size, (t) => process.stdout.write(t), stop.signal);
    }
    return { logFile };
  }
}
