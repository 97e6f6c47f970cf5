/**
 * An RPC handler's deliberate error: a code and a message the caller may see, e.g. Kamailio's
 * 500 "No such htable" or 404 "Key not found in htable.". It is a json-rpc-2.0
 * JSONRPCErrorException, so the server passes it through as it is; any other exception is a bug
 * and reaches the caller as -32603 "Internal error" with nothing of its text.
 */
import { JSONRPCErrorCode, JSONRPCErrorException } from 'json-rpc-2.0';

export const RPC_PARSE_ERROR = JSONRPCErrorCode.ParseError; // -32700
export const RPC_INVALID_REQUEST = JSONRPCErrorCode.InvalidRequest; // -32600
export const RPC_METHOD_NOT_FOUND = JSONRPCErrorCode.MethodNotFound; // -32601
export const RPC_INVALID_PARAMS = JSONRPCErrorCode.InvalidParams; // -32602
export const RPC_INTERNAL_ERROR = JSONRPCErrorCode.InternalError; // -32603

export class RpcFault extends JSONRPCErrorException {
  constructor(code: number, message: string, data?: unknown) {
    super(message, code, data);
    // json-rpc-2.0 (ES5) pins the prototype to JSONRPCErrorException's; restore ours.
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = 'RpcFault';
  }
}

/** -32602 with a message naming what is wrong with the params. */
export function invalidParams(message: string): RpcFault {
  return new RpcFault(RPC_INVALID_PARAMS, message);
}
