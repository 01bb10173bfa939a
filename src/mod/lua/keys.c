/* SPDX-License-Identifier: BSD-3-Clause */
/* keys.c - the [lua] configuration keys; docs/configuration.md documents
 * the same. Compiled with or without Lua. */
#include "mod/lua/lua.h"

const struct cf_mod_key cf_lua_keys[] = {
    {"lua", "script", CF_MOD_KEY_STR, NULL,
     "routing script with on_request, on_reply and on_failure functions "
     "(a relative path is under [general] data_dir); none by default",
     0, 0, CF_MOD_KEY_LIVE},
    {"lua", "max_instructions", CF_MOD_KEY_UINT, "1000000",
     "Lua VM instructions one hook call may run before it is stopped "
     "(answered 500)",
     1000, 1000000000, CF_MOD_KEY_LIVE},
    {"lua", "max_memory", CF_MOD_KEY_UINT, "8192",
     "kilobytes of memory the script's state may use on each worker", 256,
     1048576, CF_MOD_KEY_LIVE},
    {NULL},
};
