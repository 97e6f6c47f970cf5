#!/usr/bin/env node
import { execute } from '@oclif/core';
import { normaliseArgv } from '../dist/cli/argv.js';

// Global flags before the command, `help X`, -h and -v: see src/cli/argv.ts.
await execute({ dir: import.meta.url, args: normaliseArgv(process.argv.slice(2)) });
