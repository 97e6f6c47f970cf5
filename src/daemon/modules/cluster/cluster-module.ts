/**
 * The cluster module: what sipd nodes share, through one Redis (or Valkey) — no replication
 * protocol of our own. Every sipd process (and every --workers process) is one node.
 *
 * This module owns only the connection and the Redis layout; the state stays with the module
 * that owns it (ARCHITECTURE.md habit 8) and reaches Redis through ClusterApi:
 *
 *   htable (replicate: true tables: ipban, userban)
 *     sipd:ht:<table>:<key>   JSON {t, v, e}  with PXAT = the entry's expiry
 *     channel sipd:ht         every set/del/flush, published in the same Lua script as the write,
 *                             so all nodes see the writes in Redis' order
 *     Each node keeps a local copy (no Redis read per packet). On every (re)connection it reads
 *     the tables back (SCAN) and replays the writes it made while Redis was away.
 *   failed-auth counters: INCR in Lua on the JSON entry, expiry from Redis' own clock
 *   usrloc
 *     sipd:loc:<aor>          HASH ruid → contact JSON (with the owner node, its hop, and for a
 *                             --workers process on every address group + groupHop), PEXPIREAT the
 *                             latest contact expiry; written before the 200 OK. A binding is the
 *                             AoR and the contact URI: a write through another node replaces it
 *     channel sipd:loc        the ruids a write removed of other writes' (a refresh or un-REGISTER
 *                             through another node, Contact: *), published by the script that
 *                             wrote: the node holding them drops its copy and its location row
 *   dialog (active calls per user)
 *     sipd:calls:<user>       ZSET member → deadline (ms, Redis TIME). Admission is one Lua
 *                             script: drop past deadlines, count, add. The owner refreshes its
 *                             members' deadlines every dialog_ttl_sec/3; a dead node's calls
 *                             drop out after dialog_ttl_sec. Never a bare INCR/DECR.
 *   pipelimit (calls per second)
 *     sipd:pl:<pipe>          ZSET member → admission time (ms, Redis TIME): a sliding window
 *                             log. One Lua script per call checks and adds to all the call's
 *                             pipes; members older than the window are dropped as it runs.
 *   nodes
 *     sipd:nodes              HASH node → JSON {lastSeen, listen, hops, pid, group?, localHops?},
 *                             refreshed every 2 s; hops: where other nodes hand calls to this
 *                             one (handOffAddresses); a --workers process listening on every
 *                             address adds its primary's id (group) and its private port on
 *                             loopback (localHops), used only by the workers of the same group;
 *                             a clean stop keeps the entry with stopped: true (NODE_STOP)
 *   dialogs (who owns a confirmed call: the node that set it up and writes its CDR)
 *     sipd:dlg:<Call-ID>      HASH From tag → JSON {toTag, node, hop, pid, state}; PEXPIRE the
 *                             call's longest life. When the call ends it becomes a tombstone
 *                             {ended, node, pid, cdr} (same key, same expiry) until the owner's acc
 *                             batch with the CDR committed (then removed, one request per batch);
 *                             an owner that dies first leaves it to the sweep of another node,
 *                             which claims it (node, pid compared) and writes the CDR. Another node that
 *                             gets an in-dialog request of it forwards it to `hop`; when that node
 *                             is dead, it claims the record (node, pid compared and rewritten in
 *                             one Lua script: one node wins) and takes the call over from `state`.
 *                             Writes and the release compare node and pid too, so a node that
 *                             comes back never takes a claimed call back nor writes its CDR; a
 *                             taken-over call leaves a tombstone {ended, node} until the key expires.
 *     sipd:dlgs               ZSET "<From tag> <Call-ID>" → deadline (Redis TIME + dialog_ttl_sec),
 *                             pushed forward by the owner every dialog_ttl_sec/3: past it, the
 *                             owner stopped refreshing (died) and any node may end the call.
 *   sipd:key                  a random key made once (NX): the HMAC of hand-offs between nodes
 *   channel sipd:cmd          requests to one node (e.g. end a call it owns) and their answers
 *
 * Failure: commands time out after timeout_ms (ioredis commandTimeout) and are never queued by
 * the client (enableOfflineQueue off); the module reconnects every second by itself. While down:
 * htable writes are queued here (bounded) and replayed on reconnection, increments fall back to
 * the local count, location writes and reads throw (the registrar answers 503), call admission
 * answers 'down' (the dialog module applies cluster.admission).
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ChainableCommander, Redis as RedisClient, RedisOptions } from 'ioredis';
import { isUnspecified } from '../../../core/address/ip.js';
import { ConfigError } from '../../../core/errors.js';
import { UNIX_REDIS_URL } from '../../config/sipd-config.js';
import type { ClusterApi, ClusterDialog, ClusterHtableEvent, ContactRecord, CoreApi, HtableValue, LocationGone } from '../../kernel/contracts.js';
import { defineModule, type Logger } from '../../kernel/module.js';
import { localAddresses } from '../../kernel/myself.js';
import { writeFileAtomic } from '../../kernel/state-store.js';
import { socketString } from '../registrar/registrar.js';

export interface ClusterSettings {
  url?: string;
  nodeId: string;
  passwordFile?: string;
  admission: 'open' | 'closed';
  timeoutMs: number;
  dialogTtlSec: number;
  listen: string[];
  /** cluster.address: where other nodes reach this node when it listens on every address (withAddress) */
  address?: string;
  /**
   * sipd --workers: an id the primary makes at start and gives its workers only (workers.ts). The
   * members announcing the same one run on this machine: they hand calls to each other on
   * loopback when they listen on every address (localHandOffAddresses).
   */
  workerGroup?: string;
}

const PREFIX = 'sipd:';
const HT_CHANNEL = `${PREFIX}ht`;
const NODES = `${PREFIX}nodes`;
const EPOCH = `${PREFIX}epoch`;
/** the last EPOCH this node saw, in its state directory */
const EPOCH_FILE = 'cluster-epoch';
const KEY = `${PREFIX}key`;
const CMD_CHANNEL = `${PREFIX}cmd`;
/** the contacts (ruids) a location write removed of other writes' (LOC_WRITE): their holders drop them */
const LOC_CHANNEL = `${PREFIX}loc`;
const LOC_PREFIX = `${PREFIX}loc:`;
const DLG_INDEX = `${PREFIX}dlgs`;
/** how long a dialog write waits for others to go with it (dialogWrite), and the most in one pipeline */
const DIALOG_BATCH_MS = 10;
const DIALOG_BATCH_MAX = 256;
const dlgKey = (callId: string) => `${PREFIX}dlg:${callId}`;
/** a Call-ID has no space, nor a tag (RFC 3261 word, token) */
const dlgMember = (callId: string, fromTag: string) => `${fromTag} ${callId}`;
const QUEUE_MAX = 10_000;
const HEARTBEAT_MS = 2000;

/** SET (or DEL) a replicated entry and PUBLISH the change, atomically. */
const SET_PUB = `
local e = tonumber(ARGV[3])
if ARGV[2] == '' then redis.call('DEL', KEYS[1])
elseif e > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PXAT', e)
else redis.call('SET', KEYS[1], ARGV[2]) end
redis.call('PUBLISH', ARGV[1], ARGV[4])
return 1`;

/** INCR a replicated int entry (JSON), expiry ttl from Redis' clock; publish the new total. */
const INCR_PUB = `
local cur = redis.call('GET', KEYS[1])
local n = 0
if cur then
  local ok, o = pcall(cjson.decode, cur)
  if ok and o.t == 'int' then n = tonumber(o.v) or 0 end
end
n = n + tonumber(ARGV[2])
local t = redis.call('TIME')
local e = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
redis.call('SET', KEYS[1], cjson.encode({t='int', v=n, e=e}), 'PXAT', e)
redis.call('PUBLISH', ARGV[1], cjson.encode({n=ARGV[4], op='set', tb=ARGV[5], k=ARGV[6], t='int', v=n, e=e}))
return {n, tostring(e)}`;

/** Admit a call: drop expired members, count, add when below the limit. */
const CALL_ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1`;

/** Push the deadlines of members this node still holds (XX: a released member is not revived). */
const CALL_REFRESH = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1`;

/**
 * Write one AoR's contacts (every location write), unless ARGV[1] > 0 and it would then hold more
 * than that many valid contacts on all nodes together (registrar.max_contacts): one script, so
 * two nodes cannot both take the last place. Returns 0 when written, else the count it would have had.
 *
 * ARGV: max, PEXPIREAT ms (0: none), writer node ('' = replace nothing), '*' (Contact: *) or '',
 * '1' (list) or '', n, n × (ruid, contact URI, JSON), m, m × ruid to remove, d, d × contact URI
 * un-registered or "\0<instance>\0<reg-id>" (an RFC 5626 flow put or un-registered: such a binding
 * is its flow, whatever its URI), then optionally Call-ID, CSeq, cseq_delay, k, k × contact URI.
 *
 * With list (a REGISTER: its 200 OK names every binding of the AoR, RFC 3261 §10.3 step 8) the
 * reply is an array: the code, then the JSON of every binding the AoR holds after the write but
 * those this write put (the writer has them) — or, when nothing was written (a retransmission -2,
 * a lower CSeq -1, too many contacts), every binding as it is (the refusal lists them too). From
 * the hash the script read anyway: no second read, no second round trip.
 *
 * A binding is the AoR and the contact URI (RFC 3261 §10.3), whichever node wrote it: with a writer
 * node, a binding another write left under another ruid for a URI this write puts (the same UA,
 * registered again through another node: this node now holds its NAT binding or connection) or
 * un-registers goes, and with '*' every binding of the AoR; the ruids removed so are PUBLISHed on
 * sipd:loc with the CSeq and time they had, so the node that holds them drops its copy and its
 * location row — unless its copy changed since (its own write of the same URI came after this one). Without a writer (a
 * give-back after Redis lost its data) a contact another node wrote with a URI this write puts is
 * counted once.
 *
 * The CSeq rule (registrar, RFC 3261 §10.3 steps 6-7 over all nodes): a binding of one of the k
 * URIs (with '*': any binding) with this Call-ID must have a lower CSeq: else -1 (-2: the same CSeq
 * within cseq_delay, a retransmission; never for '*'), and nothing is written.
 *
 * The AoR's bindings are decoded only when there is something to match: a CSeq rule, a URI put or
 * un-registered with a writer, or '*' (a REGISTER's one pass; a timer's removal reads nothing).
 */
const LOC_WRITE = `
local max = tonumber(ARGV[1])
local node = ARGV[3]
local all = ARGV[4] == '*'
local list = ARGV[5] == '1'
local n = tonumber(ARGV[6])
local i = 7
local puts, putRuid, putUri = {}, {}, {}
for k = 1, n do
  puts[k] = {ARGV[i], ARGV[i + 2]}
  putRuid[ARGV[i]] = true
  putUri[ARGV[i + 1]] = true
  i = i + 3
end
local m = tonumber(ARGV[i])
i = i + 1
local rem, remSet = {}, {}
for k = 1, m do
  rem[k] = ARGV[i]
  remSet[ARGV[i]] = true
  i = i + 1
end
local d = tonumber(ARGV[i])
i = i + 1
local replace = node ~= ''
local gone = {}
if replace then
  for u in pairs(putUri) do gone[u] = true end
  for k = 1, d do gone[ARGV[i + k - 1]] = true end
end
i = i + d
local callId = ARGV[i]
local cseq, delay, uris
if callId ~= nil then
  cseq, delay = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local k = tonumber(ARGV[i + 3])
  uris = {}
  for q = 1, k do uris[ARGV[i + 3 + q]] = true end
  if k == 0 and not all then callId = nil end
end
-- the code, and with list the JSON of the AoR's bindings in h but the fields in skip
local function reply(code, h, skip)
  if not list then return code end
  local out = {code}
  for j = 1, #h, 2 do
    if not skip[h[j]] then out[#out + 1] = h[j + 1] end
  end
  return out
end
-- other writes' bindings this one takes over or removes
local taken, takenSet, told = {}, {}, {}
local h
if list or callId ~= nil or (replace and (all or n > 0 or d > 0)) then
  local now = tonumber(redis.call('TIME')[1])
  h = redis.call('HGETALL', KEYS[1])
  for j = 1, #h, 2 do
    local f = h[j]
    local ok, c = pcall(cjson.decode, h[j + 1])
    if not ok or type(c) ~= 'table' then c = {} end
    if callId ~= nil and c.callId == callId and (all or uris[c.contact]) then
      local had = tonumber(c.cseq) or 0
      if had > cseq then return reply(-1, h, {}) end
      if had == cseq then
        if not all and (tonumber(c.lastModified) or 0) + delay > now then return reply(-2, h, {}) end
        return reply(-1, h, {})
      end
    end
    if replace and not putRuid[f] and not remSet[f] and (all or gone[c.contact] or (type(c.instance) == 'string' and type(c.regId) == 'number' and gone['\\0' .. c.instance .. '\\0' .. tostring(c.regId)])) then
      taken[#taken + 1] = f
      takenSet[f] = true
      told[#told + 1] = {f = f, s = tonumber(c.cseq) or -1, m = tonumber(c.lastModified) or -1}
    end
  end
end
-- HLEN + n bounds the count from above (an update counted twice): most AoRs end here, O(1)
local stale, staleSet = {}, {}
if max > 0 and n > 0 and redis.call('HLEN', KEYS[1]) - #taken + n > max then
  local t = redis.call('TIME')
  local now = tonumber(t[1])
  local count = n
  local hm = h or redis.call('HGETALL', KEYS[1])
  for j = 1, #hm, 2 do
    if not putRuid[hm[j]] and not remSet[hm[j]] and not takenSet[hm[j]] then
      local ok, c = pcall(cjson.decode, hm[j + 1])
      if ok and type(c) == 'table' then
        local e = tonumber(c.expires) or 0
        -- an expired contact stays in the hash while the AoR's others keep the key alive: dropped here
        if e ~= 0 and e <= now then
          stale[#stale + 1] = hm[j]
          staleSet[hm[j]] = true
        elseif not putUri[c.contact] then count = count + 1 end
      end
    end
  end
  if #stale > 0 then redis.call('HDEL', KEYS[1], unpack(stale)) end
  if count > max then return reply(count, hm, staleSet) end
end
for _, p in ipairs(puts) do redis.call('HSET', KEYS[1], p[1], p[2]) end
if m > 0 then redis.call('HDEL', KEYS[1], unpack(rem)) end
if #taken > 0 then
  redis.call('HDEL', KEYS[1], unpack(taken))
  redis.call('PUBLISH', '${LOC_CHANNEL}', cjson.encode({n = node, k = KEYS[1], r = told}))
end
local last = tonumber(ARGV[2])
if last > 0 then
  redis.call('PEXPIREAT', KEYS[1], last, 'NX')
  redis.call('PEXPIREAT', KEYS[1], last, 'GT')
end
if not list then return 0 end
-- h as it is now: what was read, less what this write removed, took over or found expired, and
-- less its own puts (the writer has them)
local skip = {}
for f in pairs(putRuid) do skip[f] = true end
for f in pairs(remSet) do skip[f] = true end
for f in pairs(takenSet) do skip[f] = true end
for _, f in ipairs(stale) do skip[f] = true end
return reply(0, h, skip)`;

/**
 * A give-back after Redis lost its data, of contacts another node wrote (their location rows name
 * its server_id, not its name): each written only where no record of its ruid is there (HSETNX), so
 * the owner's own give-back, under its name, wins whichever comes first. KEYS[1] = the AoR's key,
 * ARGV[1] = PEXPIREAT ms (0: none), then ruid, JSON pairs. Returns how many were written.
 */
const LOC_GIVE_BACK_UNOWNED = `
local n = 0
for i = 2, #ARGV, 2 do n = n + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
local last = tonumber(ARGV[1])
if last > 0 then
  redis.call('PEXPIREAT', KEYS[1], last, 'NX')
  redis.call('PEXPIREAT', KEYS[1], last, 'GT')
end
return n`;

/**
 * Remove contacts (ARGV: ruids) of one AoR (KEYS[1]) whose record is expired by Redis' clock (not
 * permanent): the location rows of a node gone for good were swept; a record written again since
 * (valid) stays. Returns how many went.
 */
const LOC_EXPIRE = `
local now = tonumber(redis.call('TIME')[1])
local n = 0
for i = 1, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    local ok, c = pcall(cjson.decode, v)
    local e = (ok and type(c) == 'table' and tonumber(c.expires)) or 0
    if e ~= 0 and e <= now then n = n + redis.call('HDEL', KEYS[1], ARGV[i]) end
  end
end
return n`;

/**
 * The location table's server_id of a node (Kamailio's column for the instance that wrote a row):
 * FNV-1a of the node id, 1 … 2^31 - 1 (the column is a signed INT; 0 is Kamailio's default and a
 * single sipd's, "no node"). Node ids are stable across restarts (a --workers process's too), so
 * a restarted node knows its rows, and any node tells a live member's rows from a gone one's.
 */
export function serverIdOf(node: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(node, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h & 0x7fffffff || 1;
}

/** A member's entry in sipd:nodes as read; undefined when it is not one (not JSON, not an object). */
export interface NodeEntry {
  lastSeen: number;
  listen: string[];
  /** undefined: the entry has none (a node announced without them: the hop written with each contact is used) */
  hops: string[] | undefined;
  pid: number;
  /** the node stopped cleanly (shutdown) at lastSeen */
  stopped: boolean;
  /** a --workers process: its primary's id, and its private port on loopback (for that group's workers) */
  group?: string;
  localHops?: string[];
}

export function parseNodeEntry(v: string): NodeEntry | undefined {
  let o: unknown;
  try {
    o = JSON.parse(v);
  } catch {
    return undefined; // not an entry of ours: the caller says what it does without it
  }
  if (o === null || typeof o !== 'object') return undefined;
  const e = o as Record<string, unknown>;
  const strings = (x: unknown) => (Array.isArray(x) ? x.filter((y): y is string => typeof y === 'string') : undefined);
  const localHops = strings(e.localHops);
  return {
    lastSeen: Number(e.lastSeen ?? 0) || 0,
    listen: strings(e.listen) ?? [],
    hops: strings(e.hops),
    pid: Number(e.pid ?? 0) || 0,
    stopped: e.stopped === true,
    ...(typeof e.group === 'string' ? { group: e.group } : {}),
    ...(localHops !== undefined ? { localHops } : {}),
  };
}

/** A member is alive while its last heartbeat is under 6 s old and it has not stopped since. */
export function nodeAlive(e: { lastSeen: number; stopped?: boolean }, now: number): boolean {
  return e.stopped !== true && now - e.lastSeen < HEARTBEAT_MS * 3;
}

/**
 * A clean stop: this process's entry in sipd:nodes becomes ARGV[3] (stopped: true, its last
 * lastSeen) — only while the entry is this process's (ARGV[2], pid) or absent, so a node restarted
 * under the same name that already announced itself keeps its entry. The entry stays, so other
 * nodes see the node stopped (not alive: calls for its contacts are made directly, as for a killed
 * node's) rather than not knowing it; its next start's heartbeat replaces it. ARGV[4] is published
 * on sipd:cmd, so the other nodes know at once rather than at their next heartbeat (up to 2 s, in
 * which they would still hand calls to the stopped node's address).
 */
const NODE_STOP = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local ok, o = pcall(cjson.decode, cur)
  if ok and type(o) == 'table' and tostring(o.pid) ~= ARGV[2] then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('PUBLISH', '${CMD_CHANNEL}', ARGV[4])
return 1`;

/**
 * Write a dialog's record (and its deadline) unless another process holds it: the field is new,
 * or names this node and pid. A node that comes back after a claim cannot take the call back.
 */
const DLG_OWN = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local ok, o = pcall(cjson.decode, cur)
  if ok and type(o) == 'table' and (o.ended or o.node ~= ARGV[3] or tostring(o.pid) ~= ARGV[4]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]), 'GT')
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]), 'NX')
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[7]), ARGV[6])
return 1`;

/**
 * The call ended on this node, if its record is still this process's. With a CDR (ARGV[5], JSON
 * kept as a string) the record becomes a tombstone holding it, {ended, node, pid, cdr}, and its
 * deadline is pushed forward (ARGV[6] ms): the owner removes it once the CDR is in the database
 * (DLG_FORGET); if the owner dies first, the sweep of another node finds it past the deadline and
 * claims it (DLG_CLAIM_CDR). Without one the record goes (a taken-over one leaves {ended, node,
 * takenFrom} until the key expires, so the node it came from, back again, hears 'taken').
 */
const DLG_END = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then
  redis.call('ZREM', KEYS[2], ARGV[4])
  return 'gone'
end
local ok, o = pcall(cjson.decode, cur)
if not ok or type(o) ~= 'table' or o.ended or o.node ~= ARGV[2] or tostring(o.pid) ~= ARGV[3] then return 'taken' end
if ARGV[5] ~= '' then
  local t = {ended=true, node=ARGV[2], pid=tonumber(ARGV[3]), cdr=ARGV[5]}
  if o.takenFrom then t.takenFrom = o.takenFrom end
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(t))
  local now = redis.call('TIME')
  redis.call('ZADD', KEYS[2], tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[6]), ARGV[4])
  return 'released'
end
if o.takenFrom then
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({ended=true, node=ARGV[2], takenFrom=o.takenFrom}))
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
redis.call('ZREM', KEYS[2], ARGV[4])
return 'released'`;

/**
 * A batch of CDRs is in the database: their tombstones go, each only while it names this node and
 * pid (ARGV[1], ARGV[2]) — one another node claimed meanwhile is that node's now. A tombstone of a
 * call this node had taken over stays as {ended, node, takenFrom} until the key expires (see
 * DLG_END). KEYS[1] = the index, KEYS[i] = the i-th call's key, ARGV[2i - 1], ARGV[2i] = its From
 * tag and index member. Returns how many were removed.
 */
const DLG_FORGET = `
local n = 0
for i = 2, #KEYS do
  local f, m = ARGV[2 * i - 1], ARGV[2 * i]
  local cur = redis.call('HGET', KEYS[i], f)
  if not cur then
    redis.call('ZREM', KEYS[1], m)
  else
    local ok, o = pcall(cjson.decode, cur)
    if ok and type(o) == 'table' and o.ended and o.node == ARGV[1] and tostring(o.pid) == ARGV[2] then
      if o.takenFrom then
        redis.call('HSET', KEYS[i], f, cjson.encode({ended=true, node=o.node, takenFrom=o.takenFrom}))
      else
        redis.call('HDEL', KEYS[i], f)
      end
      redis.call('ZREM', KEYS[1], m)
      n = n + 1
    end
  end
end
return n`;

/**
 * Claim a dead owner's tombstone (its CDR not known to be written): only while it still names that
 * node and pid, so one node wins. It then names this node and pid, with a new deadline, and is
 * this node's to write and remove (DLG_FORGET) — or, should this node die too, the next one's.
 * Returns the CDR (JSON).
 */
const DLG_CLAIM_CDR = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return false end
local ok, o = pcall(cjson.decode, cur)
if not ok or type(o) ~= 'table' or not o.ended or type(o.cdr) ~= 'string' or o.node ~= ARGV[2] or tostring(o.pid) ~= ARGV[3] then return false end
o.node = ARGV[4]
o.pid = tonumber(ARGV[5])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(o))
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[7]), ARGV[6])
return o.cdr`;

/** Claim a dead owner's dialog: only while the record still names that node and pid; returns it as it was. */
const DLG_CLAIM = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return false end
local ok, o = pcall(cjson.decode, cur)
if not ok or type(o) ~= 'table' or o.ended or o.node ~= ARGV[2] then return false end
local pid = ''
if o.pid then pid = tostring(o.pid) end
if pid ~= ARGV[3] then return false end
o.takenFrom = o.node
o.node = ARGV[4]
o.pid = tonumber(ARGV[5])
o.hop = ARGV[6]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(o))
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[8]), ARGV[7])
return cur`;

/** Push the deadlines of the dialogs this node owns (XX: an ended one is not revived). */
const DLG_REFRESH = `
local t = redis.call('TIME')
local d = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', d, ARGV[i]) end
return 1`;

/** Dialogs past their deadline; members whose record is gone are dropped on the way. */
const DLG_OVERDUE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))) do
  local i = string.find(m, ' ', 1, true)
  if i == nil or redis.call('HEXISTS', ARGV[2] .. string.sub(m, i + 1), string.sub(m, 1, i - 1)) == 0 then
    redis.call('ZREM', KEYS[1], m)
  else
    table.insert(out, m)
  end
end
return out`;

/** what a dialog record carries beyond its owner: the owner's pid, the takeover state, the node it was taken from */
function recordExtras(o: { pid?: unknown; state?: unknown; takenFrom?: unknown }): { pid?: number; state?: unknown; takenFrom?: string } {
  return { ...(typeof o.pid === 'number' ? { pid: o.pid } : {}), ...(o.state !== undefined ? { state: o.state } : {}), ...(typeof o.takenFrom === 'string' ? { takenFrom: o.takenFrom } : {}) };
}

type Pending = { kind: 'set'; table: string; key: string; value: HtableValue; expires: number } | { kind: 'del'; table: string; key: string } | { kind: 'flush'; table: string };

/**
 * Admit one request through every pipe (KEYS) or none: a sliding window log per pipe. ARGV[1] =
 * window (ms), ARGV[2] = a member unique to this admission, ARGV[2 + i] = most in the window for
 * KEYS[i]. Returns 0 (admitted) or the index of the first full pipe. Milliseconds: Lua prints
 * numbers with 14 digits, which µs since 1970 would not fit.
 */
const PIPE_ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local w = tonumber(ARGV[1])
for i, k in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now - w)
  if redis.call('ZCARD', k) >= tonumber(ARGV[i + 2]) then return i end
end
for i, k in ipairs(KEYS) do
  redis.call('ZADD', k, now, ARGV[2])
  redis.call('PEXPIRE', k, w + 1000)
end
return 0`;

/**
 * Every Lua script, defined on the command connection as `sipd_<NAME>` (ioredis defineCommand):
 * sent as EVALSHA, with the text only on a connection's first use and when Redis answers NOSCRIPT
 * (after a restart or SCRIPT FLUSH). Each call's scripts went as text (EVAL, 0.4-2 KB each): the
 * writes to Redis' socket took 5.6 % of a cluster node's time at 400 calls/s, 4.0 % as EVALSHA
 * (cpu-prof).
 */
const SCRIPTS = { SET_PUB, INCR_PUB, CALL_ADMIT, CALL_REFRESH, LOC_WRITE, LOC_GIVE_BACK_UNOWNED, LOC_EXPIRE, NODE_STOP, DLG_OWN, DLG_END, DLG_FORGET, DLG_CLAIM_CDR, DLG_CLAIM, DLG_REFRESH, DLG_OVERDUE, PIPE_ADMIT };
type ScriptName = keyof typeof SCRIPTS;
type ScriptMethods<R> = Record<`sipd_${ScriptName}`, (numKeys: number, ...args: string[]) => R>;

/** Run one of SCRIPTS (as EVAL numKeys KEYS… ARGV…). */
function script(c: RedisClient, name: ScriptName, numKeys: number, ...args: string[]): Promise<unknown> {
  return (c as unknown as ScriptMethods<Promise<unknown>>)[`sipd_${name}`](numKeys, ...args);
}

/** Queue one of SCRIPTS on a pipeline. */
function queueScript(p: ChainableCommander, name: ScriptName, numKeys: number, ...args: string[]): void {
  (p as unknown as ScriptMethods<unknown>)[`sipd_${name}`](numKeys, ...args);
}

/**
 * A Redis URL with the password taken from a 0600 file, never from argv or the URL. A unix:///PATH
 * URL (UNIX_REDIS_URL) gives no URL but the socket's path (and database) in the options.
 */
export function redisOptions(url: string, passwordFile: string | undefined, timeoutMs: number): { url?: string; options: RedisOptions } {
  const options: RedisOptions = {
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(timeoutMs, 1000),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 1000,
    lazyConnect: true,
  };
  if (url.startsWith('rediss://')) options.tls = {};
  const unix = UNIX_REDIS_URL.exec(url);
  if (unix !== null) {
    options.path = unix[1]!;
    options.db = unix[2] === undefined ? 0 : Number(unix[2]);
  }
  if (passwordFile !== undefined) {
    let st;
    try {
      st = statSync(passwordFile);
    } catch (e) {
      throw new ConfigError('CLUSTER_PASSWORD_FILE', `cluster.password_file ${passwordFile}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
    if ((st.mode & 0o077) !== 0) throw new ConfigError('CLUSTER_PASSWORD_FILE', `cluster.password_file ${passwordFile} can be read by others (mode ${(st.mode & 0o777).toString(8)})`, `chmod 600 ${passwordFile}`);
    options.password = readFileSync(passwordFile, 'utf8').split('\n')[0]!.trim();
  }
  return unix !== null ? { options } : { url, options };
}

/** ip:port of a socket string (proto:ip:port, IPv6 in brackets). */
function splitSocket(s: string): { proto: string; ip: string; port: number } | undefined {
  const m = /^(udp|tcp|tls|ws|wss):(\[[^\]]+\]|[^:]+):(\d{1,5})$/i.exec(s.trim());
  if (m === null) return undefined;
  return { proto: m[1]!.toLowerCase(), ip: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3]) };
}

/**
 * The UDP address (ip:port) through which other nodes reach this one: one of `hops` (the node's
 * hand-off addresses, see handOffAddresses) on the IP of `socket` (where the contact
 * registered), else the first. None when the node has only unspecified addresses (0.0.0.0) and
 * no cluster.address (withAddress): then the contact is called directly, as without a cluster —
 * unless the node is a worker of this node's own sipd, reached on loopback (localHandOffAddresses).
 */
export function hopOf(hops: readonly string[], socket?: string): string | undefined {
  const udp = hops.map(splitSocket).filter((l): l is NonNullable<typeof l> => l !== undefined && l.proto === 'udp' && l.port !== 0 && !isUnspecified(l.ip));
  const s = socket === undefined ? undefined : splitSocket(socket);
  const pick = (s !== undefined ? udp.find((l) => l.ip === s.ip) : undefined) ?? udp[0];
  if (pick === undefined) return undefined;
  return pick.ip.includes(':') ? `[${pick.ip}]:${pick.port}` : `${pick.ip}:${pick.port}`;
}

/**
 * cluster.address: the hand-off addresses of `hops` on an unspecified IP of its family (0.0.0.0
 * for an IPv4 address, :: for IPv6) on `address` instead, so that other machines can reach a node
 * listening on every address; the others as they are.
 */
export function withAddress(hops: readonly string[], address: string | undefined): string[] {
  if (address === undefined) return [...hops];
  const v6 = address.includes(':');
  return hops.map((h) => {
    const l = splitSocket(h);
    if (l === undefined || !isUnspecified(l.ip) || (l.ip === '::') !== v6) return h;
    return `${l.proto}:${v6 ? `[${address}]` : address}:${l.port}`;
  });
}

/**
 * What is wrong with cluster.address on this node, for a warning at start: it names no address of
 * this machine (`interfaces`: hand-offs sent there never arrive), or no listen address is
 * unspecified of its family (`hops` before withAddress: it changes nothing). Undefined when fine.
 */
export function addressProblem(address: string, hops: readonly string[], interfaces: readonly string[]): string | undefined {
  if (!interfaces.some((a) => a.toLowerCase() === address)) return 'it is not an address of this machine: calls other nodes hand to it will not arrive';
  if (withAddress(hops, address).every((h, i) => h === hops[i])) return `no listen address is on ${address.includes(':') ? '::' : '0.0.0.0'}: it changes nothing (a specific listen address is announced as it is)`;
  return undefined;
}

/**
 * The hand-off addresses of `hops` on an unspecified IP (0.0.0.0, ::), on loopback (127.0.0.1,
 * ::1) instead: a socket bound to every address takes datagrams sent to loopback too. No other
 * machine can use them (loopback is each machine's own), so only the workers of the same primary
 * (ClusterSettings.workerGroup) are told them: `localHops` in sipd:nodes.
 */
export function localHandOffAddresses(hops: readonly string[]): string[] {
  return hops
    .map(splitSocket)
    .filter((l): l is NonNullable<typeof l> => l !== undefined && l.proto === 'udp' && l.port !== 0 && isUnspecified(l.ip))
    .map((l) => (l.ip === '::' ? `udp:[::1]:${l.port}` : `udp:127.0.0.1:${l.port}`));
}

/**
 * A node's hand-off addresses, from its configured listen addresses and the UDP sockets it
 * bound: per IP, a bound socket that is not a configured address (a `--workers` process's
 * private port, or the port a configured port 0 got) before the configured one. The workers of
 * one machine share its configured address, where the kernel gives a datagram to any of them;
 * the private port reaches the one worker that holds a contact's TCP/TLS connection.
 */
export function handOffAddresses(configured: readonly string[], bound: readonly string[]): string[] {
  const norm = (l: { ip: string; port: number }) => `${l.ip.toLowerCase()}|${l.port}`;
  const conf = new Set(configured.map(splitSocket).filter((l) => l !== undefined && l.proto === 'udp').map((l) => norm(l!)));
  const udp = bound.map(splitSocket).filter((l): l is NonNullable<typeof l> => l !== undefined && l.proto === 'udp' && l.port !== 0);
  const out: string[] = [];
  const ips = new Set<string>();
  for (const configuredOnes of [false, true]) {
    for (const l of udp) {
      if (conf.has(norm(l)) !== configuredOnes || ips.has(l.ip.toLowerCase())) continue;
      ips.add(l.ip.toLowerCase());
      out.push(`udp:${l.ip.includes(':') ? `[${l.ip}]` : l.ip}:${l.port}`);
    }
  }
  return out;
}

export function createClusterModule(settings: ClusterSettings) {
  const enabled = settings.url !== undefined;
  let log: Logger | undefined;
  let cmd: RedisClient | undefined;
  let sub: RedisClient | undefined;
  let isUp = false;
  let heartbeat: NodeJS.Timeout | undefined;
  let stopped = false;
  const htListeners: Array<(ev: ClusterHtableEvent) => void> = [];
  const connectListeners: Array<(info: { redisLostData: boolean }) => Promise<void> | void> = [];
  const locListeners: Array<(aor: string, gone: LocationGone[]) => void> = [];
  /**
   * Redis' data generation: a random id set once (NX); a new one means Redis lost its data. Kept in
   * the state directory (EPOCH_FILE) too, so a node that was down while Redis lost its data knows
   * it at its next start, and gives its registrations back rather than taking their absence from
   * Redis for removals made by other nodes (which would drop its location rows).
   */
  let epoch: string | undefined;
  let epochFile: string | undefined;
  /** what the first connection found (the start check of usrloc runs after it) */
  let firstConnect: { redisLostData: boolean } | undefined;
  const pending: Pending[] = [];
  let dropped = 0;
  const counters = { published: 0, received: 0, resyncs: 0, failures: 0, queued_while_down: 0, heartbeats: 0, round_trips: 0, stops_heard: 0 };
  const ttlMs = settings.dialogTtlSec * 1000;
  /** the cluster's HMAC key (sipd:key), read on every (re)connection */
  let key: Buffer | undefined;
  const commandHandlers = new Map<string, (args: Record<string, unknown>) => Promise<unknown> | unknown>();
  const waiting = new Map<string, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  /** the members' last heartbeats (epoch ms) and whether they stopped since, read with every heartbeat of ours */
  const seen = new Map<string, { lastSeen: number; stopped: boolean }>();
  /** the other members' UDP listen IPs (the hand-off addresses, see hopOf) → their last heartbeat */
  let memberIps = new Map<string, number>();
  /** this node's hand-off addresses: its listen addresses until the kernel has bound its sockets (bound()) */
  let hops: string[] = [...settings.listen];
  /** the members' hand-off addresses as they last announced them (a restarted worker has a new private port) */
  let nodeHops = new Map<string, string[]>();
  /** this node's hand-off addresses on loopback (localHandOffAddresses): for the workers of its group only */
  let localHops: string[] = [];
  /** the other workers of this node's group (settings.workerGroup) → their hand-off addresses on loopback */
  let groupHops = new Map<string, string[]>();
  /** this node's UDP listen addresses (ip|port), the specific ones or those on every address */
  const udpListen = (unspecified: boolean) => new Set(settings.listen.map(splitSocket).filter((l) => l !== undefined && l.proto === 'udp' && l.port !== 0 && isUnspecified(l.ip) === unspecified).map((l) => `${l!.ip.toLowerCase()}|${l!.port}`));
  /** this node's own specific UDP listen addresses: the same machine's workers share them */
  const sharedUdp = udpListen(false);
  /** this node's UDP listen addresses on every address (0.0.0.0|port, ::|port): shared only with the workers of its group */
  const sharedAnyUdp = udpListen(true);

  /** pipeAdmit's members: this process (a node restarted within a window is another) and a count */
  const processTag = randomBytes(4).toString('hex');
  let admissions = 0;

  /**
   * The client for one request to Redis, counted (cluster.stats round_trips: what a REGISTER or a
   * call costs, as the benches report it; Redis' own commandstats also count what a script runs).
   * The heartbeat and the (re)connection resync are not counted: they have their own counters.
   */
  const trip = (c: RedisClient): RedisClient => (counters.round_trips++, c);

  /**
   * The dialog writes share round trips: a call's END (DLG_END) waits up to DIALOG_BATCH_MS and goes
   * with the next call's OWN (DLG_OWN), which is sent at once (the record must be there for
   * another node to take the call over as soon as it is answered). Under load that makes a call's
   * two writes one round trip, where each cost a write and a read on both sides (about 250 µs of
   * CPU with Redis' share on this machine). In order: a call's END goes after its OWN. Nothing on
   * the SIP path waits for them; destroy() sends what is held.
   */
  let dialogBatch: Array<{ name: ScriptName; args: string[]; resolve(v: unknown): void; reject(e: unknown): void }> = [];
  let dialogBatchTimer: NodeJS.Timeout | undefined;
  function dialogWrite(name: 'DLG_OWN' | 'DLG_END', ...args: string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      dialogBatch.push({ name, args, resolve, reject });
      if (name === 'DLG_OWN' || dialogBatch.length >= DIALOG_BATCH_MAX) void sendDialogBatch();
      else dialogBatchTimer ??= setTimeout(() => void sendDialogBatch(), DIALOG_BATCH_MS).unref();
    });
  }
  async function sendDialogBatch(): Promise<void> {
    if (dialogBatchTimer !== undefined) clearTimeout(dialogBatchTimer);
    dialogBatchTimer = undefined;
    const list = dialogBatch;
    dialogBatch = [];
    if (list.length === 0) return;
    if (!isUp || cmd === undefined) {
      for (const b of list) b.reject(new Error('cluster: Redis unreachable'));
      return;
    }
    if (list.length === 1) {
      const b = list[0]!;
      return script(trip(cmd), b.name, 2, ...b.args).then(b.resolve, b.reject);
    }
    const p = trip(cmd).pipeline();
    for (const b of list) queueScript(p, b.name, 2, ...b.args);
    try {
      const res = (await p.exec()) ?? [];
      list.forEach((b, i) => {
        const [err, v] = res[i] ?? [new Error('cluster: no reply')];
        if (err !== null && err !== undefined) b.reject(err);
        else b.resolve(v);
      });
    } catch (e) {
      for (const b of list) b.reject(e);
    }
  }
  const htKey = (table: string, key: string) => `${PREFIX}ht:${table}:${key}`;
  const message = (o: Record<string, unknown>) => JSON.stringify({ n: settings.nodeId, ...o });

  function down(e: unknown): void {
    counters.failures++;
    if (isUp) log?.warn('cluster: Redis unreachable; bans stay enforced from the local copy, REGISTER answered 503 until it is back', { error: String((e as Error)?.message ?? e).slice(0, 200) });
    isUp = false;
  }

  function queue(p: Pending): void {
    counters.queued_while_down++;
    if (pending.length >= QUEUE_MAX) {
      pending.shift();
      dropped++;
    }
    pending.push(p);
  }

  async function send(p: Pending): Promise<void> {
    const c = cmd!;
    if (p.kind === 'set') {
      await script(trip(c), 'SET_PUB', 1, htKey(p.table, p.key), HT_CHANNEL, JSON.stringify({ t: p.value.type, v: p.value.value, e: p.expires }), String(p.expires), message({ op: 'set', tb: p.table, k: p.key, t: p.value.type, v: p.value.value, e: p.expires }));
    } else if (p.kind === 'del') {
      await script(trip(c), 'SET_PUB', 1, htKey(p.table, p.key), HT_CHANNEL, '', '0', message({ op: 'del', tb: p.table, k: p.key }));
    } else {
      let cursor = '0';
      do {
        const [next, keys] = await trip(c).scan(cursor, 'MATCH', `${htKey(p.table, '')}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await trip(c).del(...keys);
      } while (cursor !== '0');
      await trip(c).publish(HT_CHANNEL, message({ op: 'flush', tb: p.table }));
    }
    counters.published++;
  }

  function write(p: Pending): void {
    if (!isUp || cmd === undefined) return queue(p);
    send(p).catch((e: unknown) => {
      down(e);
      queue(p);
    });
  }

  /** A request to this node (or an answer to one of ours) on sipd:cmd. */
  function onCommandMessage(text: string): void {
    let m: { n?: string; to?: string; id?: string; op?: string; args?: Record<string, unknown>; ok?: boolean; result?: unknown; error?: string };
    try {
      m = JSON.parse(text) as typeof m;
    } catch {
      return;
    }
    // a member stopped cleanly (NODE_STOP): not alive from now, not only from our next heartbeat
    if (m.op === 'stopped' && typeof m.n === 'string' && m.n !== settings.nodeId) {
      const e = seen.get(m.n);
      if (e !== undefined) seen.set(m.n, { ...e, stopped: true });
      counters.stops_heard++;
      return;
    }
    if (m.to !== settings.nodeId || typeof m.id !== 'string' || typeof m.n !== 'string') return;
    if (m.op === 'answer') {
      const w = waiting.get(m.id);
      if (w === undefined) return;
      waiting.delete(m.id);
      clearTimeout(w.timer);
      if (m.ok === true) w.resolve(m.result);
      else w.reject(new Error(String(m.error ?? 'failed').slice(0, 200)));
      return;
    }
    const handler = typeof m.op === 'string' ? commandHandlers.get(m.op) : undefined;
    const from = m.n;
    const id = m.id;
    const answer = (o: Record<string, unknown>) => {
      if (cmd !== undefined) trip(cmd).publish(CMD_CHANNEL, JSON.stringify({ n: settings.nodeId, to: from, id, op: 'answer', ...o })).catch((e: unknown) => down(e));
    };
    if (handler === undefined) return answer({ ok: false, error: `unknown command ${String(m.op).slice(0, 40)}` });
    Promise.resolve()
      .then(() => handler(m.args ?? {}))
      .then((result) => answer({ ok: true, result }), (e: unknown) => answer({ ok: false, error: e instanceof Error ? e.message : String(e) }));
  }

  /** LOC_WRITE removed other writes' contacts of an AoR: their holders drop their copies. */
  function onLocationMessage(text: string): void {
    let m: { k?: unknown; r?: unknown };
    try {
      m = JSON.parse(text) as typeof m;
    } catch {
      return;
    }
    if (typeof m.k !== 'string' || !m.k.startsWith(LOC_PREFIX) || !Array.isArray(m.r)) return;
    counters.received++;
    const aor = m.k.slice(LOC_PREFIX.length);
    const gone: LocationGone[] = [];
    for (const r of m.r as Array<{ f?: unknown; s?: unknown; m?: unknown }>) {
      if (r !== null && typeof r === 'object' && typeof r.f === 'string') gone.push({ ruid: r.f, cseq: Number(r.s), lastModified: Number(r.m) });
    }
    for (const l of locListeners) l(aor, gone);
  }

  function onMessage(channel: string, text: string): void {
    if (channel === CMD_CHANNEL) return onCommandMessage(text);
    if (channel === LOC_CHANNEL) return onLocationMessage(text);
    let m: { n?: string; op?: string; tb?: string; k?: string; t?: string; v?: unknown; e?: number };
    try {
      m = JSON.parse(text) as typeof m;
    } catch {
      return;
    }
    if (m.n === settings.nodeId || typeof m.tb !== 'string') return;
    counters.received++;
    let ev: ClusterHtableEvent | undefined;
    if (m.op === 'flush') ev = { op: 'flush', table: m.tb };
    else if (m.op === 'del' && typeof m.k === 'string') ev = { op: 'del', table: m.tb, key: m.k };
    else if (m.op === 'set' && typeof m.k === 'string') {
      const value: HtableValue | undefined = m.t === 'int' && typeof m.v === 'number' ? { type: 'int', value: m.v } : m.t === 'str' && typeof m.v === 'string' ? { type: 'str', value: m.v } : undefined;
      if (value !== undefined) ev = { op: 'set', table: m.tb, key: m.k, value, expires: typeof m.e === 'number' ? m.e : 0 };
    }
    if (ev !== undefined) for (const l of htListeners) l(ev);
  }

  /**
   * The heartbeat: this node's entry in sipd:nodes, who else is alive, and Redis' data generation
   * (sipd:epoch), in one pipeline. Returns the generation read (null: the key is gone).
   */
  /** This node's entry in sipd:nodes, as parseNodeEntry reads it: now, or (stopped) as it stops. */
  function nodeEntry(stopped = false): string {
    const group = settings.workerGroup === undefined ? {} : { group: settings.workerGroup, localHops };
    return JSON.stringify({ lastSeen: Date.now(), listen: settings.listen, hops, pid: process.pid, ...group, ...(stopped ? { stopped: true } : {}) });
  }

  async function announce(): Promise<string | null | undefined> {
    if (cmd === undefined) return undefined;
    counters.heartbeats++;
    const replies = await cmd
      .pipeline()
      .hset(NODES, settings.nodeId, nodeEntry())
      .hgetall(NODES)
      .get(EPOCH)
      .exec();
    for (const [err] of replies ?? []) if (err !== null) throw err;
    // who else is alive: calls are handed to a node only while it is
    const h = (replies?.[1]?.[1] ?? {}) as Record<string, string>;
    const generation = (replies?.[2]?.[1] ?? null) as string | null;
    seen.clear();
    const ips = new Map<string, number>();
    const nh = new Map<string, string[]>();
    const gh = new Map<string, string[]>();
    for (const [node, v] of Object.entries(h)) {
      const o = parseNodeEntry(v);
      if (o === undefined) continue; // not a member's entry: that node stays "not known"
      const last = o.lastSeen;
      seen.set(node, { lastSeen: last, stopped: o.stopped });
      if (o.hops !== undefined) nh.set(node, o.hops);
      // loopback addresses are only worth anything to the workers of the same primary (machine);
      // they are no member addresses either (a hand-off from loopback is from `myself`)
      if (settings.workerGroup !== undefined && o.group === settings.workerGroup && node !== settings.nodeId && o.localHops !== undefined) gh.set(node, o.localHops);
      // The addresses other nodes send hand-offs and forwarded requests from: their UDP
      // listen addresses and hand-off addresses (a --workers process sends from its private
      // port, on its listen IP); a node's own are `myself` to it, and left out, and so are a
      // stopped node's (it sends nothing more).
      if (node === settings.nodeId || o.stopped) continue;
      for (const l of [...o.listen, ...(o.hops ?? [])]) {
        const s = splitSocket(l);
        if (s === undefined || s.proto !== 'udp' || s.port === 0) continue;
        const ip = s.ip.toLowerCase();
        if ((ips.get(ip) ?? 0) < last) ips.set(ip, last);
      }
    }
    memberIps = ips;
    nodeHops = nh;
    groupHops = gh;
    return generation;
  }

  /**
   * The heartbeat read a data generation other than the one this node resynchronised with: Redis
   * lost its data without this node's connection dropping (FLUSHALL, or a restart faster than the
   * connection noticed). Resynchronise as after a reconnection: the node's copies (bans, its
   * registrations) go back. REGISTER is answered 503 meanwhile, as while reconnecting.
   */
  function checkGeneration(generation: string | null | undefined): void {
    if (generation === undefined || !isUp || resyncing !== undefined || generation === epoch) return;
    log?.warn('cluster: Redis lost its data (sipd:epoch changed) with this node connected; giving its copies back', { node: settings.nodeId });
    isUp = false;
    connected();
  }

  /** `node`'s hand-off address on loopback when it is a worker of this node's group listening on every address */
  function groupHopOf(node: string, socket?: string): string | undefined {
    const l = groupHops.get(node);
    return l === undefined ? undefined : hopOf(l, socket);
  }

  /**
   * Where this node hands a call for `c` (another node's contact, as read from Redis) to: the
   * owner's current hand-off address (a worker that restarted has a new private port; the one
   * written with the contact is kept for a node not announced yet); for a worker of this node's
   * group with no address another machine could use (it listens on every address), its private
   * port on loopback (`groupHop`: the one written with the contact by such a worker, for one whose
   * announcement with it this node has not read yet — none, or one made before its sockets were bound). None for a UDP contact that registered on a
   * (specific) address this node listens on too: the same machine's workers share that address,
   * so this node reaches the contact directly, as its owner would — nor on 0.0.0.0 / :: when the
   * owner is of this group.
   */
  function handOffTo(c: { node?: string; socket?: string; hop?: string }, groupHop?: string): string | undefined {
    if (c.node === undefined || c.node === settings.nodeId) return c.hop;
    const sameGroup = groupHops.has(c.node) || groupHop !== undefined;
    const s = c.socket === undefined ? undefined : splitSocket(c.socket);
    if (s !== undefined && s.proto === 'udp') {
      const at = `${s.ip.toLowerCase()}|${s.port}`;
      if (sharedUdp.has(at) || (sharedAnyUdp.has(at) && sameGroup)) return undefined;
    }
    const theirs = nodeHops.get(c.node);
    return (theirs === undefined ? c.hop : hopOf(theirs, c.socket)) ?? groupHopOf(c.node, c.socket) ?? groupHop;
  }

  /**
   * A contact as a node wrote it to sipd:loc, with the hand-off address this node uses for it
   * (handOffTo); undefined for a value that is not JSON (not sipd's: skipped by every reader).
   * The writer's group and loopback address (locationWrite) are this module's business: not passed on.
   */
  function decodeContact(v: string): ContactRecord | undefined {
    let c: ContactRecord & { group?: unknown; groupHop?: unknown };
    try {
      c = JSON.parse(v) as typeof c;
    } catch {
      return undefined;
    }
    const mine = settings.workerGroup !== undefined && c.group === settings.workerGroup && typeof c.groupHop === 'string';
    const hop = handOffTo(c, mine ? (c.groupHop as string) : undefined);
    delete c.group;
    delete c.groupHop;
    if (hop === undefined) delete c.hop;
    else c.hop = hop;
    return c;
  }

  /** After a (re)connection: owners resynchronise their copies, then our queued writes go out. */
  async function resync(): Promise<void> {
    counters.resyncs++;
    const mine = randomUUID();
    // This node setting the id means Redis holds no cluster data at all (new, or restarted
    // without persistence): what the nodes hold is all there is, as when the id changed.
    const created = (await cmd!.set(EPOCH, mine, 'NX')) === 'OK';
    const now = await cmd!.get(EPOCH);
    const redisLostData = created || (epoch !== undefined && now !== epoch);
    if (redisLostData && epoch !== undefined) log?.warn('cluster: Redis came back without its data; this node gives its copies back', { node: settings.nodeId });
    if (now !== null && now !== epoch && epochFile !== undefined) {
      try {
        writeFileAtomic(epochFile, now + '\n', dirname(epochFile));
      } catch (e) {
        // only the next start's check is affected: it then cannot tell a Redis that lost its data
        log?.warn('cluster: cannot keep the cluster store generation in the state directory', { file: epochFile, error: String(e) });
      }
    }
    epoch = now ?? undefined;
    firstConnect ??= { redisLostData };
    await cmd!.set(KEY, randomBytes(32).toString('hex'), 'NX');
    const k = await cmd!.get(KEY);
    if (k !== null) key = Buffer.from(k, 'hex');
    for (const l of connectListeners) await l({ redisLostData });
    while (pending.length > 0) {
      const p = pending[0]!;
      await send(p);
      pending.shift();
    }
    if (dropped > 0) log?.warn('cluster: writes made while Redis was away were dropped (queue full)', { dropped });
    dropped = 0;
    await announce();
  }

  let resyncing: Promise<void> | undefined;
  function connected(): void {
    if (stopped || resyncing !== undefined) return;
    resyncing = resync()
      .then(() => {
        if (!isUp) log?.info('cluster: connected to Redis; state resynchronised', { node: settings.nodeId });
        isUp = true;
      })
      .catch((e: unknown) => down(e))
      .finally(() => {
        resyncing = undefined;
      });
  }

  /**
   * The kernel has bound the SIP sockets (CoreApi.onSipSocketsBound): this node's hand-off
   * addresses are the bound ones from now on (a --workers process's private port is known only now).
   */
  function bound(core: CoreApi): void {
    const own = handOffAddresses(settings.listen, core.sipSockets().flatMap((s) => (s.advertised === s.local ? [s.local] : [s.local, s.advertised]).map(socketString)));
    hops = withAddress(own, settings.address);
    const problem = settings.address === undefined ? undefined : addressProblem(settings.address, own, localAddresses());
    if (problem !== undefined) log?.warn(`cluster: cluster.address ${settings.address}: ${problem}`, { node: settings.nodeId });
    if (settings.workerGroup !== undefined) localHops = localHandOffAddresses(hops);
    // tell the others at once rather than at the next heartbeat
    if (isUp) announce().catch((e: unknown) => down(e));
  }

  const api: ClusterApi = {
    enabled,
    nodeId: settings.nodeId,
    admission: settings.admission,
    dialogTtlSec: settings.dialogTtlSec,
    up: () => enabled && isUp,
    htableSet: (table, key, value, expires) => write({ kind: 'set', table, key, value, expires }),
    htableDelete: (table, key) => write({ kind: 'del', table, key }),
    htableFlush: (table) => write({ kind: 'flush', table }),
    async htableIncr(table, key, by, ttlSec) {
      if (!isUp || cmd === undefined) return undefined;
      try {
        const r = (await script(trip(cmd), 'INCR_PUB', 1, htKey(table, key), HT_CHANNEL, String(by), String(ttlSec * 1000), settings.nodeId, table, key)) as [number, string];
        counters.published++;
        return { value: Number(r[0]), expires: Number(r[1]) };
      } catch (e) {
        down(e);
        return undefined;
      }
    },
    async htableLoad(table) {
      const c = cmd!;
      const out: Array<{ key: string; value: HtableValue; expires: number }> = [];
      const prefix = htKey(table, '');
      let cursor = '0';
      do {
        const [next, keys] = await trip(c).scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length === 0) continue;
        const values = await trip(c).mget(...keys);
        keys.forEach((k, i) => {
          const raw = values[i];
          if (raw === null || raw === undefined) return;
          try {
            const o = JSON.parse(raw) as { t?: string; v?: unknown; e?: number };
            const value: HtableValue | undefined = o.t === 'int' && typeof o.v === 'number' ? { type: 'int', value: o.v } : o.t === 'str' && typeof o.v === 'string' ? { type: 'str', value: o.v } : undefined;
            if (value !== undefined) out.push({ key: k.slice(prefix.length), value, expires: typeof o.e === 'number' ? o.e : 0 });
          } catch {
            /* not ours: skipped */
          }
        });
      } while (cursor !== '0');
      return out;
    },
    onHtable: (l) => void htListeners.push(l),
    onConnect: (l) => void connectListeners.push(l),
    firstConnection: () => firstConnect,
    async locationWrite(aor, put, remove, opts = {}) {
      const { resyncing = false, maxContacts = 0, cseq, bindings, list = false } = opts;
      if ((!isUp && !resyncing) || cmd === undefined) throw new Error('cluster: Redis unreachable');
      const key = `${LOC_PREFIX}${aor}`;
      const last = Math.max(0, ...put.map((c) => c.expires));
      // One script (LOC_WRITE, by EVALSHA): one round trip per REGISTER, registrar.max_contacts
      // checked over all nodes in the same step, and less of sipd's CPU than a MULTI/EXEC of the
      // same commands (ioredis' transaction bookkeeping: 55 against 18 µs per write, measured).
      // The key lives as long as its longest contact (PEXPIREAT NX, then GT). With `bindings`,
      // other nodes' bindings of the URIs put or un-registered (or all, Contact: *) go in the same
      // step and their holders hear it on sipd:loc (published by the script).
      const args = [String(maxContacts), String(last * 1000), bindings === undefined ? '' : settings.nodeId, bindings?.all === true ? '*' : '', list ? '1' : '', String(put.length)];
      // a worker on every address: its loopback hand-off address for the workers of its group (decodeContact)
      const ours = settings.workerGroup === undefined || localHops.length === 0 ? undefined : { group: settings.workerGroup, groupHop: hopOf(localHops) };
      for (const c of put) args.push(c.ruid, c.contact, JSON.stringify({ ...c, node: settings.nodeId, hop: hopOf(hops, c.socket), ...ours }));
      args.push(String(remove.length), ...remove);
      // the URIs un-registered, then the outbound flows put or un-registered, marked by a leading NUL (no URI has one)
      const gone = [...(bindings?.unregister ?? []), ...(bindings?.flows ?? []).map((f) => `\0${f}`)];
      args.push(String(gone.length), ...gone);
      if (cseq !== undefined) args.push(cseq.callId, String(cseq.cseq), String(cseq.delaySec), String(cseq.uris.length), ...cseq.uris);
      let reply: number | Array<number | string>;
      try {
        reply = (await script(trip(cmd), 'LOC_WRITE', 1, key, ...args)) as typeof reply;
      } catch (e) {
        down(e);
        throw e;
      }
      // with list: [code, JSON of the AoR's other bindings…] for a write and a retransmission
      const [code, ...others] = Array.isArray(reply) ? reply : [reply];
      const r = Number(code);
      const listed = list ? others.flatMap((v) => decodeContact(String(v)) ?? []) : undefined;
      const withList = listed === undefined ? {} : { bindings: listed };
      if (r === -1) return { cseq: 'lower', ...withList };
      if (r > 0) return { contacts: r, ...withList };
      if (listed === undefined) return r === -2 ? { cseq: 'retransmission' } : undefined;
      return r === -2 ? { cseq: 'retransmission', bindings: listed } : { bindings: [...put, ...listed] };
    },
    async locationOwners(aors) {
      // called while resynchronising, when the node does not count as up yet
      if (cmd === undefined) throw new Error('cluster: Redis unreachable');
      const out: Array<Map<string, string>> = [];
      try {
        for (let i = 0; i < aors.length; i += 500) {
          // part of a resync or of the start (not counted in round_trips, as the rest of a resync)
          const p = cmd.pipeline();
          for (const aor of aors.slice(i, i + 500)) p.hgetall(`${LOC_PREFIX}${aor}`);
          for (const [err, h] of (await p.exec()) ?? []) {
            if (err !== null) throw err;
            const owners = new Map<string, string>();
            for (const [ruid, v] of Object.entries(h as Record<string, string>)) {
              let node: unknown;
              try {
                node = (JSON.parse(v) as { node?: unknown }).node;
              } catch {
                /* not sipd's JSON: held, by no node known (as a record without `node`) */
              }
              owners.set(ruid, typeof node === 'string' ? node : '');
            }
            out.push(owners);
          }
        }
      } catch (e) {
        down(e);
        throw e;
      }
      return out;
    },
    onLocationGone: (l) => void locListeners.push(l),
    async locationGiveBackUnowned(entries) {
      // part of a resync or of the start, as locationOwners (not counted in round_trips)
      if (cmd === undefined) throw new Error('cluster: Redis unreachable');
      try {
        for (let i = 0; i < entries.length; i += 500) {
          const p = cmd.pipeline();
          for (const { aor, contacts } of entries.slice(i, i + 500)) {
            if (contacts.length === 0) continue;
            // a permanent contact (expires 0) keeps the key from expiring: no PEXPIREAT then
            const last = contacts.some((c) => c.expires === 0) ? 0 : Math.max(...contacts.map((c) => c.expires));
            // no node, no hop: called directly (proxy), as the contacts of a node not alive
            const args = contacts.flatMap((c) => {
              const { node: _node, hop: _hop, ...rest } = c;
              return [c.ruid, JSON.stringify(rest)];
            });
            queueScript(p, 'LOC_GIVE_BACK_UNOWNED', 1, `${LOC_PREFIX}${aor}`, String(last * 1000), ...args);
          }
          for (const [err] of (await p.exec()) ?? []) if (err !== null) throw err;
        }
      } catch (e) {
        down(e);
        throw e;
      }
    },
    async locationExpire(entries) {
      if (!isUp || cmd === undefined) throw new Error('cluster: Redis unreachable');
      const byAor = new Map<string, string[]>();
      for (const { aor, ruid } of entries) byAor.set(aor, [...(byAor.get(aor) ?? []), ruid]);
      const list = [...byAor];
      let n = 0;
      try {
        for (let i = 0; i < list.length; i += 500) {
          const p = trip(cmd).pipeline();
          for (const [aor, ruids] of list.slice(i, i + 500)) queueScript(p, 'LOC_EXPIRE', 1, `${LOC_PREFIX}${aor}`, ...ruids);
          for (const [err, r] of (await p.exec()) ?? []) {
            if (err !== null) throw err;
            n += Number(r);
          }
        }
      } catch (e) {
        down(e);
        throw e;
      }
      return n;
    },
    serverId: (node) => serverIdOf(node ?? settings.nodeId),
    recentNodes(withinMs) {
      if (seen.size === 0) return [];
      const t = Date.now();
      const window = Math.max(withinMs, HEARTBEAT_MS * 3);
      const out = [...seen].filter(([, e]) => t - e.lastSeen < window).map(([n]) => n);
      if (!out.includes(settings.nodeId)) out.push(settings.nodeId);
      return out;
    },
    async locationRead(aor) {
      if (!isUp || cmd === undefined) throw new Error('cluster: Redis unreachable');
      try {
        const h = await trip(cmd).hgetall(`${LOC_PREFIX}${aor}`);
        return Object.values(h).flatMap((v) => decodeContact(v) ?? []);
      } catch (e) {
        down(e);
        throw e;
      }
    },
    async callAdmit(user, member, limit) {
      if (!isUp || cmd === undefined) return 'down';
      try {
        const r = await script(trip(cmd), 'CALL_ADMIT', 1, `${PREFIX}calls:${user}`, `${settings.nodeId}|${member}`, String(limit), String(ttlMs));
        return Number(r) === 1 ? 'admitted' : 'full';
      } catch (e) {
        down(e);
        return 'down';
      }
    },
    callRefresh(entries) {
      if (!isUp || cmd === undefined || entries.length === 0) return;
      const p = trip(cmd).pipeline();
      for (const e of entries) queueScript(p, 'CALL_REFRESH', 1, `${PREFIX}calls:${e.user}`, String(ttlMs), `${settings.nodeId}|${e.member}`);
      p.exec().catch((e: unknown) => down(e));
    },
    callRelease(user, member) {
      if (!isUp || cmd === undefined) return; // it expires by its deadline
      trip(cmd).zrem(`${PREFIX}calls:${user}`, `${settings.nodeId}|${member}`).catch((e: unknown) => down(e));
    },
    async pipeAdmit(pipes, windowMs) {
      if (!isUp || cmd === undefined) return 'down';
      // every admission its own member (a call re-sent with the same Call-ID counts again)
      const member = `${settings.nodeId}|${processTag}|${++admissions}`;
      try {
        const r = await script(trip(cmd), 'PIPE_ADMIT', pipes.length, ...pipes.map((p) => `${PREFIX}pl:${p.name}`), String(windowMs), member, ...pipes.map((p) => String(p.max)));
        return Number(r) === 0 ? 'admitted' : 'full';
      } catch (e) {
        down(e);
        return 'down';
      }
    },
    async nodes() {
      if (!isUp || cmd === undefined) throw new Error('cluster: Redis unreachable');
      const h = await trip(cmd).hgetall(NODES);
      return Object.entries(h)
        .map(([node, v]) => {
          const e = parseNodeEntry(v) ?? { lastSeen: 0, listen: [], hops: [], pid: 0, stopped: false, localHops: undefined };
          return { node, lastSeen: e.lastSeen, listen: e.listen, hops: e.hops ?? [], ...(e.localHops !== undefined ? { localHops: e.localHops } : {}), pid: e.pid, stopped: e.stopped };
        })
        .sort((a, b) => a.node.localeCompare(b.node));
    },
    hopFor: (socket) => hopOf(hops, socket),
    memberAddress(ip) {
      if (memberIps.size === 0) return false;
      const t = memberIps.get(ip) ?? memberIps.get(ip.toLowerCase());
      return t !== undefined && Date.now() - t < HEARTBEAT_MS * 3;
    },
    alive(node) {
      if (node === settings.nodeId) return true;
      const e = seen.get(node);
      return e === undefined ? undefined : nodeAlive(e, Date.now());
    },
    sign(data) {
      if (key === undefined) return undefined;
      return createHmac('sha256', key).update(data).digest('hex').slice(0, 32);
    },
    verify(data, sig) {
      const want = api.sign(data);
      if (want === undefined || sig.length !== want.length) return false;
      return timingSafeEqual(Buffer.from(want), Buffer.from(sig));
    },
    dialogOwn(d, ttlSec) {
      if (!isUp || cmd === undefined) return; // its own node still ends it; others cannot find it meanwhile
      const rec = { toTag: d.toTag, node: settings.nodeId, hop: d.hop, pid: process.pid, ...(d.takenFrom !== undefined ? { takenFrom: d.takenFrom } : {}), ...(d.state !== undefined ? { state: d.state } : {}) };
      dialogWrite('DLG_OWN', dlgKey(d.callId), DLG_INDEX, d.fromTag, JSON.stringify(rec), settings.nodeId, String(process.pid), String(ttlSec * 1000), dlgMember(d.callId, d.fromTag), String(ttlMs)).catch((e: unknown) => down(e));
    },
    async dialogEnd(callId, fromTag, cdr) {
      if (!isUp || cmd === undefined) return 'down';
      try {
        const r = String(await dialogWrite('DLG_END', dlgKey(callId), DLG_INDEX, fromTag, settings.nodeId, String(process.pid), dlgMember(callId, fromTag), cdr ?? '', String(ttlMs)));
        return r === 'released' || r === 'taken' || r === 'gone' ? r : 'down';
      } catch (e) {
        down(e);
        return 'down';
      }
    },
    async dialogClaim(callId, fromTag, from) {
      if (!isUp || cmd === undefined) throw new Error('cluster: Redis unreachable');
      let r: unknown;
      try {
        r = await script(trip(cmd), 'DLG_CLAIM', 2, dlgKey(callId), DLG_INDEX, fromTag, from.node, from.pid === undefined ? '' : String(from.pid), settings.nodeId, String(process.pid), api.hopFor() ?? '', dlgMember(callId, fromTag), String(ttlMs));
      } catch (e) {
        down(e);
        throw e;
      }
      if (typeof r !== 'string') return undefined;
      const o = JSON.parse(r) as { toTag?: unknown; hop?: unknown; state?: unknown };
      return { callId, fromTag, toTag: typeof o.toTag === 'string' ? o.toTag : '', node: from.node, hop: typeof o.hop === 'string' ? o.hop : '', ...(from.pid !== undefined ? { pid: from.pid } : {}), state: o.state, takenFrom: from.node };
    },
    dialogRefresh(list) {
      if (!isUp || cmd === undefined || list.length === 0) return; // the deadlines pass: other nodes then end the calls only if this node looks dead
      const p = trip(cmd).pipeline();
      for (let i = 0; i < list.length; i += 500) queueScript(p, 'DLG_REFRESH', 1, DLG_INDEX, String(ttlMs), ...list.slice(i, i + 500).map((d) => dlgMember(d.callId, d.fromTag)));
      p.exec().catch((e: unknown) => down(e));
    },
    async dialogsOverdue(limit) {
      if (!isUp || cmd === undefined) return [];
      let r: unknown;
      try {
        r = await script(trip(cmd), 'DLG_OVERDUE', 1, DLG_INDEX, String(limit), dlgKey(''));
      } catch (e) {
        down(e);
        return [];
      }
      const out: Array<{ callId: string; fromTag: string }> = [];
      for (const m of Array.isArray(r) ? r : []) {
        const i = typeof m === 'string' ? m.indexOf(' ') : -1;
        if (i > 0) out.push({ fromTag: (m as string).slice(0, i), callId: (m as string).slice(i + 1) });
      }
      return out;
    },
    async dialogForget(list) {
      if (list.length === 0) return;
      if (!isUp || cmd === undefined) throw new Error('cluster: Redis unreachable');
      // one request per acc batch, however many calls it holds (a pipeline of scripts of 500)
      const p = trip(cmd).pipeline();
      for (let i = 0; i < list.length; i += 500) {
        const part = list.slice(i, i + 500);
        queueScript(p, 'DLG_FORGET', 1 + part.length, DLG_INDEX, ...part.map((d) => dlgKey(d.callId)), settings.nodeId, String(process.pid), ...part.flatMap((d) => [d.fromTag, dlgMember(d.callId, d.fromTag)]));
      }
      try {
        for (const [err] of (await p.exec()) ?? []) if (err !== null) throw err;
      } catch (e) {
        down(e);
        throw e;
      }
    },
    async dialogTombstone(callId, fromTag) {
      if (!isUp || cmd === undefined) throw new Error('cluster: Redis unreachable');
      let v: string | null;
      try {
        v = await trip(cmd).hget(dlgKey(callId), fromTag);
      } catch (e) {
        down(e);
        throw e;
      }
      if (v === null) return undefined;
      let o: { ended?: unknown; node?: unknown; pid?: unknown; cdr?: unknown };
      try {
        o = JSON.parse(v) as typeof o;
      } catch {
        return undefined; // not a record this module wrote: nothing to claim
      }
      if (o.ended !== true || typeof o.node !== 'string' || typeof o.cdr !== 'string') return undefined;
      return { node: o.node, ...(typeof o.pid === 'number' ? { pid: o.pid } : {}) };
    },
    async dialogClaimCdr(callId, fromTag, from) {
      if (!isUp || cmd === undefined) throw new Error('cluster: Redis unreachable');
      let r: unknown;
      try {
        r = await script(trip(cmd), 'DLG_CLAIM_CDR', 2, dlgKey(callId), DLG_INDEX, fromTag, from.node, from.pid === undefined ? '' : String(from.pid), settings.nodeId, String(process.pid), dlgMember(callId, fromTag), String(ttlMs));
      } catch (e) {
        down(e);
        throw e;
      }
      return typeof r === 'string' ? r : undefined;
    },
    dialogRelease(callId, fromTag) {
      if (!isUp || cmd === undefined) return; // it expires
      trip(cmd).hdel(`${PREFIX}dlg:${callId}`, fromTag).catch((e: unknown) => down(e));
    },
    async dialogOwners(callId) {
      if (!isUp || cmd === undefined) throw new Error('cluster: Redis unreachable');
      let h: Record<string, string>;
      try {
        h = await trip(cmd).hgetall(`${PREFIX}dlg:${callId}`);
      } catch (e) {
        down(e);
        throw e;
      }
      const out: ClusterDialog[] = [];
      for (const [fromTag, v] of Object.entries(h)) {
        try {
          const o = JSON.parse(v) as { ended?: unknown; toTag?: unknown; node?: unknown; hop?: unknown; pid?: unknown; state?: unknown; takenFrom?: unknown };
          // a tombstone (the call ended) owns nothing a request could go to
          if (o.ended === true || typeof o.toTag !== 'string' || typeof o.node !== 'string' || typeof o.hop !== 'string') continue;
          // the owner's current address (a restarted worker has a new private port), on the same
          // IP; a worker of this group on every address (no hop written): on loopback
          const theirs = o.node === settings.nodeId ? undefined : nodeHops.get(o.node);
          const local = o.node === settings.nodeId ? undefined : groupHopOf(o.node);
          out.push({ callId, fromTag, toTag: o.toTag, node: o.node, hop: (theirs === undefined ? undefined : hopOf(theirs, `udp:${o.hop}`)) ?? (o.hop === '' ? local : undefined) ?? o.hop, ...recordExtras(o) });
        } catch {
          /* skipped */
        }
      }
      return out;
    },
    command(node, op, args) {
      if (!isUp || cmd === undefined) return Promise.reject(new Error('cluster: Redis unreachable'));
      const id = randomUUID();
      const c = trip(cmd);
      return new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`node ${node} did not answer`));
        }, Math.max(2000, settings.timeoutMs * 4));
        timer.unref();
        waiting.set(id, { resolve, reject, timer });
        c.publish(CMD_CHANNEL, JSON.stringify({ n: settings.nodeId, to: node, id, op, args })).catch((e: unknown) => {
          waiting.delete(id);
          clearTimeout(timer);
          down(e);
          reject(e instanceof Error ? e : new Error(String(e)));
        });
      });
    },
    onCommand: (op, handler) => void commandHandlers.set(op, handler),
  };

  return defineModule({
    name: 'cluster',
    params: {},
    async init(ctx) {
      log = ctx.log;
      if (!enabled) return;
      const core = ctx.api<CoreApi>('core');
      core?.onSipSocketsBound(() => bound(core));
      if (core !== undefined) {
        epochFile = join(core.stateDir, EPOCH_FILE);
        try {
          epoch = readFileSync(epochFile, 'utf8').trim() || undefined;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log.warn('cluster: cannot read the cluster store generation kept in the state directory', { file: epochFile, error: String(e) });
        }
      }
      const { Redis } = await import('ioredis');
      const { url, options } = redisOptions(settings.url!, settings.passwordFile, settings.timeoutMs);
      const client = (o: RedisOptions) => (url === undefined ? new Redis(o) : new Redis(url, o));
      cmd = client(options);
      sub = client({ ...options, commandTimeout: undefined });
      for (const [name, lua] of Object.entries(SCRIPTS)) cmd.defineCommand(`sipd_${name}`, { lua });
      // ioredis reports each failed reconnection; the state change is logged once by down().
      cmd.on('error', (e: Error) => down(e));
      sub.on('error', () => {});
      cmd.on('close', () => {
        if (isUp) down(new Error('connection closed'));
      });
      sub.on('message', onMessage);
      // Subscribe first, then read back: no change can fall between the two.
      sub.on('ready', () => {
        sub!.subscribe(HT_CHANNEL, CMD_CHANNEL, LOC_CHANNEL).then(() => connected(), (e: unknown) => down(e));
      });
      cmd.on('ready', () => {
        if (sub?.status === 'ready') connected();
      });
      await Promise.allSettled([sub.connect(), cmd.connect()]);
      // Wait (bounded) for the first resynchronisation, so a node that starts with Redis up
      // starts with the cluster's bans.
      const until = Date.now() + Math.max(2000, settings.timeoutMs * 4);
      while (!isUp && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      if (!isUp) log.warn('cluster: Redis not reachable at start; running on local state, retrying every second', { node: settings.nodeId });
      heartbeat = setInterval(() => {
        if (isUp) announce().then(checkGeneration, (e: unknown) => down(e));
        else if (cmd?.status === 'ready' && sub?.status === 'ready') connected();
      }, HEARTBEAT_MS);
      heartbeat.unref();
      log.info('cluster: node started', { node: settings.nodeId, url: settings.url });
    },
    async destroy() {
      stopped = true;
      if (heartbeat !== undefined) clearInterval(heartbeat);
      heartbeat = undefined;
      await sendDialogBatch();
      await resyncing;
      for (const w of waiting.values()) {
        clearTimeout(w.timer);
        w.reject(new Error('cluster: node stopping'));
      }
      waiting.clear();
      // The entry stays, marked stopped: other nodes count this node not alive at their next
      // heartbeat (calls for its contacts made directly, its calls taken over), as they would a
      // killed node's after 6 s, and cluster.nodes shows it stopped with its last-seen time.
      if (isUp && cmd !== undefined) {
        await script(cmd, 'NODE_STOP', 1, NODES, settings.nodeId, String(process.pid), nodeEntry(true), JSON.stringify({ n: settings.nodeId, op: 'stopped', pid: process.pid })).catch((e: unknown) => log?.warn('cluster: could not mark this node stopped in sipd:nodes; other nodes count it alive until its heartbeat is 6 s old', { error: String((e as Error)?.message ?? e).slice(0, 200) }));
      }
      cmd?.disconnect();
      sub?.disconnect();
      cmd = sub = undefined;
      isUp = false;
    },
    rpc: {
      'cluster.nodes': {
        doc: 'sipd: the nodes of the cluster (cluster.url) with their last heartbeat: cluster.nodes',
        async handler() {
          if (!enabled) return { enabled: false, node: settings.nodeId, nodes: [] };
          const list = await api.nodes().catch(() => undefined);
          if (list === undefined) return { enabled: true, up: false, node: settings.nodeId, nodes: [] };
          const now = Date.now();
          return { enabled: true, up: true, node: settings.nodeId, nodes: list.map((n) => ({ ...n, serverId: serverIdOf(n.node), lastSeen: new Date(n.lastSeen).toISOString(), ageSec: Math.max(0, Math.round((now - n.lastSeen) / 1000)), alive: nodeAlive(n, now) })) };
        },
      },
      'cluster.stats': {
        doc: 'sipd: cluster counters: published, received, resyncs, failures, queued_while_down, heartbeats (each one HSET and one HGETALL of sipd:nodes), round_trips (requests to Redis but heartbeats and resyncs; a pipeline counts once), stops_heard (clean stops of other members heard on sipd:cmd), pending',
        handler: () => ({ enabled, up: api.up(), node: settings.nodeId, ...counters, pending: pending.length }),
      },
    },
    api,
  });
}
