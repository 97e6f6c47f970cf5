/**
 * The library behind sipctl, for programs that want it without the CLI (package.json "main" and
 * "exports"): configuration, the database, subscribers, errors. Commands stay thin over these.
 */
export { SipctlError, UsageError, ValidationError, NotFoundError, ConflictError, ConnectionError, SchemaError, ConfigError, isSipctlError } from './errors.js';
export type { ErrorCategory } from './errors.js';
export { resolveConfig, type ConfigValues, type ResolvedConfig } from './config/config.js';
export { openDatabase, parseDbUrl, type Database, type Queryable } from './db/database.js';
export { initSchema, schemaStatus } from './db/schema/schema.js';
export { addSubscriber, changePassword, removeSubscriber, getSubscriber, listSubscribers, type SubscriberView, type CredentialOptions } from './subscribers/subscribers.js';
export { importSubscribers } from './subscribers/import.js';
export { subscriberStorage, type StorageMode } from './subscribers/storage.js';
export { computeHa1, generatePassword } from './subscribers/credentials.js';
