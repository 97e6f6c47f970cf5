import type { RpcClient } from '../rpc/client.js';
import { callMethod } from '../rpc/methods.js';

export interface NodeHealth {
  /** e.g. "kamailio 5.6.3 (x86_64/linux)". */
  version: string;
  /** Seconds since start. */
  uptime: number;
  /** The proxy's own ctime() text. */
  upSince: string;
  /** Round trip of the two calls, ms. */
  latencyMs: number;
  /** The transport actually used (http, fifo, unix-dgram, unix-stream). */
  transport: string;
}

/** core.version and core.uptime: is this proxy alive, what is it, since when. */
export async function nodeHealth(c: RpcClient): Promise<NodeHealth> {
  const t0 = performance.now();
  const version = await callMethod(c, 'core.version');
  const up = await callMethod(c, 'core.uptime');
  return {
    version: String(version).trim(),
    uptime: Number(up?.uptime),
    upSince: String(up?.up_since ?? ''),
    latencyMs: Math.round((performance.now() - t0) * 10) / 10,
    transport: c.kind(),
  };
}

export async function nodeUptime(c: RpcClient): Promise<{ uptime: number; upSince: string; now: string }> {
  const up = await callMethod(c, 'core.uptime');
  return { uptime: Number(up?.uptime), upSince: String(up?.up_since ?? ''), now: String(up?.now ?? '') };
}

export async function nodeVersion(c: RpcClient): Promise<{ version: string }> {
  return { version: String(await callMethod(c, 'core.version')).trim() };
}

/** 93784 → "1d 2h 3m 4s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  let s = Math.floor(seconds);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.join(' ');
}
