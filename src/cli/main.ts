/**
 * What bin/run.cjs runs, as one module so the bundle (scripts/bundle.mjs) gives the launcher and
 * every command the same copy of @oclif/core: bin/run.cjs imports dist/cli/main.js.
 */
import { execute, settings } from '@oclif/core';

/** Runs sipctl with argv already normalised (src/cli/argv.ts); `dir` is bin/run.cjs's URL. */
export async function main(dir: string, argv: string[]): Promise<void> {
  // oclif prints its timings (config load, plugins, command load and run) with DEBUG=oclif:perf
  // only when its performance markers are on: turn them on then, and only then.
  if (/(^|,)oclif:(perf|\*)/.test(process.env.DEBUG ?? '')) settings.performanceEnabled = true;
  await execute({ dir, args: argv });
}
