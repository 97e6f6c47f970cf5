/** What each table holds, for sipctl(8). Columns are documented where sipctl defines them (sim). */
export const TABLE_DOCS: Array<{ name: string; version: number; owner: string; description: string; columns?: Array<[string, string]> }> = [
  { name: 'version', version: 1, owner: 'Kamailio core', description: 'table name → schema version; Kamailio modules refuse to start on a mismatch, sipctl refuses to write.' },
  { name: 'subscriber', version: 7, owner: 'auth_db', description: 'digest credentials: username, domain, password (empty unless stored on request), ha1, ha1b.' },
  { name: 'address', version: 6, owner: 'permissions', description: 'IP address groups (grp, ip_addr, mask, port, tag); group 200 = carriers by convention.' },
  { name: 'trusted', version: 6, owner: 'permissions', description: 'trusted peers (created for Kamailio compatibility).' },
  { name: 'location', version: 9, owner: 'usrloc', description: 'registered contacts.' },
  { name: 'location_attrs', version: 1, owner: 'usrloc', description: 'attributes of registered contacts.' },
  { name: 'htable', version: 2, owner: 'htable', description: 'persistent hash table entries.' },
  {
    name: 'sim', version: 1, owner: 'sipctl', description: 'SIM key material. The operator OP is never stored, only the per-card OPc.',
    columns: [
      ['imsi', 'IMSI, 6-15 digits, unique'],
      ['iccid', 'ICCID, 18-20 digits with a valid Luhn check digit (19 digits without one only when the vendor file says so), unique, nullable'],
      ['msisdn', 'MSISDN, nullable'],
      ['ki', 'subscriber key Ki, 32 lower-case hex characters, unique (no two cards share a Ki)'],
      ['opc', 'OPc = OP XOR AES-128(Ki, OP) (3GPP TS 35.206), 32 lower-case hex characters'],
      ['amf', 'authentication management field, 4 hex characters (default 8000)'],
      ['sqn', 'sequence number, 12 hex characters (default 000000000000), advanced atomically by sim vector'],
      ['batch', 'vendor batch / file name, nullable'],
      ['vendor', 'SIM vendor, nullable'],
      ['created_at', 'when the record was added (UTC)'],
      ['updated_at', 'when the record last changed (UTC)'],
    ],
  },
];
