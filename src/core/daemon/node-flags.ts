/**
 * The Node.js options every sipd process runs with: a young-generation floor,
 * `--min-semi-space-size=16` (MB per semi-space). limits.heapOptimizeForSize (issue 18,
 * kernel/heap.ts) makes V8 shrink its new space again at full collections, so objects that live
 * for one request were scavenged up to ~5 times as often (bench, 150 REGISTER/s: 292 scavenges
 * against 61 with the floor, GC time 6.8 against 4.4 s; CPU per REGISTER 2,809 against 2,259 µs
 * with the CPU starved at load 22–25). With CPU to spare it matters little: at 1,200 REGISTER/s,
 * interleaved, one sipd used the same CPU per REGISTER with and without it (Node 20 and 22) and
 * one sipd --cluster 9 % less on Node 22 (bench/RESULTS.md, 2026-12-07). The floor keeps the
 * old-space settings that hold memory flat and costs a fixed ~16 MB per process. V8 sizes the young generation when the
 * process starts (set at run time it does nothing, and NODE_OPTIONS refuses it), so only a
 * process's command line can give it: bin/sipd.js's shebang (`sipd`, the systemd unit), `sipctl
 * daemon start`, and a --workers primary to its workers (daemon/workers.ts). A test keeps the
 * shebang and this list the same.
 */
export const SIPD_NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16'];
