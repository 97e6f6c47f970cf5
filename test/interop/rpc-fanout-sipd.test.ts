// The same suite as rpc-fanout.test.ts, against sipd instead of Kamailio: the target is read when
// rpc-target.ts loads, so it is set before the suite is imported (dynamically: a static import
// would be evaluated first).
process.env.SIPCTL_TEST_TARGET = 'sipd';
await import('./rpc-fanout.test.js');
