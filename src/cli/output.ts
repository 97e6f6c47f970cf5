/**
 * Everything about how results look. Colour policy lives here and only here:
 * NO_COLOR / --no-color / CLICOLOR=0 turn it off, CLICOLOR_FORCE turns it on, otherwise a TTY decides.
 */
import type { ChalkInstance } from 'chalk';

export interface OutputPolicy {
  color: boolean;
  tty: boolean;
}

export function outputPolicy(opts: { noColor?: boolean; env?: NodeJS.ProcessEnv; stream?: NodeJS.WriteStream } = {}): OutputPolicy {
  const env = opts.env ?? process.env;
  const stream = opts.stream ?? process.stdout;
  const tty = !!stream.isTTY;
  let color = tty;
  if (env.CLICOLOR === '0') color = false;
  if (env.CLICOLOR_FORCE && env.CLICOLOR_FORCE !== '0') color = true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') color = false;
  if (opts.noColor) color = false;
  return { color, tty };
}

let chalkInstance: ChalkInstance | undefined;
export async function getChalk(policy: OutputPolicy): Promise<ChalkInstance> {
  if (!chalkInstance) {
    const { Chalk } = await import('chalk');
    chalkInstance = new Chalk({ level: policy.color ? 1 : 0 });
  }
  return chalkInstance;
}

/**
 * Values from a database or a proxy are untrusted: control characters and escape sequences
 * are shown escaped so they cannot drive the terminal.
 */
export function sanitize(value: unknown): string {
  if (value === null || value === undefined) return '';
  const s = String(value);
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => {
    const code = c.charCodeAt(0);
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : c;
  });
}

export interface Column<T> {
  header: string;
  get: (row: T) => unknown;
}

/**
 * A table for people on a TTY (cli-table3), tab-separated rows with no decoration when piped,
 * so `cut`/`awk` work on it.
 */
export async function renderTable<T>(rows: T[], columns: Column<T>[], policy: OutputPolicy): Promise<string> {
  if (!policy.tty) {
    return rows.map((r) => columns.map((c) => sanitize(c.get(r)).replace(/\t/g, ' ')).join('\t')).join('\n');
  }
  const { default: Table } = await import('cli-table3');
  const chalk = await getChalk(policy);
  const table = new Table({
    head: columns.map((c) => chalk.bold(c.header)),
    style: { head: [], border: [] },
  });
  for (const r of rows) table.push(columns.map((c) => sanitize(c.get(r))));
  return table.toString();
}

/** Key/value block for a single record. */
export async function renderRecord(pairs: Array<[string, unknown]>, policy: OutputPolicy): Promise<string> {
  if (!policy.tty) return pairs.map(([k, v]) => `${k}\t${sanitize(v)}`).join('\n');
  const chalk = await getChalk(policy);
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${chalk.bold(k.padStart(width))}: ${sanitize(v)}`).join('\n');
}
