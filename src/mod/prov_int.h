/* SPDX-License-Identifier: BSD-3-Clause */
/* prov_int.h - what prov.c, prov_domain.c and prov_user.c share: request
 * access, one-line errors, the checks every command makes, and the cache
 * refresh through the auth module's API. Main thread (control commands). */
#ifndef CF_MOD_PROV_INT_H
#define CF_MOD_PROV_INT_H

#include "prov.h"

struct cf_auth_api;

/* Set resp's "error" to one line; returns err. */
int prov_say(json_t *resp, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Set resp's "message": the line confabctl prints on success. */
void prov_message(json_t *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Argument i / option name as a string, or NULL. */
const char *prov_arg(const struct cf_mod_ctl_req *req, size_t i);
const char *prov_opt(const struct cf_mod_ctl_req *req, const char *name);
/* EINVAL "unknown option --x" unless every option is one of allowed
 * (NULL-terminated). */
int prov_opts_check(const struct cf_mod_ctl_req *req, json_t *resp,
                    const char *const *allowed);
/* The app's store, or EINVAL "no store". */
int prov_store_get(struct cf_app *app, json_t *resp, struct cf_store **stp);
/* An unexpected store error as one line (ENOMEM passed through). */
int prov_store_fail(json_t *resp, int err, const char *what);
/* The auth module's API when online (cf_app_online), else NULL. */
const struct cf_auth_api *prov_auth_api(struct cf_app *app);
/* Refresh the auth cache after a change (no-op offline). */
void prov_user_changed(struct cf_app *app, const char *user,
                       const char *domain);
void prov_domain_changed(struct cf_app *app, const char *domain);
void prov_lower(char *s);
/* Argument 0 as an AOR, or EINVAL "malformed AOR ...". */
int prov_aor_get(const struct cf_mod_ctl_req *req, json_t *resp, char *user,
                 char *domain);
/* 0, or ENOENT "unknown domain ..." (or the store's error). */
int prov_domain_known(struct cf_store *st, json_t *resp, const char *domain);
/* --password: EINVAL when missing, empty or too long. */
int prov_password_get(const struct cf_mod_ctl_req *req, json_t *resp,
                      const char **pwp);

/* A domain's realm and algorithms, copied out of a store handler. */
struct prov_dom {
	char realm[CF_STORE_REALM_MAX + 1];
	char algs[CF_STORE_ALGS_MAX + 1];
};
/* cf_store_domain_h filling a struct prov_dom. */
bool prov_dom_copy_h(const struct cf_store_domain *d, void *arg);
/* cf_store_subscriber_h counting into a size_t. */
bool prov_count_h(const struct cf_store_subscriber *s, void *arg);

#endif
