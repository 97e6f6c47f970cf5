/**
 * The Kamailio modules of issue 12's database commands, as extra config lines for
 * startKamailio({ extraModules }): each reads its table from the lab's DBURL, which in the
 * interop tests is a database made only by `sipctl db init`. Parameter names as in the
 * Kamailio 5.6 module READMEs (domain, permissions, dispatcher, dialplan, group, alias_db,
 * speeddial, uac).
 */
export const ISSUE12_MODULES: string[] = [
  'loadmodule "domain.so"',
  'modparam("domain", "db_url", DBURL)',
  'modparam("domain", "register_myself", 0)',
  // the lab loads permissions for `address` only (load_backends 1); 3 = address + trusted,
  // db_mode 1 = the trusted table is cached, so permissions.trustedDump shows what was loaded
  'modparam("permissions", "load_backends", 3)',
  'modparam("permissions", "db_mode", 1)',
  'loadmodule "dispatcher.so"',
  'modparam("dispatcher", "db_url", DBURL)',
  'loadmodule "dialplan.so"',
  'modparam("dialplan", "db_url", DBURL)',
  'loadmodule "group.so"',
  'modparam("group", "db_url", DBURL)',
  'loadmodule "alias_db.so"',
  'modparam("alias_db", "db_url", DBURL)',
  'loadmodule "speeddial.so"',
  'modparam("speeddial", "db_url", DBURL)',
  'loadmodule "uac.so"',
  // uac.restore_mode defaults to auto, which needs rr append_fromtag; no From rewriting here
  'modparam("uac", "restore_mode", "none")',
  'modparam("uac", "reg_db_url", DBURL)',
  'modparam("uac", "reg_contact_addr", "127.0.0.1:5060")',
];
