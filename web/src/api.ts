// The one way the console talks to `sipctl web` (contract: src/core/web/API.md).
// JSON in and out; the session cookie travels by itself (HttpOnly, SameSite=Strict), the CSRF
// token that /api/login and /api/session hand out goes in X-CSRF-Token on every change.

export type Role = 'viewer' | 'operator';
export interface User { name: string; role: Role }
export interface Session { user: User; csrf: string }

/** A successful answer: the data, the CLI's warnings and the equivalent sipctl command line. */
export interface Reply<T = unknown> { data: T; warnings?: string[]; command?: string }

/** An error answer of the server (or of the network), with its code for the page to show. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly hint?: string, readonly retryAfter?: number) {
    super(message);
  }
}

let csrf = '';
let onUnauthenticated: (() => void) | undefined;

export function setCsrf(token: string): void {
  csrf = token;
}
/** Called when a request answers 401: the session ended (expired, logged out elsewhere). */
export function whenUnauthenticated(fn: () => void): void {
  onUnauthenticated = fn;
}

export interface CallOptions { body?: unknown; raw?: Blob | ArrayBuffer | string; headers?: Record<string, string>; quiet401?: boolean }

export async function call<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  let body: BodyInit | undefined;
  if (opts.raw !== undefined) {
    body = opts.raw;
    headers['Content-Type'] ??= 'application/octet-stream';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['Content-Type'] = 'application/json';
  }
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'NETWORK', 'the console cannot reach sipctl web', 'is `sipctl web` still running?');
  }
  let json: any;
  try {
    json = await res.json();
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = json?.error ?? {};
    const retry = Number(res.headers.get('Retry-After')) || undefined;
    if (res.status === 401 && !opts.quiet401) onUnauthenticated?.();
    throw new ApiError(res.status, String(e.code ?? `HTTP_${res.status}`), String(e.message ?? `${res.status} ${res.statusText}`), e.hint === undefined ? undefined : String(e.hint), retry);
  }
  return (json ?? { data: undefined }) as Reply<T>;
}

export const get = <T = unknown>(path: string) => call<T>('GET', path);
export const post = <T = unknown>(path: string, body?: unknown) => call<T>('POST', path, { body: body ?? {} });
export const put = <T = unknown>(path: string, body?: unknown) => call<T>('PUT', path, { body: body ?? {} });
export const del = <T = unknown>(path: string, body?: unknown) => call<T>('DELETE', path, body === undefined ? {} : { body });

/** `/api/x?a=1&b=2`, leaving out empty values. */
export function withQuery(path: string, q: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}

export const seg = (s: string | number) => encodeURIComponent(String(s));
