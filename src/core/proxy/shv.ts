import { NotFoundError, ValidationError } from '../errors.js';
import type { RpcClient } from '../rpc/client.js';
import { mapUnsupported, remoteDetails } from './remote.js';

/*
 * Shared variables of the running proxy ($shv(name): Kamailio's pv module, pv.shvGet /
 * pv.shvSet; sipd's pv module the same). A variable exists only when the proxy's configuration
 * declares it (modparam("pv", "shvset", "name=i:0")); pv.shvSet cannot create one.
 */

export interface ShvVar {
  name: string;
  type: 'int' | 'str';
  value: number | string;
}

export interface ShvChange {
  name: string;
  type: 'int' | 'str';
  value: number | string;
  /** The proxy's own words ("Ok. Variable set to new value."), or what would happen. */
  message: string;
  dryRun?: boolean;
}

export function validateShvName(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new ValidationError('name', `"${name}" is not a shared variable name`, 'letters, digits, _ . - (as in $shv(name))');
  return name;
}

type RawShv = { name?: unknown; type?: unknown; value?: unknown };
const toVar = (v: RawShv): ShvVar => ({ name: String(v.name), type: v.type === 'int' ? 'int' : 'str', value: v.type === 'int' ? Number(v.value) : String(v.value ?? '') });

function notFound(e: unknown, name: string): unknown {
  const d = remoteDetails(e);
  if (d && /variable not found/i.test(d.rpcMessage)) return new NotFoundError('SHV_NOT_FOUND', `no shared variable ${name} on this proxy`, 'only variables the proxy configuration declares exist, e.g. Kamailio modparam("pv", "shvset", "name=i:0")');
  return mapUnsupported(e, 'pv.shvGet', 'Kamailio needs the pv module');
}

/**
 * pv.shvGet: one variable, or every one. Kamailio 5.6 answers the list as ONE object whose key
 * "shv" repeats once per variable, so over JSON-RPC only the last variable arrives (kamcmd's
 * binrpc shows them all); an array form is accepted too. A name always gets its own answer.
 */
export async function getShv(c: RpcClient, name?: string): Promise<ShvVar[]> {
  if (name !== undefined) validateShvName(name);
  let r: unknown;
  try {
    r = await c.call('pv.shvGet', name === undefined ? undefined : [name]);
  } catch (e) {
    throw notFound(e, name ?? '');
  }
  if (name !== undefined) return [toVar(r as RawShv)];
  const items = (r as { items?: unknown } | null)?.items;
  const out: ShvVar[] = [];
  const collect = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(collect);
    else if (v && typeof v === 'object' && 'shv' in v) collect((v as { shv: unknown }).shv);
    else if (v && typeof v === 'object' && 'name' in v) out.push(toVar(v as RawShv));
  };
  collect(items);
  return out;
}

/**
 * pv.shvSet. Without `type` the variable keeps its current type (read first, which also makes
 * an unknown variable exit 3 before anything is written). Kamailio stores 0 for an int value
 * that is not a number, so int values are checked here.
 */
export async function setShv(c: RpcClient, name: string, value: string, opts: { type?: 'int' | 'str'; dryRun?: boolean } = {}): Promise<ShvChange> {
  validateShvName(name);
  const [current] = await getShv(c, name);
  const type = opts.type ?? current!.type;
  const v: number | string = type === 'int' ? shvInt(value) : value;
  if (type === 'str' && /[\x00-\x08\x0a-\x1f\x7f]/.test(value)) throw new ValidationError('value', 'must not contain control characters');
  if (opts.dryRun) return { name, type, value: v, message: `would set ${name} to ${type === 'int' ? v : JSON.stringify(v)} (now ${JSON.stringify(current!.value)})`, dryRun: true };
  let message: unknown;
  try {
    message = await c.call('pv.shvSet', [name, type, v]);
  } catch (e) {
    throw notFound(e, name);
  }
  return { name, type, value: v, message: String(message) };
}

/** An int shared variable holds a C int. */
function shvInt(value: string): number {
  const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < -2147483648 || n > 2147483647) throw new ValidationError('value', `"${value}" is not an integer between -2147483648 and 2147483647`, 'use --type str for a string value');
  return n === 0 ? 0 : n;
}

export const SHV_TYPES = ['int', 'str'] as const;
