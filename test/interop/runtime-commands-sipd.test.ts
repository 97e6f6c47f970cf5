// The same suite as runtime-commands.test.ts, against sipd (see rpc-target.ts).
process.env.SIPCTL_TEST_TARGET = 'sipd';
await import('./runtime-commands.test.js');
