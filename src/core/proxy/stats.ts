import { ValidationError } from '../errors.js';
import type { RpcClient } from '../rpc/client.js';
import { mapUnsupported } from './remote.js';

/*
 * The running proxy's statistics (kex stats.get_statistics) and processes (core.psx), typed.
 * One proxy per call; commands fan out.
 */

/** One statistic: kex's "group:name = value" as a typed record. */
export interface StatRow {
  group: string;
  name: string;
  value: number;
}

const STAT_LINE = /^\s*([^:\s]+):(\S+)\s*=\s*(-?\d+(?:\.\d+)?)\s*$/;

/** kex's lines, typed; lines that are not "group:name = number" are left out. */
export function parseStatLines(lines: unknown): StatRow[] {
  const out: StatRow[] = [];
  for (const l of Array.isArray(lines) ? lines : []) {
    const m = STAT_LINE.exec(String(l));
    if (m) out.push({ group: m[1]!, name: m[2]!, value: Number(m[3]) });
  }
  return out;
}

/** What a user may ask for: all, GROUP, GROUP:, GROUP:NAME or NAME. */
export function validateStatSelector(s: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(s)) throw new ValidationError('statistic', `"${s}" is not a statistic or group name`, 'e.g. all, core, usrloc:, core:rcv_requests or rcv_requests');
  return s;
}

/**
 * stats.get_statistics for each selector. A bare word is a group first (`usrloc` = `usrloc:`,
 * as kamcli reads it) and, when no group has that name, a statistic name (`rcv_requests`).
 * Rows appear once, in the order asked.
 */
export async function fetchStats(c: RpcClient, selectors: string[]): Promise<StatRow[]> {
  const ask = async (arg: string): Promise<StatRow[]> => {
    try {
      return parseStatLines(await c.call<string[]>('stats.get_statistics', [arg]));
    } catch (e) {
      throw mapUnsupported(e, 'stats.get_statistics', 'Kamailio needs the kex module');
    }
  };
  const out: StatRow[] = [];
  const seen = new Set<string>();
  for (const sel of selectors.length ? selectors : ['all']) {
    validateStatSelector(sel);
    let rows = await ask(sel);
    if (rows.length === 0 && sel !== 'all' && !sel.includes(':')) rows = await ask(`${sel}:`);
    for (const r of rows) {
      const k = `${r.group}:${r.name}`;
      if (!seen.has(k)) {
        seen.add(k);
        out.push(r);
      }
    }
  }
  return out;
}

/** One process of the proxy (core.psx: IDX, PID, DSC). */
export interface ProcessRow {
  idx: number;
  pid: number;
  description: string;
}

export async function listProcesses(c: RpcClient): Promise<ProcessRow[]> {
  let r: unknown;
  try {
    r = await c.call('core.psx');
  } catch (e) {
    throw mapUnsupported(e, 'core.psx');
  }
  return (Array.isArray(r) ? r : []).map((p: { IDX?: unknown; PID?: unknown; DSC?: unknown }) => ({ idx: Number(p.IDX), pid: Number(p.PID), description: String(p.DSC ?? '') }));
}
