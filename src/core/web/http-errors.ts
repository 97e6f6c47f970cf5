/**
 * Errors of the web console and their HTTP status. A SipctlError's category decides the status
 * (src/core/web/API.md): usage 400, not-found 404, conflict 409, connection / remote / timeout /
 * protocol 502, everything else 500. Errors that only HTTP has (not logged in, CSRF, role,
 * locked out) are WebError with their own status. Anything that is not a SipctlError is a bug:
 * 500 with a generic message, never its text.
 */
import { SipctlError, isSipctlError, type ErrorCategory } from '../errors.js';

export class WebError extends SipctlError {
  override name = 'WebError';
  readonly status: number;
  /** seconds, for 429 */
  readonly retryAfter?: number;
  constructor(status: number, code: string, message: string, opts: { hint?: string; retryAfter?: number } = {}) {
    super(code, message, { category: 'usage', hint: opts.hint });
    this.status = status;
    this.retryAfter = opts.retryAfter;
  }
}

const STATUS: Record<ErrorCategory, number> = {
  usage: 400,
  'not-found': 404,
  conflict: 409,
  connection: 502,
  remote: 502,
  timeout: 502,
  protocol: 502,
  schema: 500,
  config: 500,
  internal: 500,
};

export interface ErrorBody {
  error: { code: string; message: string; hint?: string };
}

/** Status and body for any thrown value; `internal` = it was not a SipctlError (log it, do not show it). */
export function errorResponse(e: unknown): { status: number; body: ErrorBody; retryAfter?: number; internal: boolean } {
  if (e instanceof WebError) return { status: e.status, body: { error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } }, retryAfter: e.retryAfter, internal: false };
  if (isSipctlError(e)) {
    const status = STATUS[e.category] ?? 500;
    if (e.category === 'internal') return { status, body: { error: { code: 'INTERNAL', message: 'internal error (see the sipctl web log)' } }, internal: true };
    const message = e.message.split('\n').map((l) => l.trim()).filter(Boolean).join('; ');
    return { status, body: { error: { code: e.code, message, ...(e.hint ? { hint: e.hint } : {}) } }, internal: false };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error (see the sipctl web log)' } }, internal: true };
}
