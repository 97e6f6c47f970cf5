/**
 * The front end's files, from dist/web/ of the installed package (built from web/ by
 * `npm run build`): `/` is index.html, `/assets/NAME` a file of dist/web/. Only regular files
 * directly inside that directory or its subdirectories, with a fixed MIME type per extension;
 * no directory listing, no dot files, no `..`, no symlink out of the directory.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import { packageFile } from '../package-root.js';
import { WebError } from './http-errors.js';

export const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export function webRoot(): string {
  return packageFile('dist', 'web');
}

/**
 * The file for a request path ("/" or "/assets/…"), as bytes and MIME type. WebError 400 for a
 * path that tries to leave the directory, 404 for anything that is not there.
 */
export async function staticFile(root: string, urlPath: string): Promise<{ body: Buffer; type: string }> {
  let rel: string;
  if (urlPath === '/' || urlPath === '/index.html') rel = 'index.html';
  else if (urlPath.startsWith('/assets/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(urlPath.slice('/assets/'.length));
    } catch {
      throw new WebError(400, 'BAD_PATH', 'malformed path');
    }
    const parts = decoded.split('/');
    if (decoded.includes('\\') || decoded.includes('\0') || parts.some((p) => p === '..' || p === '.' || p === '' || p.startsWith('.'))) {
      throw new WebError(400, 'BAD_PATH', 'path not allowed');
    }
    rel = parts.join(sep);
  } else throw new WebError(404, 'NOT_FOUND', 'no such page');
  const type = MIME[extname(rel).toLowerCase()];
  if (!type) throw new WebError(404, 'NOT_FOUND', 'no such file');
  let real: string;
  let realRoot: string;
  try {
    realRoot = await realpath(root);
    real = await realpath(join(root, rel));
  } catch {
    if (rel === 'index.html') throw new WebError(404, 'WEB_NOT_BUILT', 'the web console front end is not built (dist/web/index.html is missing)', { hint: 'run `npm run build`' });
    throw new WebError(404, 'NOT_FOUND', 'no such file');
  }
  if (!real.startsWith(realRoot + sep)) throw new WebError(400, 'BAD_PATH', 'path not allowed');
  const st = await stat(real);
  if (!st.isFile()) throw new WebError(404, 'NOT_FOUND', 'no such file');
  return { body: await readFile(real), type };
}
