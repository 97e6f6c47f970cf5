#!/usr/bin/env node
// sipctl's launcher is bin/run.cjs (a CommonJS script starts faster, issue 15); this file stays for
// scripts and links that still name bin/run.js.
import { createRequire } from 'node:module';

createRequire(import.meta.url)('./run.cjs');
