/**
 * The Kamailio 5.x tables sipctl uses, column for column as `kamdbctl create` makes them
 * (from Kamailio's own mysql/ and db_sqlite/ create scripts), plus sipctl's `sim` table.
 * `version` is the table version Kamailio's modules check at start-up.
 */
import type { Engine } from '../database.js';

export interface TableDef {
  name: string;
  version: number;
  /** Who owns it: a Kamailio module, or sipctl itself. */
  owner: string;
  ddl: Record<Engine, string[]>;
  /**
   * Upgrades `sipctl db init` runs on a table of an older version: migrations[n] takes version n
   * to n + 1 (statements per engine), adding the columns `adds`. Only sipctl's own tables have
   * them; Kamailio's are migrated with Kamailio's tools. Each engine's statements must be all or
   * nothing: on SQLite they run in one transaction with the version row; on MySQL each DDL
   * statement commits on its own, so a step is one ALTER, skipped when `adds` are all there
   * (the ALTER ran, the version row was not written).
   */
  migrations?: Record<number, { adds: string[]; ddl: Record<Engine, string[]> }>;
  /**
   * sipctl's additions to a table whose version number is Kamailio's (its modules check that
   * number, so it stays): `sipctl db init` adds `column` to a table that has `requires` (sipctl's
   * extra columns; a table made by Kamailio's scripts is left as it is) and lacks it, all or
   * nothing (one ALTER on MySQL, a transaction on SQLite).
   */
  additions?: Array<{ column: string; requires: string; ddl: Record<Engine, string[]> }>;
}

const MYSQL_TAIL = ' ENGINE=InnoDB DEFAULT CHARSET=latin1';

const locationColumnsMysql = `
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`ruid\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`username\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`domain\` VARCHAR(64) DEFAULT NULL,
    \`contact\` VARCHAR(512) DEFAULT '' NOT NULL,
    \`received\` VARCHAR(128) DEFAULT NULL,
    \`path\` VARCHAR(512) DEFAULT NULL,
    \`expires\` DATETIME DEFAULT '2030-05-28 21:32:15' NOT NULL,
    \`q\` FLOAT(10,2) DEFAULT 1.0 NOT NULL,
    \`callid\` VARCHAR(255) DEFAULT 'Default-Call-ID' NOT NULL,
    \`cseq\` INT(11) DEFAULT 1 NOT NULL,
    \`last_modified\` DATETIME DEFAULT '2000-01-01 00:00:01' NOT NULL,
    \`flags\` INT(11) DEFAULT 0 NOT NULL,
    \`cflags\` INT(11) DEFAULT 0 NOT NULL,
    \`user_agent\` VARCHAR(255) DEFAULT '' NOT NULL,
    \`socket\` VARCHAR(64) DEFAULT NULL,
    \`methods\` INT(11) DEFAULT NULL,
    \`instance\` VARCHAR(255) DEFAULT NULL,
    \`reg_id\` INT(11) DEFAULT 0 NOT NULL,
    \`server_id\` INT(11) DEFAULT 0 NOT NULL,
    \`connection_id\` INT(11) DEFAULT 0 NOT NULL,
    \`keepalive\` INT(11) DEFAULT 0 NOT NULL,
    \`partition\` INT(11) DEFAULT 0 NOT NULL,
    CONSTRAINT ruid_idx UNIQUE (\`ruid\`)`;

const locationColumnsSqlite = `
    id INTEGER PRIMARY KEY NOT NULL,
    ruid VARCHAR(64) DEFAULT '' NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT NULL,
    contact VARCHAR(512) DEFAULT '' NOT NULL,
    received VARCHAR(128) DEFAULT NULL,
    path VARCHAR(512) DEFAULT NULL,
    expires TIMESTAMP WITHOUT TIME ZONE DEFAULT '2030-05-28 21:32:15' NOT NULL,
    q REAL DEFAULT 1.0 NOT NULL,
    callid VARCHAR(255) DEFAULT 'Default-Call-ID' NOT NULL,
    cseq INTEGER DEFAULT 1 NOT NULL,
    last_modified TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:01' NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    cflags INTEGER DEFAULT 0 NOT NULL,
    user_agent VARCHAR(255) DEFAULT '' NOT NULL,
    socket VARCHAR(64) DEFAULT NULL,
    methods INTEGER DEFAULT NULL,
    instance VARCHAR(255) DEFAULT NULL,
    reg_id INTEGER DEFAULT 0 NOT NULL,
    server_id INTEGER DEFAULT 0 NOT NULL,
    connection_id INTEGER DEFAULT 0 NOT NULL,
    keepalive INTEGER DEFAULT 0 NOT NULL,
    partition INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT location_ruid_idx UNIQUE (ruid)`;

export const TABLES: TableDef[] = [
  {
    name: 'version',
    version: 1,
    owner: 'kamailio core',
    ddl: {
      mysql: [`CREATE TABLE \`version\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`table_name\` VARCHAR(32) NOT NULL,
    \`table_version\` INT UNSIGNED DEFAULT 0 NOT NULL,
    CONSTRAINT table_name_idx UNIQUE (\`table_name\`)
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE version (
    id INTEGER PRIMARY KEY NOT NULL,
    table_name VARCHAR(32) NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT version_table_name_idx UNIQUE (table_name)
)`],
    },
  },
  {
    name: 'subscriber',
    version: 7,
    owner: 'auth_db',
    ddl: {
      mysql: [`CREATE TABLE \`subscriber\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`username\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`domain\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`password\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`ha1\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`ha1b\` VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT account_idx UNIQUE (\`username\`, \`domain\`)
)${MYSQL_TAIL}`, 'CREATE INDEX username_idx ON subscriber (`username`)'],
      sqlite: [`CREATE TABLE subscriber (
    id INTEGER PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    password VARCHAR(64) DEFAULT '' NOT NULL,
    ha1 VARCHAR(128) DEFAULT '' NOT NULL,
    ha1b VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT subscriber_account_idx UNIQUE (username, domain)
)`, 'CREATE INDEX subscriber_username_idx ON subscriber (username)'],
    },
  },
  {
    name: 'address',
    version: 6,
    owner: 'permissions',
    ddl: {
      mysql: [`CREATE TABLE \`address\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`grp\` INT(11) UNSIGNED DEFAULT 1 NOT NULL,
    \`ip_addr\` VARCHAR(50) NOT NULL,
    \`mask\` INT DEFAULT 32 NOT NULL,
    \`port\` SMALLINT(5) UNSIGNED DEFAULT 0 NOT NULL,
    \`tag\` VARCHAR(64)
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE address (
    id INTEGER PRIMARY KEY NOT NULL,
    grp INTEGER DEFAULT 1 NOT NULL,
    ip_addr VARCHAR(50) NOT NULL,
    mask INTEGER DEFAULT 32 NOT NULL,
    port SMALLINT DEFAULT 0 NOT NULL,
    tag VARCHAR(64)
)`],
    },
  },
  {
    name: 'trusted',
    version: 6,
    owner: 'permissions',
    ddl: {
      mysql: [`CREATE TABLE \`trusted\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`src_ip\` VARCHAR(50) NOT NULL,
    \`proto\` VARCHAR(4) NOT NULL,
    \`from_pattern\` VARCHAR(64) DEFAULT NULL,
    \`ruri_pattern\` VARCHAR(64) DEFAULT NULL,
    \`tag\` VARCHAR(64),
    \`priority\` INT DEFAULT 0 NOT NULL
)${MYSQL_TAIL}`, 'CREATE INDEX peer_idx ON trusted (`src_ip`)'],
      sqlite: [`CREATE TABLE trusted (
    id INTEGER PRIMARY KEY NOT NULL,
    src_ip VARCHAR(50) NOT NULL,
    proto VARCHAR(4) NOT NULL,
    from_pattern VARCHAR(64) DEFAULT NULL,
    ruri_pattern VARCHAR(64) DEFAULT NULL,
    tag VARCHAR(64),
    priority INTEGER DEFAULT 0 NOT NULL
)`, 'CREATE INDEX trusted_peer_idx ON trusted (src_ip)'],
    },
  },
  {
    name: 'location',
    version: 9,
    owner: 'usrloc',
    ddl: {
      mysql: [`CREATE TABLE \`location\` (${locationColumnsMysql}
)${MYSQL_TAIL}`,
        'CREATE INDEX account_contact_idx ON location (`username`, `domain`, `contact`)',
        'CREATE INDEX expires_idx ON location (`expires`)',
        'CREATE INDEX tcpcon_idx ON location (`connection_id`)',
        'CREATE INDEX connection_idx ON location (`server_id`, `connection_id`)'],
      sqlite: [`CREATE TABLE location (${locationColumnsSqlite}
)`,
        'CREATE INDEX location_account_contact_idx ON location (username, domain, contact)',
        'CREATE INDEX location_expires_idx ON location (expires)',
        'CREATE INDEX location_tcpcon_idx ON location (connection_id)',
        'CREATE INDEX location_connection_idx ON location (server_id, connection_id)'],
    },
  },
  {
    name: 'location_attrs',
    version: 1,
    owner: 'usrloc',
    ddl: {
      mysql: [`CREATE TABLE \`location_attrs\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`ruid\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`username\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`domain\` VARCHAR(64) DEFAULT NULL,
    \`aname\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`atype\` INT(11) DEFAULT 0 NOT NULL,
    \`avalue\` VARCHAR(512) DEFAULT '' NOT NULL,
    \`last_modified\` DATETIME DEFAULT '2000-01-01 00:00:01' NOT NULL
)${MYSQL_TAIL}`,
        'CREATE INDEX account_record_idx ON location_attrs (`username`, `domain`, `ruid`)',
        'CREATE INDEX last_modified_idx ON location_attrs (`last_modified`)'],
      sqlite: [`CREATE TABLE location_attrs (
    id INTEGER PRIMARY KEY NOT NULL,
    ruid VARCHAR(64) DEFAULT '' NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT NULL,
    aname VARCHAR(64) DEFAULT '' NOT NULL,
    atype INTEGER DEFAULT 0 NOT NULL,
    avalue VARCHAR(512) DEFAULT '' NOT NULL,
    last_modified TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:01' NOT NULL
)`,
        'CREATE INDEX location_attrs_account_record_idx ON location_attrs (username, domain, ruid)',
        'CREATE INDEX location_attrs_last_modified_idx ON location_attrs (last_modified)'],
    },
  },
  {
    name: 'htable',
    version: 2,
    owner: 'htable',
    ddl: {
      mysql: [`CREATE TABLE \`htable\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`key_name\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`key_type\` INT DEFAULT 0 NOT NULL,
    \`value_type\` INT DEFAULT 0 NOT NULL,
    \`key_value\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`expires\` INT DEFAULT 0 NOT NULL
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE htable (
    id INTEGER PRIMARY KEY NOT NULL,
    key_name VARCHAR(64) DEFAULT '' NOT NULL,
    key_type INTEGER DEFAULT 0 NOT NULL,
    value_type INTEGER DEFAULT 0 NOT NULL,
    key_value VARCHAR(128) DEFAULT '' NOT NULL,
    expires INTEGER DEFAULT 0 NOT NULL
)`],
    },
  },
  {
    // Kamailio acc v5, with the extra columns of Kamailio's stock config (WITH_ACCDB: caller and
    // callee). sipd's acc module writes one row per INVITE final response and per BYE.
    name: 'acc',
    version: 5,
    owner: 'acc',
    ddl: {
      mysql: [`CREATE TABLE \`acc\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`method\` VARCHAR(16) DEFAULT '' NOT NULL,
    \`from_tag\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`to_tag\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`callid\` VARCHAR(255) DEFAULT '' NOT NULL,
    \`sip_code\` VARCHAR(3) DEFAULT '' NOT NULL,
    \`sip_reason\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`time\` DATETIME NOT NULL,
    \`src_user\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`src_domain\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`src_ip\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`dst_ouser\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`dst_user\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`dst_domain\` VARCHAR(128) DEFAULT '' NOT NULL
)${MYSQL_TAIL}`, 'CREATE INDEX callid_idx ON acc (`callid`)'],
      sqlite: [`CREATE TABLE acc (
    id INTEGER PRIMARY KEY NOT NULL,
    method VARCHAR(16) DEFAULT '' NOT NULL,
    from_tag VARCHAR(128) DEFAULT '' NOT NULL,
    to_tag VARCHAR(128) DEFAULT '' NOT NULL,
    callid VARCHAR(255) DEFAULT '' NOT NULL,
    sip_code VARCHAR(3) DEFAULT '' NOT NULL,
    sip_reason VARCHAR(128) DEFAULT '' NOT NULL,
    time TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    src_user VARCHAR(64) DEFAULT '' NOT NULL,
    src_domain VARCHAR(128) DEFAULT '' NOT NULL,
    src_ip VARCHAR(64) DEFAULT '' NOT NULL,
    dst_ouser VARCHAR(64) DEFAULT '' NOT NULL,
    dst_user VARCHAR(64) DEFAULT '' NOT NULL,
    dst_domain VARCHAR(128) DEFAULT '' NOT NULL
)`, 'CREATE INDEX acc_callid_idx ON acc (callid)'],
    },
  },
  {
    // Kamailio acc_cdrs v2 (start_time = answer, end_time, duration), with cdr_extra columns:
    // the call's parties, when the INVITE arrived, its disposition and why the call ended; and
    // dialog_key (unique; NULL for a call never answered, so Kamailio's acc, which does not write
    // it, is never refused): a CDR sipd writes twice after a node's crash is skipped (acc module).
    // Kamailio's acc checks the version of acc only, not of acc_cdrs; the number stays 2.
    name: 'acc_cdrs',
    version: 2,
    owner: 'acc',
    ddl: {
      mysql: [`CREATE TABLE \`acc_cdrs\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`start_time\` DATETIME DEFAULT '2000-01-01 00:00:00' NOT NULL,
    \`end_time\` DATETIME DEFAULT '2000-01-01 00:00:00' NOT NULL,
    \`duration\` FLOAT(10,3) DEFAULT 0 NOT NULL,
    \`callid\` VARCHAR(255) DEFAULT '' NOT NULL,
    \`from_tag\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`to_tag\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`src_user\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`src_domain\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`src_ip\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`dst_ouser\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`dst_user\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`dst_domain\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`setup_time\` DATETIME DEFAULT '2000-01-01 00:00:00' NOT NULL,
    \`sip_code\` VARCHAR(3) DEFAULT '' NOT NULL,
    \`sip_reason\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`end_reason\` VARCHAR(32) DEFAULT '' NOT NULL,
    \`dialog_key\` CHAR(64) DEFAULT NULL,
    CONSTRAINT cdr_dialog_key_idx UNIQUE (\`dialog_key\`)
)${MYSQL_TAIL}`, 'CREATE INDEX start_time_idx ON acc_cdrs (`start_time`)', 'CREATE INDEX setup_time_idx ON acc_cdrs (`setup_time`)', 'CREATE INDEX cdr_src_user_idx ON acc_cdrs (`src_user`)'],
      sqlite: [`CREATE TABLE acc_cdrs (
    id INTEGER PRIMARY KEY NOT NULL,
    start_time TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:00' NOT NULL,
    end_time TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:00' NOT NULL,
    duration REAL DEFAULT 0 NOT NULL,
    callid VARCHAR(255) DEFAULT '' NOT NULL,
    from_tag VARCHAR(128) DEFAULT '' NOT NULL,
    to_tag VARCHAR(128) DEFAULT '' NOT NULL,
    src_user VARCHAR(64) DEFAULT '' NOT NULL,
    src_domain VARCHAR(128) DEFAULT '' NOT NULL,
    src_ip VARCHAR(64) DEFAULT '' NOT NULL,
    dst_ouser VARCHAR(64) DEFAULT '' NOT NULL,
    dst_user VARCHAR(64) DEFAULT '' NOT NULL,
    dst_domain VARCHAR(128) DEFAULT '' NOT NULL,
    setup_time TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:00' NOT NULL,
    sip_code VARCHAR(3) DEFAULT '' NOT NULL,
    sip_reason VARCHAR(128) DEFAULT '' NOT NULL,
    end_reason VARCHAR(32) DEFAULT '' NOT NULL,
    dialog_key CHAR(64) DEFAULT NULL
)`, 'CREATE INDEX acc_cdrs_start_time_idx ON acc_cdrs (start_time)', 'CREATE INDEX acc_cdrs_setup_time_idx ON acc_cdrs (setup_time)', 'CREATE INDEX acc_cdrs_src_user_idx ON acc_cdrs (src_user)', 'CREATE UNIQUE INDEX acc_cdrs_dialog_key_idx ON acc_cdrs (dialog_key)'],
    },
    additions: [
      {
        // sipctl before issue 14's exactly-once CDRs made acc_cdrs without it: every existing row
        // gets NULL, so no existing row can break the unique index
        column: 'dialog_key',
        requires: 'callid',
        ddl: {
          mysql: ['ALTER TABLE `acc_cdrs` ADD COLUMN `dialog_key` CHAR(64) DEFAULT NULL, ADD CONSTRAINT cdr_dialog_key_idx UNIQUE (`dialog_key`)'],
          sqlite: ['ALTER TABLE acc_cdrs ADD COLUMN dialog_key CHAR(64) DEFAULT NULL', 'CREATE UNIQUE INDEX acc_cdrs_dialog_key_idx ON acc_cdrs (dialog_key)'],
        },
      },
    ],
  },
  {
    // Kamailio mtree v1, exactly: blocked destination prefixes (tprefix → tvalue).
    name: 'mtree',
    version: 1,
    owner: 'mtree',
    ddl: {
      mysql: [`CREATE TABLE \`mtree\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`tprefix\` VARCHAR(32) DEFAULT '' NOT NULL,
    \`tvalue\` VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT tprefix_idx UNIQUE (\`tprefix\`)
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE mtree (
    id INTEGER PRIMARY KEY NOT NULL,
    tprefix VARCHAR(32) DEFAULT '' NOT NULL,
    tvalue VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT mtree_tprefix_idx UNIQUE (tprefix)
)`],
    },
  },
  // Issue 12 (kamctl domain/dispatcher/dialplan/acl/alias_db/speeddial, kamcli uacreg): copied
  // from Kamailio 5.6's mysql/ and db_sqlite/ create scripts (Debian's kamailio package), with
  // the version rows kamdbctl writes.
  {
    name: 'domain',
    version: 2,
    owner: 'domain',
    ddl: {
      mysql: [`CREATE TABLE \`domain\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`domain\` VARCHAR(64) NOT NULL,
    \`did\` VARCHAR(64) DEFAULT NULL,
    \`last_modified\` DATETIME DEFAULT '2000-01-01 00:00:01' NOT NULL,
    CONSTRAINT domain_idx UNIQUE (\`domain\`)
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE domain (
    id INTEGER PRIMARY KEY NOT NULL,
    domain VARCHAR(64) NOT NULL,
    did VARCHAR(64) DEFAULT NULL,
    last_modified TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:01' NOT NULL,
    CONSTRAINT domain_domain_idx UNIQUE (domain)
)`],
    },
  },
  {
    name: 'domain_attrs',
    version: 1,
    owner: 'domain',
    ddl: {
      mysql: [`CREATE TABLE \`domain_attrs\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`did\` VARCHAR(64) NOT NULL,
    \`name\` VARCHAR(32) NOT NULL,
    \`type\` INT UNSIGNED NOT NULL,
    \`value\` VARCHAR(255) NOT NULL,
    \`last_modified\` DATETIME DEFAULT '2000-01-01 00:00:01' NOT NULL
)${MYSQL_TAIL}`, 'CREATE INDEX domain_attrs_idx ON domain_attrs (`did`, `name`)'],
      sqlite: [`CREATE TABLE domain_attrs (
    id INTEGER PRIMARY KEY NOT NULL,
    did VARCHAR(64) NOT NULL,
    name VARCHAR(32) NOT NULL,
    type INTEGER NOT NULL,
    value VARCHAR(255) NOT NULL,
    last_modified TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:01' NOT NULL
)`, 'CREATE INDEX domain_attrs_domain_attrs_idx ON domain_attrs (did, name)'],
    },
  },
  {
    name: 'dispatcher',
    version: 4,
    owner: 'dispatcher',
    ddl: {
      mysql: [`CREATE TABLE \`dispatcher\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`setid\` INT DEFAULT 0 NOT NULL,
    \`destination\` VARCHAR(192) DEFAULT '' NOT NULL,
    \`flags\` INT DEFAULT 0 NOT NULL,
    \`priority\` INT DEFAULT 0 NOT NULL,
    \`attrs\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`description\` VARCHAR(64) DEFAULT '' NOT NULL
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE dispatcher (
    id INTEGER PRIMARY KEY NOT NULL,
    setid INTEGER DEFAULT 0 NOT NULL,
    destination VARCHAR(192) DEFAULT '' NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    priority INTEGER DEFAULT 0 NOT NULL,
    attrs VARCHAR(128) DEFAULT '' NOT NULL,
    description VARCHAR(64) DEFAULT '' NOT NULL
)`],
    },
  },
  {
    name: 'dialplan',
    version: 2,
    owner: 'dialplan',
    ddl: {
      mysql: [`CREATE TABLE \`dialplan\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`dpid\` INT(11) NOT NULL,
    \`pr\` INT(11) NOT NULL,
    \`match_op\` INT(11) NOT NULL,
    \`match_exp\` VARCHAR(64) NOT NULL,
    \`match_len\` INT(11) NOT NULL,
    \`subst_exp\` VARCHAR(64) NOT NULL,
    \`repl_exp\` VARCHAR(256) NOT NULL,
    \`attrs\` VARCHAR(64) NOT NULL
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE dialplan (
    id INTEGER PRIMARY KEY NOT NULL,
    dpid INTEGER NOT NULL,
    pr INTEGER NOT NULL,
    match_op INTEGER NOT NULL,
    match_exp VARCHAR(64) NOT NULL,
    match_len INTEGER NOT NULL,
    subst_exp VARCHAR(64) NOT NULL,
    repl_exp VARCHAR(256) NOT NULL,
    attrs VARCHAR(64) NOT NULL
)`],
    },
  },
  {
    name: 'grp',
    version: 2,
    owner: 'group',
    ddl: {
      mysql: [`CREATE TABLE \`grp\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`username\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`domain\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`grp\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`last_modified\` DATETIME DEFAULT '2000-01-01 00:00:01' NOT NULL,
    CONSTRAINT account_group_idx UNIQUE (\`username\`, \`domain\`, \`grp\`)
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE grp (
    id INTEGER PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    grp VARCHAR(64) DEFAULT '' NOT NULL,
    last_modified TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:01' NOT NULL,
    CONSTRAINT grp_account_group_idx UNIQUE (username, domain, grp)
)`],
    },
  },
  {
    name: 're_grp',
    version: 1,
    owner: 'group',
    ddl: {
      mysql: [`CREATE TABLE \`re_grp\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`reg_exp\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`group_id\` INT(11) DEFAULT 0 NOT NULL
)${MYSQL_TAIL}`, 'CREATE INDEX group_idx ON re_grp (`group_id`)'],
      sqlite: [`CREATE TABLE re_grp (
    id INTEGER PRIMARY KEY NOT NULL,
    reg_exp VARCHAR(128) DEFAULT '' NOT NULL,
    group_id INTEGER DEFAULT 0 NOT NULL
)`, 'CREATE INDEX re_grp_group_idx ON re_grp (group_id)'],
    },
  },
  {
    name: 'dbaliases',
    version: 1,
    owner: 'alias_db',
    ddl: {
      mysql: [`CREATE TABLE \`dbaliases\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`alias_username\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`alias_domain\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`username\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`domain\` VARCHAR(64) DEFAULT '' NOT NULL
)${MYSQL_TAIL}`, 'CREATE INDEX alias_user_idx ON dbaliases (`alias_username`)', 'CREATE INDEX alias_idx ON dbaliases (`alias_username`, `alias_domain`)', 'CREATE INDEX target_idx ON dbaliases (`username`, `domain`)'],
      sqlite: [`CREATE TABLE dbaliases (
    id INTEGER PRIMARY KEY NOT NULL,
    alias_username VARCHAR(64) DEFAULT '' NOT NULL,
    alias_domain VARCHAR(64) DEFAULT '' NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL
)`, 'CREATE INDEX dbaliases_alias_user_idx ON dbaliases (alias_username)', 'CREATE INDEX dbaliases_alias_idx ON dbaliases (alias_username, alias_domain)', 'CREATE INDEX dbaliases_target_idx ON dbaliases (username, domain)'],
    },
  },
  {
    name: 'speed_dial',
    version: 2,
    owner: 'speeddial',
    ddl: {
      mysql: [`CREATE TABLE \`speed_dial\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`username\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`domain\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`sd_username\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`sd_domain\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`new_uri\` VARCHAR(255) DEFAULT '' NOT NULL,
    \`fname\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`lname\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`description\` VARCHAR(64) DEFAULT '' NOT NULL,
    CONSTRAINT speed_dial_idx UNIQUE (\`username\`, \`domain\`, \`sd_domain\`, \`sd_username\`)
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE speed_dial (
    id INTEGER PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    sd_username VARCHAR(64) DEFAULT '' NOT NULL,
    sd_domain VARCHAR(64) DEFAULT '' NOT NULL,
    new_uri VARCHAR(255) DEFAULT '' NOT NULL,
    fname VARCHAR(64) DEFAULT '' NOT NULL,
    lname VARCHAR(64) DEFAULT '' NOT NULL,
    description VARCHAR(64) DEFAULT '' NOT NULL,
    CONSTRAINT speed_dial_speed_dial_idx UNIQUE (username, domain, sd_domain, sd_username)
)`],
    },
  },
  {
    name: 'uacreg',
    version: 5,
    owner: 'uac',
    ddl: {
      mysql: [`CREATE TABLE \`uacreg\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`l_uuid\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`l_username\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`l_domain\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`r_username\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`r_domain\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`realm\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`auth_username\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`auth_password\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`auth_ha1\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`auth_proxy\` VARCHAR(255) DEFAULT '' NOT NULL,
    \`expires\` INT DEFAULT 0 NOT NULL,
    \`flags\` INT DEFAULT 0 NOT NULL,
    \`reg_delay\` INT DEFAULT 0 NOT NULL,
    \`contact_addr\` VARCHAR(255) DEFAULT '' NOT NULL,
    \`socket\` VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT l_uuid_idx UNIQUE (\`l_uuid\`)
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE uacreg (
    id INTEGER PRIMARY KEY NOT NULL,
    l_uuid VARCHAR(64) DEFAULT '' NOT NULL,
    l_username VARCHAR(64) DEFAULT '' NOT NULL,
    l_domain VARCHAR(64) DEFAULT '' NOT NULL,
    r_username VARCHAR(64) DEFAULT '' NOT NULL,
    r_domain VARCHAR(64) DEFAULT '' NOT NULL,
    realm VARCHAR(64) DEFAULT '' NOT NULL,
    auth_username VARCHAR(64) DEFAULT '' NOT NULL,
    auth_password VARCHAR(64) DEFAULT '' NOT NULL,
    auth_ha1 VARCHAR(128) DEFAULT '' NOT NULL,
    auth_proxy VARCHAR(255) DEFAULT '' NOT NULL,
    expires INTEGER DEFAULT 0 NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    reg_delay INTEGER DEFAULT 0 NOT NULL,
    contact_addr VARCHAR(255) DEFAULT '' NOT NULL,
    socket VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT uacreg_l_uuid_idx UNIQUE (l_uuid)
)`],
    },
  },
  // Issue 13: sipd's rule tables (no Kamailio table fits: secfilter holds only action/type/data,
  // with no reason, expiry, scope or time zone). Read by sipd's blocklist, country and timerule
  // modules; written by `sipctl blocklist`, `sipctl country`, `sipctl timerule`.
  {
    // the operator's IP/CIDR blocklist: expires in seconds since the epoch, 0 = never
    name: 'sipd_blocklist',
    version: 1,
    owner: 'sipd blocklist',
    ddl: {
      mysql: [`CREATE TABLE \`sipd_blocklist\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`network\` VARCHAR(64) NOT NULL,
    \`reason\` VARCHAR(255) DEFAULT '' NOT NULL,
    \`expires\` BIGINT DEFAULT 0 NOT NULL,
    \`created\` BIGINT DEFAULT 0 NOT NULL,
    CONSTRAINT sipd_blocklist_network_idx UNIQUE (\`network\`)
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE sipd_blocklist (
    id INTEGER PRIMARY KEY NOT NULL,
    network VARCHAR(64) NOT NULL,
    reason VARCHAR(255) DEFAULT '' NOT NULL,
    expires INTEGER DEFAULT 0 NOT NULL,
    created INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT sipd_blocklist_network_idx UNIQUE (network)
)`],
    },
  },
  {
    // country rules: scope register|subscriber|carrier (username '') or home (per subscriber)
    name: 'sipd_country',
    version: 1,
    owner: 'sipd country',
    ddl: {
      mysql: [`CREATE TABLE \`sipd_country\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`scope\` VARCHAR(16) NOT NULL,
    \`username\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`action\` VARCHAR(8) NOT NULL,
    \`country\` CHAR(2) NOT NULL,
    CONSTRAINT sipd_country_idx UNIQUE (\`scope\`, \`username\`, \`country\`)
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE sipd_country (
    id INTEGER PRIMARY KEY NOT NULL,
    scope VARCHAR(16) NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    action VARCHAR(8) NOT NULL,
    country CHAR(2) NOT NULL,
    CONSTRAINT sipd_country_idx UNIQUE (scope, username, country)
)`],
    },
  },
  {
    // the operator's corrections to the country data: network (CIDR) → country
    name: 'sipd_country_override',
    version: 1,
    owner: 'sipd country',
    ddl: {
      mysql: [`CREATE TABLE \`sipd_country_override\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`network\` VARCHAR(64) NOT NULL,
    \`country\` CHAR(2) NOT NULL,
    \`note\` VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT sipd_country_override_idx UNIQUE (\`network\`)
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE sipd_country_override (
    id INTEGER PRIMARY KEY NOT NULL,
    network VARCHAR(64) NOT NULL,
    country CHAR(2) NOT NULL,
    note VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT sipd_country_override_idx UNIQUE (network)
)`],
    },
  },
  {
    // time rules: a destination class allowed only within a tmrec window, optionally per group
    name: 'sipd_timerule',
    version: 1,
    owner: 'sipd timerule',
    ddl: {
      mysql: [`CREATE TABLE \`sipd_timerule\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`class\` VARCHAR(32) NOT NULL,
    \`grp\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`timerec\` VARCHAR(255) NOT NULL,
    \`tz\` VARCHAR(64) DEFAULT 'UTC' NOT NULL,
    \`description\` VARCHAR(128) DEFAULT '' NOT NULL
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE sipd_timerule (
    id INTEGER PRIMARY KEY NOT NULL,
    class VARCHAR(32) NOT NULL,
    grp VARCHAR(64) DEFAULT '' NOT NULL,
    timerec VARCHAR(255) NOT NULL,
    tz VARCHAR(64) DEFAULT 'UTC' NOT NULL,
    description VARCHAR(128) DEFAULT '' NOT NULL
)`],
    },
  },
  {
    // issue 13 rule 4: the rate table, dialled-number prefix (digits) → price per minute,
    // currency, billing increment in seconds; the longest prefix wins (src/core/rate/rates.ts)
    name: 'sipd_rate',
    version: 1,
    owner: 'sipd limits',
    ddl: {
      mysql: [`CREATE TABLE \`sipd_rate\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`prefix\` VARCHAR(32) NOT NULL,
    \`price\` DECIMAL(14,6) DEFAULT 0 NOT NULL,
    \`currency\` CHAR(3) DEFAULT 'EUR' NOT NULL,
    \`billing_increment\` INT DEFAULT 60 NOT NULL,
    \`description\` VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT sipd_rate_prefix_idx UNIQUE (\`prefix\`)
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE sipd_rate (
    id INTEGER PRIMARY KEY NOT NULL,
    prefix VARCHAR(32) NOT NULL,
    price DECIMAL(14,6) DEFAULT 0 NOT NULL,
    currency CHAR(3) DEFAULT 'EUR' NOT NULL,
    billing_increment INTEGER DEFAULT 60 NOT NULL,
    description VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT sipd_rate_prefix_idx UNIQUE (prefix)
)`],
    },
  },
  {
    // issue 13 rule 4: spending and daily limits per subscriber ('*' = the default for everyone);
    // NULL = not set here (the default row applies), -1 = no limit (src/core/limits/limits.ts)
    name: 'sipd_limits',
    version: 1,
    owner: 'sipd limits',
    ddl: {
      mysql: [`CREATE TABLE \`sipd_limits\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`username\` VARCHAR(64) NOT NULL,
    \`calls_per_day\` INT DEFAULT NULL,
    \`minutes_per_day\` INT DEFAULT NULL,
    \`cost_per_day\` DECIMAL(14,6) DEFAULT NULL,
    \`cost_per_month\` DECIMAL(14,6) DEFAULT NULL,
    CONSTRAINT sipd_limits_username_idx UNIQUE (\`username\`)
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE sipd_limits (
    id INTEGER PRIMARY KEY NOT NULL,
    username VARCHAR(64) NOT NULL,
    calls_per_day INTEGER DEFAULT NULL,
    minutes_per_day INTEGER DEFAULT NULL,
    cost_per_day DECIMAL(14,6) DEFAULT NULL,
    cost_per_month DECIMAL(14,6) DEFAULT NULL,
    CONSTRAINT sipd_limits_username_idx UNIQUE (username)
)`],
    },
  },
  {
    // issue 13 rule 2: User-Agent allow-list per subscriber group ('' = every subscriber); JS
    // regular expressions, read by sipd's uafilter module, written by `sipctl uafilter`
    name: 'sipd_ua_allow',
    version: 1,
    owner: 'sipd uafilter',
    ddl: {
      mysql: [`CREATE TABLE \`sipd_ua_allow\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`grp\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`pattern\` VARCHAR(255) NOT NULL,
    \`description\` VARCHAR(128) DEFAULT '' NOT NULL
)${MYSQL_TAIL}`],
      sqlite: [`CREATE TABLE sipd_ua_allow (
    id INTEGER PRIMARY KEY NOT NULL,
    grp VARCHAR(64) DEFAULT '' NOT NULL,
    pattern VARCHAR(255) NOT NULL,
    description VARCHAR(128) DEFAULT '' NOT NULL
)`],
    },
  },
  {
    // sipctl's own: SIM key material. OP is never stored, only the per-card OPc.
    // Version 2 (issue 16) adds key_id and keys_enc for encryption at rest (src/core/sim/kek.ts):
    // on an encrypted row ki/opc hold "enc:" fingerprints and keys_enc the AES-GCM sealed keys.
    name: 'sim',
    version: 2,
    owner: 'sipctl',
    ddl: {
      mysql: [`CREATE TABLE \`sim\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`imsi\` VARCHAR(15) NOT NULL,
    \`iccid\` VARCHAR(20) DEFAULT NULL,
    \`msisdn\` VARCHAR(16) DEFAULT NULL,
    \`ki\` CHAR(32) NOT NULL,
    \`opc\` CHAR(32) NOT NULL,
    \`amf\` CHAR(4) DEFAULT '8000' NOT NULL,
    \`sqn\` CHAR(12) DEFAULT '000000000000' NOT NULL,
    \`batch\` VARCHAR(64) DEFAULT NULL,
    \`vendor\` VARCHAR(64) DEFAULT NULL,
    \`created_at\` DATETIME NOT NULL,
    \`updated_at\` DATETIME NOT NULL,
    \`key_id\` VARCHAR(16) DEFAULT NULL,
    \`keys_enc\` VARCHAR(128) DEFAULT NULL,
    CONSTRAINT sim_imsi_idx UNIQUE (\`imsi\`),
    CONSTRAINT sim_iccid_idx UNIQUE (\`iccid\`),
    CONSTRAINT sim_ki_idx UNIQUE (\`ki\`)
)${MYSQL_TAIL}`, 'CREATE INDEX sim_batch_idx ON sim (`batch`)'],
      sqlite: [`CREATE TABLE sim (
    id INTEGER PRIMARY KEY NOT NULL,
    imsi VARCHAR(15) NOT NULL,
    iccid VARCHAR(20) DEFAULT NULL,
    msisdn VARCHAR(16) DEFAULT NULL,
    ki CHAR(32) NOT NULL,
    opc CHAR(32) NOT NULL,
    amf CHAR(4) DEFAULT '8000' NOT NULL,
    sqn CHAR(12) DEFAULT '000000000000' NOT NULL,
    batch VARCHAR(64) DEFAULT NULL,
    vendor VARCHAR(64) DEFAULT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    key_id VARCHAR(16) DEFAULT NULL,
    keys_enc VARCHAR(128) DEFAULT NULL,
    CONSTRAINT sim_imsi_idx UNIQUE (imsi),
    CONSTRAINT sim_iccid_idx UNIQUE (iccid),
    CONSTRAINT sim_ki_idx UNIQUE (ki)
)`, 'CREATE INDEX sim_batch_idx ON sim (batch)'],
    },
    migrations: {
      1: {
        adds: ['key_id', 'keys_enc'],
        ddl: {
          mysql: ['ALTER TABLE `sim` ADD COLUMN `key_id` VARCHAR(16) DEFAULT NULL, ADD COLUMN `keys_enc` VARCHAR(128) DEFAULT NULL'],
          sqlite: ['ALTER TABLE sim ADD COLUMN key_id VARCHAR(16) DEFAULT NULL', 'ALTER TABLE sim ADD COLUMN keys_enc VARCHAR(128) DEFAULT NULL'],
        },
      },
    },
  },
];

export function tableDef(name: string): TableDef {
  const t = TABLES.find((x) => x.name === name);
  if (!t) throw new Error(`no table definition for ${name}`);
  return t;
}
