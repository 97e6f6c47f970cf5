/**
 * The BUILT `sipctl web` as a child process, and a small browser-like client for its API (one
 * cookie jar, the CSRF token from login). Used by test/commands/web*.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { SIPCTL } from '../../helpers/cli.js';
import { assertFreshBuild } from '../../helpers/build.js';

export interface WebProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

/** Start `sipctl web --listen 127.0.0.1:0 --json …`; resolves once it printed {url}. */
export function startWeb(env: NodeJS.ProcessEnv, extra: string[] = [], listen = '127.0.0.1:0'): Promise<WebProcess> {
  assertFreshBuild();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SIPCTL, 'web', '--listen', listen, '--json', ...extra], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let done = false;
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const kill = () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    };
    process.once('exit', kill);
    const timer = setTimeout(() => {
      kill();
      if (!done) reject(new Error(`sipctl web did not start:\n${out}\n${err}`));
    }, 20_000);
    child.stderr!.setEncoding('utf8').on('data', (d) => (err += d));
    child.stdout!.setEncoding('utf8').on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (!done && nl >= 0) {
        done = true;
        clearTimeout(timer);
        try {
          const { url } = JSON.parse(out.slice(0, nl)) as { url: string };
          resolve({
            url,
            child,
            output: () => out + err,
            stop: async () => {
              if (child.exitCode === null) child.kill('SIGTERM');
              const t = setTimeout(kill, 5000);
              const code = await exited;
              clearTimeout(t);
              return code;
            },
          });
        } catch (e) {
          kill();
          reject(new Error(`sipctl web printed no {url}: ${out}\n${err} (${(e as Error).message})`));
        }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!done) {
        done = true;
        reject(new Error(`sipctl web exited ${code} before listening:\n${out}\n${err}`));
      }
    });
  });
}

export interface Reply<T = any> {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: T;
}

/** One HTTP request with the raw path as given (no URL normalisation: `..` reaches the server). */
export function request(base: string, method: string, path: string, opts: { headers?: Record<string, string>; body?: string | Buffer; ca?: string } = {}): Promise<Reply> {
  const u = new URL(base);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request({ host: u.hostname, port: u.port, method, path, ...(opts.ca ? { ca: opts.ca } : {}), headers: { ...(opts.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(opts.body)) } : {}), ...opts.headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A logged-in (or not) browser: cookie and CSRF token. */
export class WebClient {
  cookie?: string;
  csrf?: string;
  constructor(readonly base: string) {}

  async login(name: string, password: string): Promise<Reply> {
    const r = await request(this.base, 'POST', '/api/login', { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name, password }) });
    const set = r.headers['set-cookie']?.[0];
    if (r.status === 200 && set) {
      this.cookie = set.split(';')[0];
      this.csrf = r.json.data.csrf;
    }
    return r;
  }

  /** JSON request with the session cookie, and the CSRF token unless `csrf: false`. */
  call(method: string, path: string, body?: unknown, o: { csrf?: boolean; headers?: Record<string, string> } = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...o.headers };
    if (this.cookie) headers.Cookie = this.cookie;
    if (method !== 'GET' && o.csrf !== false && this.csrf) headers['X-CSRF-Token'] = this.csrf;
    let payload: string | undefined;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    return request(this.base, method, path, { headers, body: payload });
  }
}
