/**
 * Login sessions of the web console, in memory (a restart logs everyone out): a random 32-byte
 * id (the `sipctl_session` cookie), the account, a CSRF token of its own, and idle expiry. The
 * CSRF token is compared in constant time; the id is the Map key and never logged.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { WebRole } from './accounts.js';

export interface WebSession {
  id: string;
  user: { name: string; role: WebRole };
  csrf: string;
  created: number;
  lastSeen: number;
}

export interface SessionStoreOptions {
  /** ms without a request before a session ends (default 30 min) */
  idleMs?: number;
  /** ms after login a session ends whatever happens (default 12 h) */
  maxAgeMs?: number;
  /** sessions kept at most; the least recently used goes first (default 10,000) */
  max?: number;
  now?: () => number;
}

export const DEFAULT_IDLE_MS = 30 * 60_000;
export const DEFAULT_MAX_AGE_MS = 12 * 3600_000;

export const newToken = (): string => randomBytes(32).toString('base64url');

/** Constant-time string compare (false when the lengths differ). */
export function sameToken(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SessionStore {
  private readonly sessions = new Map<string, WebSession>();
  readonly idleMs: number;
  readonly maxAgeMs: number;
  private readonly max: number;
  private readonly now: () => number;

  constructor(o: SessionStoreOptions = {}) {
    this.idleMs = o.idleMs ?? DEFAULT_IDLE_MS;
    this.maxAgeMs = o.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.max = o.max ?? 10_000;
    this.now = o.now ?? Date.now;
  }

  get size(): number {
    return this.sessions.size;
  }

  create(user: { name: string; role: WebRole }): WebSession {
    this.sweep();
    while (this.sessions.size >= this.max) this.sessions.delete(this.sessions.keys().next().value as string);
    const t = this.now();
    const s: WebSession = { id: newToken(), user: { name: user.name, role: user.role }, csrf: newToken(), created: t, lastSeen: t };
    this.sessions.set(s.id, s);
    return s;
  }

  /** The live session of this id (and it counts as used now), or undefined. */
  get(id: string | undefined): WebSession | undefined {
    if (!id || id.length > 64) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.lastSeen > this.idleMs || t - s.created > this.maxAgeMs) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastSeen = t;
    // Map order = least recently used first
    this.sessions.delete(id);
    this.sessions.set(id, s);
    return s;
  }

  /** The live session of this id without counting it as used (an event stream is not activity). */
  peek(id: string | undefined): WebSession | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const t = this.now();
    return t - s.lastSeen > this.idleMs || t - s.created > this.maxAgeMs ? undefined : s;
  }

  destroy(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  /** End every session of an account (after it was removed or its role changed). */
  destroyUser(name: string): number {
    let n = 0;
    for (const [id, s] of this.sessions) if (s.user.name === name) (this.sessions.delete(id), n++);
    return n;
  }

  sweep(): void {
    const t = this.now();
    for (const [id, s] of this.sessions) if (t - s.lastSeen > this.idleMs || t - s.created > this.maxAgeMs) this.sessions.delete(id);
  }
}
