// The same suite as web-console.test.ts, against sipd (see test/interop/rpc-target.ts).
process.env.SIPCTL_TEST_TARGET = 'sipd';
await import('./web-console.test.js');
