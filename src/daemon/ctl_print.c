/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl_print.c - confabctl's human output of a command's JSON answer
 * (--json prints the answer itself). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_print.h"

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static json_int_t num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void print_status(json_t *r)
{
	json_t *ls = json_object_get(r, "listeners");
	json_t *cs = json_object_get(r, "counters");
	json_int_t up = num(r, "uptime");
	const char *key;
	json_t *v;
	size_t i;

	printf("confabd %s, pid %lld, up %lldd %02lld:%02lld:%02lld, %lld "
	       "workers, domain %s\n",
	       str(r, "version"), num(r, "pid"), up / 86400, up / 3600 % 24,
	       up / 60 % 60, up % 60, num(r, "workers"), str(r, "domain"));
	printf("listening on:");
	json_array_foreach(ls, i, v)
	{
		printf("%s %s", i ? "," : "", json_string_value(v));
	}
	printf("\ncounters:\n");
	json_object_foreach(cs, key, v)
	{
		printf("  %-26s %lld\n", key, json_integer_value(v));
	}
	cs = json_object_get(r, "registrar");
	if (cs)
		printf("registrar:\n");
	json_object_foreach(cs, key, v)
	{
		printf("  %-26s %lld\n", key, json_integer_value(v));
	}
	cs = json_object_get(r, "proxy");
	if (cs)
		printf("proxy:\n");
	json_object_foreach(cs, key, v)
	{
		printf("  %-26s %lld\n", key, json_integer_value(v));
	}
}

static void print_generic(json_t *r)
{
	const char *key;
	json_t *v;

	json_object_foreach(r, key, v)
	{
		if (!strcmp(key, "ok"))
			continue;
		if (json_is_string(v)) {
			printf("%s: %s\n", key, json_string_value(v));
		} else {
			char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

			printf("%s: %s\n", key, s ? s : "?");
			free(s);
		}
	}
}

static void print_domains(json_t *r)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(r, "domains"), i, v)
	{
		const char *algs = str(v, "digest_algs");

		printf("%-30s realm %s, digest %s%s\n", str(v, "name"),
		       str(v, "realm"), *algs ? algs : "default",
		       json_is_true(json_object_get(v, "config"))
		           ? " (configuration)"
		           : "");
	}
}

static void print_users(json_t *r)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(r, "users"), i, v)
	{
		puts(json_string_value(v));
	}
}

static void print_binding(json_t *b, bool aor)
{
	json_t *q = json_object_get(b, "q");

	printf("  %s%s<%s> expires in %llds", aor ? str(b, "aor") : "",
	       aor ? " " : "", str(b, "contact"), (long long)num(b, "expires"));
	if (json_is_number(q))
		printf(", q=%.3g", json_number_value(q));
	else if (json_is_string(q))
		printf(", q=%s", json_string_value(q));
	if (*str(b, "received"))
		printf(", from %s", str(b, "received"));
	if (*str(b, "instance"))
		printf(", instance %s reg-id %lld", str(b, "instance"),
		       (long long)num(b, "reg_id"));
	if (*str(b, "path"))
		printf(", path %s", str(b, "path"));
	if (*str(b, "user_agent"))
		printf(", \"%s\"", str(b, "user_agent"));
	putchar('\n');
}

static void when(json_int_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) ||
	    !strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, size, "%lld", (long long)t);
}

static void print_user(json_t *r)
{
	json_t *binds = json_object_get(r, "bindings"), *v;
	char created[64], updated[64];
	size_t i;

	when(num(r, "created"), created, sizeof(created));
	when(num(r, "updated"), updated, sizeof(updated));
	printf("%s\n  realm %s; HA1 for", str(r, "aor"), str(r, "realm"));
	json_array_foreach(json_object_get(r, "algorithms"), i, v)
	{
		printf("%s %s", i ? "," : "", json_string_value(v));
	}
	printf("\n  added %s; password changed %s\n", created, updated);
	printf("bindings: %zu%s\n", json_array_size(binds),
	       strcmp(str(r, "bindings_from"), "store")
	           ? ""
	           : " (from the store: confabd is not running)");
	json_array_foreach(binds, i, v)
	{
		print_binding(v, false);
	}
}

static void print_location(json_t *r)
{
	json_t *binds = json_object_get(r, "bindings"), *v;
	size_t i;

	printf("bindings: %zu\n", json_array_size(binds));
	json_array_foreach(binds, i, v)
	{
		print_binding(v, true);
	}
}

void cf_ctl_print(const char *noun, const char *verb, json_t *resp)
{
	if (!strcmp(noun, "status"))
		print_status(resp);
	else if (json_is_string(json_object_get(resp, "message")))
		puts(str(resp, "message"));
	else if (!strcmp(noun, "domain") && !strcmp(verb, "list"))
		print_domains(resp);
	else if (!strcmp(noun, "user") && !strcmp(verb, "list"))
		print_users(resp);
	else if (!strcmp(noun, "user") && !strcmp(verb, "show"))
		print_user(resp);
	else if (!strcmp(noun, "location") && !strcmp(verb, "show") &&
	         json_is_array(json_object_get(resp, "bindings")))
		print_location(resp);
	else
		print_generic(resp);
}
