/* SPDX-License-Identifier: BSD-3-Clause */
/* prov.h - provisioning over the store: the `domain`, `user` and `store`
 * control commands (listed in cmds.c), AOR parsing and the CSV import that
 * confabctl runs itself. */
#ifndef CF_MOD_PROV_H
#define CF_MOD_PROV_H

#include <stdio.h>

#include "mod/mod.h"
#include "store/store.h"

/*
 * Split an address of record, "user@domain" or "sip:user@domain", into
 * user (store.h's user-part characters, 1..CF_STORE_USER_MAX bytes) and
 * domain (a host name: letters, digits, '-' and '.', lower-cased). user
 * and domain are at least CF_STORE_USER_MAX + 1 and CF_STORE_DOMAIN_MAX + 1
 * bytes. Returns 0 or EINVAL. Any thread.
 */
int cf_prov_aor_parse(const char *s, char *user, char *domain);

/* Is s a host name we accept as a domain (letters, digits, '-', '.';
 * 1..CF_STORE_DOMAIN_MAX bytes)? */
bool cf_prov_domain_ok(const char *s);

/* The store's URI of a configuration: [store] uri, or
 * sqlite:DATA_DIR/confab.db with DATA_DIR made absolute (relative to the
 * working directory) so that confabctl can open what confabd opened.
 * ENOMEM when it does not fit. */
int cf_prov_store_uri(const struct cf_app_conf *conf, char *buf, size_t size);

/*
 * `user import FILE.csv`: read one `aor,password` per line from f (blank
 * lines and lines starting with '#' skipped, a first line `aor,password`
 * taken as a header, CR before LF ignored; the password is everything after
 * the first comma, taken as is) and add every subscriber in ONE
 * transaction (cf_store_subscriber_import): all or nothing. name is the
 * file's name for messages. On success *count is the number of users
 * added. On failure nothing is added and `why` gets one line naming the
 * file and line of the bad row ("users.csv:12: unknown domain 'x'").
 * Returns 0, EINVAL (malformed row, empty password), ENOENT (unknown
 * domain), EALREADY (existing user, or twice in the file), EIO (read
 * error), ETIMEDOUT (the store stayed locked), ENOMEM. Blocking: confabctl.
 */
int cf_prov_import(struct cf_store *st, FILE *f, const char *name,
                   size_t *count, char *why, size_t whysize);

/* The current bindings of aor ("sip:user@domain") as a JSON array of
 * objects (contact, expires = seconds left, q, received, path, instance,
 * reg_id, user_agent, call_id, cseq): from the registrar's memory when it
 * runs, else from the store's location table (expired rows left out).
 * 0, EINVAL (no store), ENOMEM or a store error. Main thread. */
int cf_prov_bindings(struct cf_app *app, const char *aor, json_t **arrp);

/* Control handlers (cmds.c's table). Online (cf_app_online) they refresh
 * the auth module's cache after a change; offline they touch only the
 * store. All need cf_app_store(app): EINVAL "no store" otherwise. */
cf_mod_ctl_h cf_prov_domain_add_h;
cf_mod_ctl_h cf_prov_domain_list_h;
cf_mod_ctl_h cf_prov_domain_set_h;
cf_mod_ctl_h cf_prov_domain_remove_h;
cf_mod_ctl_h cf_prov_user_add_h;
cf_mod_ctl_h cf_prov_user_passwd_h;
cf_mod_ctl_h cf_prov_user_remove_h;
cf_mod_ctl_h cf_prov_user_list_h;
cf_mod_ctl_h cf_prov_user_show_h;
cf_mod_ctl_h cf_prov_user_reload_h;
cf_mod_ctl_h cf_prov_user_forward_h;
cf_mod_ctl_h cf_prov_store_show_h;
/* `location show [AOR]` from the store's location table: what confabctl
 * runs when the daemon is stopped (the registrar's own command answers
 * from its memory when it runs). */
cf_mod_ctl_h cf_prov_location_show_h;

#endif
