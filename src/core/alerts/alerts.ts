/**
 * sipctl's side of sipd's alerts module (issue 13): send a test alert, read the last ones.
 * The alert document is the one sipd's webhooks receive (src/daemon/modules/alerts/README.md).
 */
import { ValidationError } from '../errors.js';
import type { RpcClient } from '../rpc/client.js';

export interface AlertDocument {
  version: 1;
  id: string;
  type: string;
  key: string;
  severity: 'critical' | 'warning' | 'notice' | 'info';
  time: string;
  host: string;
  summary: string;
  details: Record<string, string | number | boolean>;
  suppressed: number;
}

export interface AlertTestResult {
  alert: AlertDocument;
  /** where it went: "webhook https://…", "exec /path", "syslog /dev/log"; empty = only sipd's log */
  sinks: string[];
}

export async function sendTestAlert(c: RpcClient, message?: string): Promise<AlertTestResult> {
  if (message !== undefined && (message.length === 0 || message.length > 200)) throw new ValidationError('message', 'expected 1 to 200 characters');
  return c.call<AlertTestResult>('alerts.test', message === undefined ? [] : [message]);
}

/** n: 1..10000 */
export function parseCount(text: string): number {
  if (!/^\d{1,5}$/.test(text.trim()) || Number(text) < 1) throw new ValidationError('limit', `"${text}" is not a count`, 'a number from 1 to 10000');
  return Math.min(10_000, Number(text));
}

export async function recentAlerts(c: RpcClient, n: number): Promise<AlertDocument[]> {
  return (await c.call<{ alerts: AlertDocument[] }>('alerts.recent', [n])).alerts;
}
