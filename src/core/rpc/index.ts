export { createRpcClient, remoteError, DEFAULT_RPC_TIMEOUT_MS } from './client.js';
export type { RpcClient, RpcClientOptions, RpcAuth, RpcParams, RpcCall, RpcBatchOutcome, CallOptions, TransportKind } from './client.js';
export { RpcError, isRpcError } from './rpc-error.js';
export type { RpcErrorCode, RemoteErrorDetails } from './rpc-error.js';
export { parseRpcUrl, maskUrl } from './rpc-url.js';
export type { RpcEndpoint } from './rpc-url.js';
export { parseKamcmdParams, parseKamcmdParam } from './params.js';
export * from './methods.js';
