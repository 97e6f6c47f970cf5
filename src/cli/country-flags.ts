/** Flags the country rule commands share. */
import { Flags } from '@oclif/core';
import { SCOPES, type Scope } from '../core/country/country-rules.js';

export const scopeFlags = {
  for: Flags.string({ description: 'which traffic: register, subscriber (calls of everyone but carriers), carrier; repeatable; default all three', options: [...SCOPES], multiple: true }),
  user: Flags.string({ description: 'a subscriber (name without domain): its home countries instead of a scope' }),
};

export function scopesOf(v: string[] | undefined): Scope[] | undefined {
  return v === undefined || v.length === 0 ? undefined : [...new Set(v)] as Scope[];
}
