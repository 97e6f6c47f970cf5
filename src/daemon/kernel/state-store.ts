/**
 * The kernel's state store: module state (PersistentState) saved as one JSON file per module in
 * the state directory — `<dir>/<module>.state.json` — so it survives a restart (saved at
 * shutdown) and a crash (saved periodically while it changes).
 *
 * Every save is atomic: write a temporary file in the same directory, fsync it, rename it over
 * the old one, fsync the directory. A crash at any moment leaves either the old file or the new
 * one, never a torn mix. Files are created 0600 (bans and lockouts name users and addresses).
 * A file that cannot be read back (corrupt, hand-edited) is moved aside and the module starts
 * empty: sipd logs it and keeps running.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PersistentState } from './contracts.js';
import type { Logger } from './module.js';

export function stateFile(dir: string, module: string): string {
  return join(dir, `${module}.state.json`);
}

/** Write `text` to `path` atomically (temp file + fsync + rename + directory fsync), mode 0600. */
export function writeFileAtomic(path: string, text: string, dir: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  try {
    const d = openSync(dir, 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  }
}

export class StateStore {
  private timer: NodeJS.Timeout | undefined;
  private readonly states: Array<[string, PersistentState]> = [];

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  add(module: string, state: PersistentState): void {
    this.states.push([module, state]);
  }

  /** Hand each module what it saved last time. */
  loadAll(): void {
    for (const [module, state] of this.states) {
      const path = stateFile(this.dir, module);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.log.error('cannot read state file', { module, path, error: (e as Error).message });
        continue;
      }
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch (e) {
        const aside = `${path}.corrupt-${Date.now()}`;
        try {
          renameSync(path, aside);
        } catch (r) {
          // the module starts empty either way; the next save replaces the file
          this.log.error('state file is not valid JSON and could not be moved aside; starting empty', { module, path, error: (e as Error).message, renameError: (r as Error).message });
          continue;
        }
        this.log.error('state file is not valid JSON; moved aside, starting empty', { module, path: aside, error: (e as Error).message });
        continue;
      }
      const envelope = data as { data?: unknown } | null;
      if (envelope === null || typeof envelope !== 'object' || envelope.data === undefined) {
        this.log.error('state file has no data member; starting empty', { module, path });
        continue;
      }
      try {
        state.restore(envelope.data);
      } catch (e) {
        this.log.error('module could not restore its state; starting empty', { module, error: (e as Error).message });
      }
    }
  }

  /** Save modules whose state changed (or all, `force`). Errors are logged, never thrown. */
  save(force = false): number {
    let n = 0;
    for (const [module, state] of this.states) {
      if (!force && !state.changed) continue;
      const path = stateFile(this.dir, module);
      try {
        writeFileAtomic(path, JSON.stringify({ module, savedAt: new Date().toISOString(), data: state.snapshot() }) + '\n', this.dir);
        n++;
      } catch (e) {
        this.log.error('cannot save state', { module, path, error: (e as Error).message });
      }
    }
    return n;
  }

  /** Save changed state every `intervalMs`. */
  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => this.save(false), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
