/** Documentation of every configuration key, rendered into README and sipctl(8) by scripts/gen-docs.js. */
export const CONFIG_DOCS: Array<{ key: string; env?: string; flag?: string; default: string; description: string }> = [
  { key: 'db', env: 'SIPCTL_DB', flag: '--db', default: 'sqlite://$XDG_DATA_HOME/sipctl/sipctl.db', description: 'Database URL: mysql://user@host:port/db (options ?ssl=true, ?ssl-ca=FILE, ?socket=PATH; host localhost means the unix socket, as for the mysql client, 127.0.0.1 means TCP) or sqlite:///absolute/path.db / sqlite:relative.db (created mode 0600).' },
  { key: 'dbPassword', env: 'SIPCTL_DB_PASSWORD', default: 'none', description: 'Database password, kept out of the URL so it never appears in a process list. A password inside the URL also works.' },
  { key: 'domain', env: 'SIPCTL_DOMAIN', flag: '--domain', default: 'none', description: 'Default SIP domain (and digest realm) for users given without @domain.' },
  { key: 'hash', env: 'SIPCTL_HASH', flag: '--hash', default: 'md5', description: 'ha1/ha1b hash: md5, or sha256 for proxies configured for SHA-256 digest.' },
  { key: 'storePlaintext', env: 'SIPCTL_STORE_PLAINTEXT', flag: '--store-plaintext', default: 'false', description: "Also write the subscriber.password column (kamctl's STORE_PLAINTEXT_PW). Off: only ha1/ha1b are stored." },
  { key: 'rpc', env: 'SIPCTL_RPC', flag: '--rpc', default: 'http://127.0.0.1:5071/RPC', description: 'JSON-RPC endpoint(s) of the proxy: http(s)://…, unix:/path, fifo:/path. Several: a list.' },
  { key: 'nodes', default: 'none', description: 'Named proxies for fan-out: an object of name → JSON-RPC URL.' },
  { key: 'rpcUser', env: 'SIPCTL_RPC_USER', default: 'none', description: 'HTTP basic-auth user for http(s) RPC endpoints (config file or environment only, never a flag).' },
  { key: 'rpcPassword', env: 'SIPCTL_RPC_PASSWORD', default: 'none', description: 'HTTP basic-auth password; a config file holding it must be mode 0600.' },
  { key: 'rpcToken', env: 'SIPCTL_RPC_TOKEN', default: 'none', description: 'HTTP bearer token instead of basic auth; a config file holding it must be mode 0600.' },
  { key: 'rpcCaFile', env: 'SIPCTL_RPC_CA_FILE', flag: '--rpc-ca-file', default: 'system CAs', description: 'PEM CA bundle trusted for https:// RPC endpoints.' },
  { key: 'rpcFifoReplyDir', env: 'SIPCTL_RPC_FIFO_REPLY_DIR', default: '/tmp', description: "Kamailio's jsonrpcs fifo_reply_dir, where fifo: calls create their reply FIFO." },
  { key: 'timeoutMs', env: 'SIPCTL_TIMEOUT', flag: '--timeout', default: '5000', description: 'JSON-RPC timeout in milliseconds.' },
  { key: 'simKekFile', env: 'SIPCTL_SIM_KEK_FILE', default: 'none (Ki/OPc stored in the clear)', description: 'File (mode 0600) holding the 64-hex-digit key-encryption key for SIM keys at rest (AES-256-GCM per row). SIPCTL_SIM_KEK (the hex key itself, environment only) overrides it. Never a flag.' },
];
