/**
 * sipd's log lines: one line per event on one stream (stderr; `sipctl daemon start` points it at
 * the log file). JSON lines when the stream is not a TTY (or `logFormat: "json"`), so a log
 * shipper reads fields, not prose; `ts level msg key=value` on a TTY.
 *
 * Everything logged may hold bytes an attacker chose (a User-Agent, a username): JSON escapes
 * them, and the text form prints every field value through JSON.stringify when it holds anything
 * but plain printable characters, so no field can forge a line or drive a terminal.
 */
import type { Logger } from './module.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'text';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level?: LogLevel;
  format: LogFormat;
  /** receives each finished line, newline included */
  write(line: string): void;
  now?: () => number;
  /** fields added to every line (e.g. { module: 'pike' }) */
  base?: Record<string, unknown>;
}

export interface KernelLogger extends Logger {
  /** same sink and level, with extra fields on every line */
  child(fields: Record<string, unknown>): KernelLogger;
  readonly level: LogLevel;
}

const PLAIN = /^[\x21-\x7e]{1,200}$/;

function textValue(v: unknown): string {
  if (typeof v === 'string' && PLAIN.test(v) && !v.includes('"')) return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return safeJson(v);
}

/** JSON.stringify that never throws (BigInt, cycles) and keeps a line bounded. */
function safeJson(v: unknown): string {
  try {
    const s = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x instanceof Error ? { name: x.name, message: x.message } : x));
    return s === undefined ? 'null' : s;
  } catch {
    return '"[unserialisable]"';
  }
}

export function createLogger(opts: LoggerOptions): KernelLogger {
  const level = opts.level ?? 'info';
  const min = RANK[level];
  const now = opts.now ?? Date.now;
  const base = opts.base ?? {};

  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (RANK[lvl] < min) return;
    const ts = new Date(now()).toISOString();
    const all = { ...base, ...fields };
    let line: string;
    if (opts.format === 'json') {
      line = safeJson({ ts, level: lvl, msg, ...all });
    } else {
      // msg is our own text; control characters are still removed so it stays one line.
      line = `${ts} ${lvl.toUpperCase().padEnd(5)} ${msg.replace(/[\x00-\x1f\x7f]/g, ' ')}`;
      for (const [k, v] of Object.entries(all)) if (v !== undefined) line += ` ${k}=${textValue(v)}`;
    }
    try {
      opts.write(line + '\n');
    } catch {
      // A log sink that fails (EPIPE, disk full) must not take the proxy down.
    }
  };

  return {
    level,
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...opts, base: { ...base, ...fields } }),
  };
}

/** The format for a stream: JSON unless it is a TTY, or as configured. */
export function chooseFormat(configured: 'auto' | LogFormat, isTTY: boolean | undefined): LogFormat {
  if (configured !== 'auto') return configured;
  return isTTY ? 'text' : 'json';
}

/** Error → fields safe to log (message and code; stack only at debug). */
export function errorFields(e: unknown): Record<string, unknown> {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { error: e.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { error: String(e) };
}
