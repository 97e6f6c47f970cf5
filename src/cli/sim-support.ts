/** Flags and key sourcing shared by the sim commands that take key material (opc, add, import) and show records. */
import { Flags, type Interfaces } from '@oclif/core';
import type { ResolvedConfig } from '../core/config/config.js';
import type { Kek } from '../core/sim/kek.js';
import { UsageError } from '../core/errors.js';
import { createKeyReader, type KeyInput, type KeyReader } from '../core/sim/key-input.js';
import type { SimView } from '../core/sim/sim-records.js';
import { canPrompt, promptSecret, readStdinValue } from './prompt.js';

const KEY_NAMES = { ki: 'Ki (subscriber key)', op: 'OP (operator key)', opc: 'OPc' } as const;

/** --ki/--ki-file, --op/--op-file, --opc/--opc-file: the value, or a file (path or - for stdin). */
export function keyFlags<N extends keyof typeof KEY_NAMES>(name: N, opts: { prompt?: boolean } = {}) {
  const prefer = opts.prompt === false ? `--${name}-file` : `--${name}-file or the prompt`;
  return {
    // No oclif `exclusive`: its message quotes the flag's value (a key); the key reader refuses both, naming only the flags.
    [name]: Flags.string({ description: `${KEY_NAMES[name]}, 32 hex digits (visible in process lists: prefer ${prefer})` }),
    [`${name}-file`]: Flags.string({ description: `read ${KEY_NAMES[name].replace(/ \(.*\)/, '')} from this file (32 hex digits), or - for standard input` }),
  } as Record<N | `${N}-file`, Interfaces.OptionFlag<string | undefined>>;
}

export function keyReader(stdinTaken?: string): KeyReader {
  return createKeyReader(readStdinValue, { stdinTaken });
}

/**
 * A key from its flag or file; when neither is given: a hidden prompt on a terminal, else a usage
 * error naming the flags (`also` lists alternatives, e.g. "--op or --random-op").
 */
export async function obtainKey(reader: KeyReader, input: KeyInput, opts: { required: boolean; also?: string }): Promise<string | undefined> {
  const v = await reader.read(input);
  if (v !== undefined || !opts.required) return v;
  const ways = `${input.flag}-file PATH (- for standard input) or ${input.flag}${opts.also ? `, or ${opts.also}` : ''}`;
  if (!canPrompt() || reader.stdinUsed) {
    throw new UsageError('MISSING_KEY', `${input.field}: missing: give ${ways}`, 'on a terminal sipctl asks for it');
  }
  return promptSecret(`${input.field === 'ki' ? 'Ki' : input.field === 'opc' ? 'OPc' : 'OP'} (32 hex digits, hidden):`, ways);
}

export function simPairs(s: SimView): Array<[string, unknown]> {
  return [
    ['imsi', s.imsi],
    ['iccid', s.iccid ?? ''],
    ['msisdn', s.msisdn ?? ''],
    ['ki', s.ki],
    ['opc', s.opc],
    ['amf', s.amf],
    ['sqn', s.sqn],
    ['batch', s.batch ?? ''],
    ['vendor', s.vendor ?? ''],
    ['created', s.createdAt],
    ['updated', s.updatedAt],
  ];
}

/**
 * The key-encryption key for SIM keys at rest: SIPCTL_SIM_KEK (hex, environment only) or the 0600
 * file named by SIPCTL_SIM_KEK_FILE / the config key simKekFile. Never a flag. None: plain storage.
 */
export async function configuredKek(cfg: ResolvedConfig): Promise<Kek | undefined> {
  const { resolveKek } = await import('../core/sim/kek.js');
  return resolveKek({ hex: process.env.SIPCTL_SIM_KEK, file: cfg.values.simKekFile });
}

export const revealFlag = Flags.boolean({ description: 'show Ki and OPc (masked as **** otherwise, also with --json)' });
