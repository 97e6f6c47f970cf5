/**
 * The scanner module: requests whose User-Agent names a known SIP scanner are dropped silently
 * (default: a scanner learns nothing, not even that a proxy is there) or answered 200 OK (some
 * operators prefer to look like a dead end), and logged as a security event — the playbook's
 *
 *   if ($ua =~ "friendly-scanner|sipvicious|…") exit;
 *
 * Matching is a case-insensitive substring test against each entry of `user_agents`.
 *
 * Note: the default list includes "sipsak", the scanner-turned-test-tool. A deployment (or a test)
 * that uses sipsak as a legitimate client must set `user_agents` without it.
 */
import type { CoreApi, RequestContext, StageResult } from '../../kernel/contracts.js';
import { type ModuleContext, type ParamValues, defineModule } from '../../kernel/module.js';

export interface ScannerApi {
  /** `continue`, `drop` (scanner, action drop) or `reply` 200 (scanner, action reply) */
  check(ctx: RequestContext): StageResult;
}

export const DEFAULT_SCANNER_USER_AGENTS = 'friendly-scanner,sipvicious,sipcli,sundayddr,sip-scan,iWar,sipsak';

const params = {
  user_agents: { type: 'string', default: DEFAULT_SCANNER_USER_AGENTS, doc: 'comma-separated User-Agent fragments (case-insensitive substrings); empty turns the filter off' },
  action: { type: 'string', default: 'drop', choices: ['drop', 'reply'] as const, doc: 'drop: no answer at all; reply: 200 OK' },
} as const;

type Params = ParamValues<typeof params>;

/** The patterns, lower-cased; empty entries ignored. */
export function parseUserAgents(list: string): string[] {
  return list.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0);
}

/** The first pattern found in `ua`, or undefined. */
export function matchScanner(ua: string, patterns: readonly string[]): string | undefined {
  const l = ua.toLowerCase();
  return patterns.find((p) => l.includes(p));
}

export function createScannerModule() {
  let ctx: ModuleContext<Params> | undefined;
  let patterns = parseUserAgents(DEFAULT_SCANNER_USER_AGENTS);
  let action: 'drop' | 'reply' = 'drop';
  let caught = 0;

  const configure = (c: ModuleContext<Params>) => {
    // Built first, swapped in whole (habit 8).
    const next = parseUserAgents(c.params.user_agents);
    ctx = c;
    patterns = next;
    action = c.params.action as 'drop' | 'reply';
  };

  const api: ScannerApi = {
    check(rc) {
      if (patterns.length === 0) return { action: 'continue' };
      let ua = '';
      for (const h of rc.msg.headers) if (h.key === 'user-agent') ua += (ua ? ' ' : '') + h.value;
      if (ua === '') return { action: 'continue' };
      const hit = matchScanner(ua, patterns);
      if (hit === undefined) return { action: 'continue' };
      caught++;
      const uri = rc.msg.from?.uri;
      const user = uri !== undefined && uri.kind === 'sip' ? uri.user : undefined;
      ctx?.api<CoreApi>('core')?.securityEvent({
        event: 'scanner-dropped',
        sourceIp: rc.source.ip,
        method: rc.msg.method,
        ...(user !== undefined ? { user } : {}),
        detail: `User-Agent ${JSON.stringify(ua.slice(0, 64))} matches ${JSON.stringify(hit)}; ${action === 'drop' ? 'dropped' : 'answered 200'}`,
      });
      if (action === 'reply') return { action: 'reply', reply: { status: 200, reason: 'OK' } };
      return { action: 'drop', why: 'scanner' };
    },
  };

  return defineModule({
    name: 'scanner',
    params,
    init: configure,
    reload: configure,
    destroy() {},
    rpc: {
      'scanner.stats': {
        doc: 'sipd: requests caught by the scanner filter since start, the patterns and the action',
        handler: () => ({ caught, action, user_agents: [...patterns] }),
      },
    },
    api,
  });
}
