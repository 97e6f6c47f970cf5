/** Minimal types for the optional native addon `unix-dgram` (CommonJS, ships no types). */
declare module 'unix-dgram' {
  import type { EventEmitter } from 'node:events';

  export interface UnixDgramSocket extends EventEmitter {
    /** The file descriptor; -1 once closed. */
    fd: number;
    /** bind(2) to a filesystem path; failure is emitted as 'error' (synchronously). */
    bind(path: string): void;
    connect(path: string): void;
    /**
     * sendto(2). The callback runs synchronously: with an Error whose `code`/`errno` is the
     * NEGATIVE errno (e.g. -2 for ENOENT), an Error with code 1 for congestion (EAGAIN), or
     * nothing on success.
     */
    send(buf: Buffer, offset: number, length: number, path: string, callback?: (err?: Error & { code?: number; errno?: number }) => void): void;
    close(): void;
    on(event: 'message', listener: (buf: Buffer | null, rinfo: { size: number; path?: string }) => void): this;
    on(event: 'error', listener: (err: Error & { code?: number; errno?: number }) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export function createSocket(type: 'unix_dgram', listener?: (buf: Buffer) => void): UnixDgramSocket;
  const mod: { createSocket: typeof createSocket };
  export default mod;
}
