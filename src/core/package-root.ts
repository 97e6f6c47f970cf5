import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The directory of sipctl's package.json. Found by walking up from this module instead of a fixed
 * `../../..`, because the same code runs from dist/core/ (the library, sipd) and from a chunk of
 * dist/bundle/ (the CLI, scripts/bundle.mjs), which sit at different depths.
 */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`sipctl: no package root above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return (root = dir);
}

/** A file of this installation, e.g. packageFile('bin', 'sipd.js'). */
export function packageFile(...parts: string[]): string {
  return join(packageRoot(), ...parts);
}
