/* SPDX-License-Identifier: BSD-3-Clause */
/* lua_off.c - the Lua module when confab is built without Lua
 * (-Dlua=disabled): the [lua] keys exist, and a configured script stops
 * the start with a clear line instead of being ignored. */
#include <errno.h>

#include "mod/lua/lua.h"

void cf_lua_stats(struct cf_lua_stats *st)
{
	if (st)
		*st = (struct cf_lua_stats){0};
}

void cf_lua_thread_close(void)
{
}

static int lua_init(struct cf_app *app)
{
	const char *s = cf_app_conf_str(cf_app_conf(app), "lua", "script");

	if (s && *s) {
		cf_log(CF_LOG_ERR, NULL,
		       "lua: [lua] script is set but confab "
		       "was built without Lua (-Dlua=disabled)");
		return ENOTSUP;
	}
	return 0;
}

const struct cf_mod cf_mod_lua = {
    .name = "lua",
    .doc = "Lua 5.4 routing hooks (not built in)",
    .keys = cf_lua_keys,
    .init = lua_init,
};
