/** Documentation of every configuration key, rendered into README and sipctl(8) by scripts/gen-docs.js. */
export const CONFIG_DOCS: Array<{ key: string; env?: string; flag?: string; default: string; description: string }> = [
  { key: 'db', env: 'SIPCTL_DB', flag: '--db', default: 'sqlite://$XDG_DATA_HOME/sipctl/sipctl.db', description: 'Database URL: mysql://user@host:port/db (options ?ssl=true, ?ssl-ca=FILE, ?socket=PATH) or sqlite:///absolute/path.db / sqlite:relative.db.' },
  { key: 'dbPassword', env: 'SIPCTL_DB_PASSWORD', default: 'none', description: 'Database password, kept out of the URL so it never appears in a process list. A password inside the URL also works.' },
  { key: 'domain', env: 'SIPCTL_DOMAIN', flag: '--domain', default: 'none', description: 'Default SIP domain (and digest realm) for users given without @domain.' },
  { key: 'hash', env: 'SIPCTL_HASH', flag: '--hash', default: 'md5', description: 'ha1/ha1b hash: md5, or sha256 for proxies configured for SHA-256 digest.' },
  { key: 'storePlaintext', env: 'SIPCTL_STORE_PLAINTEXT', flag: '--store-plaintext', default: 'false', description: "Also write the subscriber.password column (kamctl's STORE_PLAINTEXT_PW). Off: only ha1/ha1b are stored." },
  { key: 'rpc', env: 'SIPCTL_RPC', flag: '--rpc', default: 'http://127.0.0.1:5071/RPC', description: 'JSON-RPC endpoint(s) of the proxy: http(s)://…, unix:/path, fifo:/path. Several: a list.' },
  { key: 'nodes', default: 'none', description: 'Named proxies for fan-out: an object of name → JSON-RPC URL.' },
  { key: 'timeoutMs', env: 'SIPCTL_TIMEOUT', flag: '--timeout', default: '5000', description: 'JSON-RPC timeout in milliseconds.' },
];
