/**
 * The library behind sipctl, for programs that want it without the CLI (package.json "main",
 * "exports" and "types"): connect() (api.ts) for the operations the commands run, and the core
 * functions beneath it — configuration, the database, subscribers, proxy operations, errors.
 * Commands stay thin over these.
 */
export { connect, Sipctl, type ConnectOptions, type WriteOptions } from './api.js';
export { Session, type SessionOptions } from './session.js';
export { ops, type OpContext, type OpResult, type OpView } from './proxy/ops.js';
export type { NodeOutcome } from './proxy/node-set.js';
export type { HtableChange, HtableItem, UnbanResult } from './proxy/htable.js';
export type { LoadedAddress, ReloadResult } from './proxy/permissions.js';
export type { UlDump, UlLookup, UlRemoval } from './proxy/ul.js';
export type { HtableInfo, HtableRow } from './rpc/methods.js';
export type { RpcAuth } from './rpc/client.js';
export type { AddressChange, AddressInput, AddressRow } from './address/addresses.js';
export type { AddSimInput, AddSimResult, SimView } from './sim/sim-records.js';
export type { SubscriberChange, ListOptions as SubscriberListOptions } from './subscribers/subscribers.js';
export { EXIT_CODES, SipctlError, UsageError, ValidationError, NotFoundError, ConflictError, ConnectionError, SchemaError, ConfigError, isSipctlError } from './errors.js';
export type { ErrorCategory } from './errors.js';
export { resolveConfig, type ConfigValues, type ResolvedConfig } from './config/config.js';
export { openDatabase, parseDbUrl, type Database, type Queryable } from './db/database.js';
export { initSchema, schemaStatus } from './db/schema/schema.js';
export { addSubscriber, changePassword, removeSubscriber, getSubscriber, listSubscribers, type SubscriberView, type CredentialOptions } from './subscribers/subscribers.js';
export { importSubscribers } from './subscribers/import.js';
export { subscriberStorage, type StorageMode } from './subscribers/storage.js';
export { computeHa1, generatePassword } from './subscribers/credentials.js';
