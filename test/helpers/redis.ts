/**
 * A private redis-server (Debian's redis-server package) for tests: its own free port on
 * 127.0.0.1 and its own directory, no persistence, killed at the end (also when the test process
 * exits: an exit hook and a watchdog that outlives a killed runner). A redis-server already
 * running on 6379 is never touched. stop() and start() again keep the port, for tests of what
 * sipd does while Redis is away.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { toolsMissing } from './require.js';

export interface RedisServer {
  port: number;
  /** its unix socket too (mode 700): cluster.url unix://PATH */
  socketPath: string;
  /** start it again after stop() (same port, empty) */
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    let buf = '';
    c.setTimeout(500, () => (c.destroy(), resolve(false)));
    c.on('error', () => resolve(false));
    c.on('connect', () => c.write('PING\r\n'));
    c.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) {
        c.destroy();
        resolve(buf.startsWith('+PONG'));
      }
    });
  });
}

/** Start a private redis-server with its files under `parent`. */
export async function startRedis(parent: string): Promise<RedisServer> {
  const missing = toolsMissing('redis-server');
  if (missing !== undefined) throw new Error(`${missing} (install the redis-server package: scripts/install-deps.sh)`);
  const dir = join(parent, 'redis');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const socketPath = join(dir, 'redis.sock');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let watchdog: ChildProcess | undefined;
  const kill = () => child?.kill('SIGKILL');
  const start = async () => {
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--unixsocket', socketPath, '--unixsocketperm', '700', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    let out = '';
    c.stdout!.on('data', (d) => (out += d));
    c.stderr!.on('data', (d) => (out += d));
    let gone = false;
    exited = new Promise<void>((r) => c.on('exit', () => ((gone = true), r())));
    process.once('exit', kill);
    watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${c.pid} 2>/dev/null`], { detached: true, stdio: 'ignore' });
    watchdog.unref();
    const deadline = Date.now() + 20_000;
    while (!(await answers(port))) {
      if (gone || Date.now() > deadline) {
        kill();
        throw new Error(`redis-server did not start on 127.0.0.1:${port}:\n${out.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(kill, 10_000);
      await exited;
      clearTimeout(t);
    }
    process.removeListener('exit', kill);
    watchdog?.kill();
    child = undefined;
  };
  await start();
  return { port, socketPath, start, stop };
}
