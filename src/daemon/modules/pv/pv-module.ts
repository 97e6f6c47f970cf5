/**
 * The pv module's shared variables ($shv(name) in Kamailio): named int or string values the
 * configuration declares, read and changed at run time over RPC (pv.shvGet / pv.shvSet, with
 * Kamailio 5.6's result shapes and fault messages; pv_shv.c). A typical use is a switch such as
 * "maintenance mode" that an operator flips without a restart.
 *
 * Like Kamailio, pv.shvSet cannot create a variable: the `shvset` parameter declares them
 * ("maint=i:0,motd=s:hello", Kamailio's modparam("pv", "shvset", "maint=i:0") repeated). The
 * store lives in the instance (habit 8); other modules read it through the API.
 */
import { ConfigError } from '../../../core/errors.js';
import { defineModule, rpcArgs, type RpcParams } from '../../kernel/module.js';
import { RpcFault, invalidParams } from '../../kernel/rpc-fault.js';

export type ShvValue = { type: 'int'; value: number } | { type: 'str'; value: string };

export interface PvApi {
  /** The variable's value; undefined when the configuration does not declare it. */
  shvGet(name: string): ShvValue | undefined;
}

const params = {
  shvset: { type: 'string', default: '', doc: 'shared variables and their start values: name=i:INT or name=s:TEXT, comma-separated (Kamailio modparam("pv", "shvset", …))' },
} as const;

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_VARS = 1024;
const MAX_STR = 1024;

/** "maint=i:0,motd=s:hello" → declarations; a bad entry is a ConfigError naming it. */
export function parseShvset(spec: string): Map<string, ShvValue> {
  const out = new Map<string, ShvValue>();
  for (const raw of spec.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const m = /^([^=]+)=([is]):(.*)$/s.exec(entry);
    const bad = (why: string) => new ConfigError('MODULE_PARAM_INVALID', `pv.shvset: ${JSON.stringify(entry.slice(0, 80))} ${why}`, 'write name=i:INT or name=s:TEXT, e.g. maint=i:0,motd=s:hello');
    if (m === null) throw bad('is not name=i:INT or name=s:TEXT');
    const name = m[1]!.trim();
    if (!NAME.test(name)) throw bad('has a bad name (letters, digits, _ . -)');
    if (m[2] === 'i') {
      const n = /^[+-]?\d+$/.test(m[3]!.trim()) ? Number(m[3]!.trim()) : NaN;
      if (!Number.isSafeInteger(n) || n < -2147483648 || n > 2147483647) throw bad('has a value that is not a C int');
      out.set(name, { type: 'int', value: n });
    } else {
      if (m[3]!.length > MAX_STR) throw bad(`has a value longer than ${MAX_STR} characters`);
      out.set(name, { type: 'str', value: m[3]! });
    }
    if (out.size > MAX_VARS) throw bad(`is one too many (at most ${MAX_VARS} variables)`);
  }
  return out;
}

/** One variable as Kamailio's pv.shvGet answers it (type "int" or "string"). */
function shvJson(name: string, v: ShvValue): { name: string; type: 'int' | 'string'; value: number | string } {
  return { name, type: v.type === 'int' ? 'int' : 'string', value: v.value };
}

export function createPvModule() {
  let vars = new Map<string, ShvValue>();

  const api: PvApi = { shvGet: (name) => vars.get(name) };

  return defineModule({
    name: 'pv',
    params,
    init(ctx) {
      vars = parseShvset(ctx.params.shvset);
    },
    /** SIGHUP: declarations added or removed; variables that stay keep their current value. */
    reload(ctx) {
      const next = parseShvset(ctx.params.shvset);
      for (const [name, v] of next) {
        const cur = vars.get(name);
        if (cur !== undefined && cur.type === v.type) next.set(name, cur);
      }
      vars = next;
    },
    destroy() {
      vars = new Map();
    },
    rpc: {
      'pv.shvGet': {
        doc: 'Get the value of a shared variable, or of all: pv.shvGet [name]',
        handler(p: RpcParams) {
          const [name] = rpcArgs(p, ['name']);
          if (name !== undefined) {
            if (typeof name !== 'string') throw invalidParams('name must be a string');
            const v = vars.get(name);
            if (v === undefined) throw new RpcFault(404, 'Variable not found');
            return shvJson(name, v);
          }
          // Kamailio repeats the key "shv" once per variable inside one object, which JSON
          // cannot carry; sipd keeps Kamailio's shape for none or one variable and gives an
          // array under "shv" for several.
          const all = [...vars].map(([n, v]) => shvJson(n, v));
          return { items: all.length === 0 ? {} : { shv: all.length === 1 ? all[0] : all } };
        },
      },
      'pv.shvSet': {
        doc: 'Set the value of a shared variable: pv.shvSet <name> <int|str> <value>',
        handler(p: RpcParams) {
          const [name, type, value] = rpcArgs(p, ['name', 'type', 'value']);
          if (typeof name !== 'string') throw new RpcFault(500, 'Missing parameter varname (Parameters: varname type value)');
          if (typeof type !== 'string') throw new RpcFault(500, 'Missing parameter type (Parameters: varname type value)');
          if (value === undefined) throw new RpcFault(500, 'Missing parameter value (Parameters: varname type value)');
          const t = type.toLowerCase();
          if (t !== 'int' && t !== 'str') throw new RpcFault(500, 'Unknown parameter type (Types: int or str)');
          const cur = vars.get(name);
          if (cur === undefined) throw new RpcFault(404, 'Variable not found');
          if (t === 'int') {
            const n = typeof value === 'number' ? value : typeof value === 'string' && /^[+-]?\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
            // Kamailio would store 0 for a value that is not a number; sipd refuses it
            if (!Number.isSafeInteger(n) || n < -2147483648 || n > 2147483647) throw invalidParams('value must be an integer in C int range');
            vars.set(name, { type: 'int', value: n });
          } else {
            const s = typeof value === 'string' ? value : typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
            if (s === undefined) throw invalidParams('value must be a string');
            if (s.length > MAX_STR) throw invalidParams(`value is longer than ${MAX_STR} characters`);
            vars.set(name, { type: 'str', value: s });
          }
          return 'Ok. Variable set to new value.';
        },
      },
    },
    api,
  });
}
