/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl_store.c - opening the store of a configuration, as confabd does at
 * start and confabctl does when the daemon is stopped. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "mod/prov.h"

/* Every domain of [general] domain must be in the store: subscribers are
 * added to a domain row (realm = the name). */
static bool domain_ensure(const char *value, void *arg)
{
	struct cf_store *st = arg;
	char name[CF_STORE_DOMAIN_MAX + 1];
	struct cf_store_domain dom = {.name = name};
	int err;

	/* stored in lower case, as confabctl domain add does */
	snprintf(name, sizeof(name), "%s", value);
	for (char *p = name; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	}
	err = cf_store_domain_get(st, name, NULL, NULL);

	if (err == ENOENT) {
		err = cf_store_domain_add(st, &dom);
		if (!err)
			cf_log(CF_LOG_NOTICE, NULL,
			       "store: domain %s added (from [general] "
			       "domain)",
			       name);
	}
	if (err && err != EALREADY)
		cf_log(CF_LOG_WARN, NULL, "store: domain %s: %s", name,
		       strerror(err));
	return false;
}

int cf_ctl_store_open(const struct cf_app_conf *conf, struct cf_store **stp,
                      char *uri, size_t urisize)
{
	const char *dir = cf_app_conf_str(conf, "general", "data_dir");
	struct cf_store_cfg cfg = {0};
	struct stat sb;
	int err;

	if (!conf || !stp || !uri || !urisize)
		return EINVAL;
	err = cf_ctl_store_uri(conf, uri, urisize);
	if (err)
		return err;
	/* the default store lives in the data directory: make it */
	if (!cf_app_conf_isset(conf, "store", "uri") && dir &&
	    mkdir(dir, 0700) && errno != EEXIST)
		return errno;
	if (!cf_app_conf_isset(conf, "store", "uri") && dir &&
	    (stat(dir, &sb) || !S_ISDIR(sb.st_mode)))
		return ENOTDIR;
	cfg.sync_full = cf_app_conf_bool(conf, "store", "sync_full");
	err = cf_store_open(stp, uri, &cfg);
	if (err)
		return err;
	cf_app_conf_apply(conf, "general", "domain", domain_ensure, *stp);
	return 0;
}
