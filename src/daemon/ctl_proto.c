/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl_proto.c - the control protocol: a JSON request line dispatched by
 * "noun verb" to the command tables, a JSON response line back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "mod/prov.h"

int cf_ctl_sock_path(const struct cf_app_conf *conf, char *buf, size_t size)
{
	const char *sock = cf_app_conf_str(conf, "control", "socket");
	int n;

	if (sock)
		n = snprintf(buf, size, "%s", sock);
	else
		n = snprintf(buf, size, "%s/confabd.sock",
		             cf_app_conf_str(conf, "general", "data_dir"));
	if (n < 0 || (size_t)n >= size)
		return ENOMEM;
	return 0;
}

int cf_ctl_store_uri(const struct cf_app_conf *conf, char *buf, size_t size)
{
	return cf_prov_store_uri(conf, buf, size);
}

static json_t *fail(json_t *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static json_t *fail(json_t *resp, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_set_new(resp, "ok", json_false());
	json_object_set_new(resp, "error", json_string(buf));
	return resp;
}

static bool strings_only(json_t *v, bool object)
{
	const char *key;
	json_t *item;
	size_t i;

	if (object) {
		json_object_foreach(v, key, item)
		{
			if (!json_is_string(item))
				return false;
		}
	} else {
		json_array_foreach(v, i, item)
		{
			if (!json_is_string(item))
				return false;
		}
	}
	return true;
}

static json_t *dispatch(struct cf_app *app, json_t *req, json_t *resp)
{
	const struct cf_mod_cmd *cmd;
	struct cf_mod_ctl_req r;
	char noun[64], verb[64];
	const char *s, *sp;
	json_t *args, *opts;
	size_t nargs;
	int err;

	if (!json_is_object(req))
		return fail(resp, "request is not a JSON object");
	s = json_string_value(json_object_get(req, "cmd"));
	if (!s)
		return fail(resp, "no \"cmd\" string");
	sp = strchr(s, ' ');
	if (!sp)
		sp = s + strlen(s);
	if ((size_t)(sp - s) >= sizeof(noun) || strlen(sp) >= sizeof(verb) ||
	    sp == s)
		return fail(resp, "bad command '%.64s'", s);
	memcpy(noun, s, sp - s);
	noun[sp - s] = '\0';
	snprintf(verb, sizeof(verb), "%s", *sp ? sp + 1 : "");

	err = cf_mod_cmd_find(&cmd, noun, verb);
	if (err == EPROTO)
		return fail(resp, "unknown verb '%s' for '%s'", verb, noun);
	if (err)
		return fail(resp, "unknown command '%s'", noun);
	if (!cmd->h)
		return fail(resp, "'%s%s%s' runs in confabctl, not the daemon",
		            noun, *verb ? " " : "", verb);

	args = json_object_get(req, "args");
	opts = json_object_get(req, "opts");
	if ((args && !json_is_array(args)) ||
	    (args && !strings_only(args, false)))
		return fail(resp, "\"args\" must be an array of strings");
	if ((opts && !json_is_object(opts)) ||
	    (opts && !strings_only(opts, true)))
		return fail(resp, "\"opts\" must be an object of strings");
	nargs = args ? json_array_size(args) : 0;
	if (nargs < cmd->min_args || nargs > cmd->max_args)
		return fail(resp, "usage: %s%s%s %s", noun, *verb ? " " : "",
		            verb, cmd->usage);

	r.noun = noun;
	r.verb = verb;
	r.args = args ? json_incref(args) : json_array();
	r.opts = opts ? json_incref(opts) : json_object();
	if (!r.args || !r.opts) {
		json_decref(r.args);
		json_decref(r.opts);
		return NULL;
	}
	err = cmd->h(app, &r, resp);
	json_decref(r.args);
	json_decref(r.opts);
	if (err == ENOMEM)
		return NULL;
	if (err) {
		if (!json_is_string(json_object_get(resp, "error")))
			return fail(resp, "%s failed: %s", noun, strerror(err));
		json_object_set_new(resp, "ok", json_false());
		return resp;
	}
	json_object_set_new(resp, "ok", json_true());
	return resp;
}

int cf_ctl_request(struct cf_app *app, const char *line, size_t len,
                   char **outp)
{
	json_t *req, *resp = json_object();
	json_error_t jerr;
	char *out = NULL;
	int err = 0;

	if (!outp)
		return EINVAL;
	if (!resp)
		return ENOMEM;
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req)
		fail(resp, "bad JSON: %s", jerr.text);
	else if (!dispatch(app, req, resp))
		err = ENOMEM;
	if (!err) {
		out = json_dumps(resp, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (!out)
			err = ENOMEM;
	}
	json_decref(req);
	json_decref(resp);
	if (!err)
		*outp = out;
	return err;
}
