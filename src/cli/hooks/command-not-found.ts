/**
 * oclif's command_not_found hook: an unknown command is a usage error (exit 2) with a "did you
 * mean", one line on stderr, or the JSON error document under --json. Loaded only when needed.
 */
import type { Hook } from '@oclif/core';
import { EXIT_CODES } from '../exit-codes.js';

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length][b.length];
}

/** The closest command ids (space-separated), best first; none when nothing is close. */
export function suggestCommands(typed: string, ids: string[]): string[] {
  const t = typed.replace(/:/g, ' ');
  const scored = ids.map((id) => id.replace(/:/g, ' ')).map((id) => ({ id, d: distance(t, id) }));
  const limit = Math.max(2, Math.floor(t.length / 3));
  return scored.filter((s) => s.d <= limit).sort((a, b) => a.d - b.d || a.id.localeCompare(b.id)).slice(0, 3).map((s) => s.id);
}

const hook: Hook.CommandNotFound = async function (opts) {
  const typed = opts.id.replace(/:/g, ' ');
  const ids = opts.config.commandIDs.filter((id) => !opts.config.findCommand(id)?.hidden);
  const near = suggestCommands(typed, ids);
  const message = `unknown command "${typed}"`;
  const hint = near.length ? `did you mean ${near.map((n) => `"sipctl ${n}"`).join(' or ')}?` : 'see `sipctl --help` for the list of commands';
  const exitCode = EXIT_CODES.usage;
  if ((opts.argv ?? []).includes('--json') || process.argv.includes('--json')) {
    process.stderr.write(JSON.stringify({ error: { code: 'UNKNOWN_COMMAND', category: 'usage', message, hint, ...(near.length ? { details: { suggestions: near } } : {}), exitCode } }) + '\n');
  } else {
    process.stderr.write(`sipctl: ${message} (${hint})\n`);
  }
  this.exit(exitCode);
};

export default hook;
