/* SPDX-License-Identifier: BSD-3-Clause */
/* confabctl.c - the CLI: `confabctl [--config FILE] [--socket PATH]
 * [--json] NOUN [VERB] [ARGS] [--option VALUE]`, over the control socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_print.h"
#include "daemon.h"
#include "mod/prov.h"

enum { ARGS_MAX = 32, EXIT_USAGE = 2, TIMEOUT_S = 10 };

struct cli {
	const char *config;
	const char *socket;
	bool json;
	const char *noun;
	const char *verb;
	const char *args[ARGS_MAX];
	size_t nargs;
	json_t *opts;
	char aor[512]; /* location show's argument with "sip:" added */
};

static void help_one(const struct cf_mod_cmd *c, void *arg)
{
	const char *noun = arg;
	char left[160];

	if (noun && strcmp(noun, c->noun))
		return;
	snprintf(left, sizeof(left), "%s%s%s %s", c->noun, *c->verb ? " " : "",
	         c->verb, c->usage);
	if (strlen(left) > 30)
		printf("  %s\n  %-30s %s\n", left, "", c->help);
	else
		printf("  %-30s %s\n", left, c->help);
}

static void help(const char *noun)
{
	printf("usage: confabctl [--config FILE] [--socket PATH] [--json] "
	       "NOUN [VERB] [ARGS] [--option VALUE]\n"
	       "commands:\n");
	cf_mod_cmd_apply(help_one, (void *)noun);
	printf("The daemon's socket: --socket, else [control] socket or "
	       "DATA_DIR/confabd.sock of --config FILE, else "
	       "var/confabd.sock.\n"
	       "When confabd is not running, domain, user, location show and "
	       "store show work on the store of --config FILE directly.\n");
}

static int conf_load(const struct cli *cli, struct cf_app_conf **confp)
{
	struct cf_mbuf errs;
	int err;

	cf_mbuf_init(&errs);
	err = cf_app_conf_load(confp, cli->config, NULL, 0, &errs);
	if (err && errs.end)
		fprintf(stderr, "%.*s", (int)errs.end, (char *)errs.buf);
	else if (err)
		fprintf(stderr, "confabctl: configuration: %s\n",
		        strerror(err));
	cf_mbuf_reset(&errs);
	return err;
}

/* ------------------------------------------------------------ remote */

enum { NOT_RUNNING = -3, RESP_MAX = 256 << 20 };

static int sock_path(const struct cli *cli, char *path, size_t size)
{
	struct cf_app_conf *conf = NULL;
	int err = 0;

	if (cli->socket) {
		if (strlen(cli->socket) >= size) {
			fprintf(stderr, "confabctl: socket path too long\n");
			return 1;
		}
		snprintf(path, size, "%s", cli->socket);
		return 0;
	}
	if (conf_load(cli, &conf))
		return 1;
	if (cf_ctl_sock_path(conf, path, size)) {
		fprintf(stderr, "confabctl: socket path too long\n");
		err = 1;
	}
	cf_mem_deref(conf);
	return err;
}

/* Read one response line into a growing buffer (a user list of 100,000
 * users is a few MB); bounded by RESP_MAX and the socket timeout. */
static char *recv_line(int fd, size_t *lenp)
{
	size_t len = 0, size = 65536;
	char *buf = malloc(size), *nb;

	while (buf) {
		ssize_t n;

		if (len + 1 >= size) {
			if (size >= RESP_MAX)
				break;
			nb = realloc(buf, size * 2);
			if (!nb)
				break;
			buf = nb;
			size *= 2;
		}
		n = recv(fd, buf + len, size - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "confabctl: no answer from confabd%s\n",
			        n < 0 ? " (timeout)" : "");
			break;
		}
		if (memchr(buf + len, '\n', n)) {
			len += n;
			buf[len] = '\0';
			*lenp = len;
			return buf;
		}
		len += n;
	}
	free(buf);
	return NULL;
}

/*
 * One request to the daemon: cmd ("noun verb"), args (array of strings),
 * opts (object of strings). 0 with *respp the answer (ok or not); 1 on a
 * failure already reported; NOT_RUNNING when no daemon answers on the
 * socket (not reported: the caller may work offline).
 */
static int call(const struct cli *cli, const char *cmd, json_t *args,
                json_t *opts, json_t **respp)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {TIMEOUT_S, 0};
	json_t *req = NULL, *resp = NULL;
	char *line = NULL, *buf = NULL;
	json_error_t jerr;
	size_t len = 0;
	int fd = -1, rc = 1;

	if (sock_path(cli, sun.sun_path, sizeof(sun.sun_path)))
		return 1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		if (errno == ENOENT || errno == ECONNREFUSED) {
			rc = NOT_RUNNING;
		} else {
			fprintf(stderr, "confabctl: %s: %s\n", sun.sun_path,
			        strerror(errno));
		}
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	req = json_pack("{s:s, s:O, s:O}", "cmd", cmd, "args", args, "opts",
	                opts);
	line = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (!line) {
		fprintf(stderr, "confabctl: out of memory\n");
		goto out;
	}
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0 ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		fprintf(stderr, "confabctl: send: %s\n", strerror(errno));
		goto out;
	}
	buf = recv_line(fd, &len);
	if (!buf)
		goto out;
	resp = json_loadb(buf, len, 0, &jerr);
	if (!json_is_object(resp)) {
		fprintf(stderr, "confabctl: bad answer: %s\n", jerr.text);
		goto out;
	}
	*respp = json_incref(resp);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(line);
	free(buf);
	json_decref(req);
	json_decref(resp);
	return rc;
}

static json_t *args_json(const struct cli *cli)
{
	json_t *args = json_array();

	for (size_t i = 0; args && i < cli->nargs; i++)
		json_array_append_new(args, json_string(cli->args[i]));
	return args;
}

/* Print an answer: 0 when ok, 1 with its error on stderr. */
static int finish(const struct cli *cli, json_t *resp)
{
	if (cli->json) {
		char *s = json_dumps(resp, JSON_COMPACT | JSON_ENSURE_ASCII);

		if (s)
			puts(s);
		free(s);
	}
	if (!json_is_true(json_object_get(resp, "ok"))) {
		const char *e =
		    json_string_value(json_object_get(resp, "error"));

		fprintf(stderr, "confabctl: %s\n", e ? e : "failed");
		return 1;
	}
	if (!cli->json)
		cf_ctl_print(cli->noun, cli->verb, resp);
	return 0;
}

/* ----------------------------------------------------------- offline */

/* Commands that work on the store when the daemon is stopped. */
static bool offline_ok(const struct cli *cli)
{
	if (!strcmp(cli->noun, "user"))
		return strcmp(cli->verb, "reload") != 0;
	if (!strcmp(cli->noun, "location"))
		return !strcmp(cli->verb, "show");
	return !strcmp(cli->noun, "domain") || !strcmp(cli->noun, "store") ||
	       !strcmp(cli->noun, "cdr");
}

/* The daemon is stopped: build an app over the configuration and the
 * store (modules not initialised: cf_app_online false) and run the same
 * handler the daemon would. */
struct offline {
	struct cf_app_conf *conf;
	struct cf_app *app;
	struct cf_store *st;
};

static void offline_close(struct offline *o)
{
	cf_mem_deref(o->app);
	cf_mem_deref(o->st);
	cf_mem_deref(o->conf);
}

static int offline_open(const struct cli *cli, struct offline *o)
{
	char uri[4096] = "";
	int err;

	memset(o, 0, sizeof(*o));
	if (conf_load(cli, &o->conf))
		return 1;
	err = cf_app_alloc(&o->app, o->conf);
	if (err) {
		fprintf(stderr, "confabctl: %s\n", strerror(err));
		return 1;
	}
	err = cf_ctl_store_open(o->conf, &o->st, uri, sizeof(uri));
	if (err) {
		fprintf(stderr, "confabctl: cannot open the store %s: %s\n",
		        uri,
		        err == ETIMEDOUT ? "locked by another process"
		                         : strerror(err));
		return 1;
	}
	cf_app_set_store(o->app, o->st);
	return 0;
}

static int offline(const struct cli *cli)
{
	struct offline o;
	json_t *req = NULL, *resp = NULL;
	json_error_t jerr;
	char *line = NULL, *out = NULL, cmd[160];
	int rc = 1;

	if (offline_open(cli, &o))
		goto out;
	snprintf(cmd, sizeof(cmd), "%s%s%s", cli->noun, *cli->verb ? " " : "",
	         cli->verb);
	if (!strcmp(cmd, "location show")) {
		/* the registrar's command answers from its memory; offline
		 * the store's location table is what there is */
		struct cf_mod_ctl_req r = {cli->noun, cli->verb, args_json(cli),
		                           cli->opts};

		resp = json_object();
		if (!r.args || !resp)
			goto oom;
		if (cf_prov_location_show_h(o.app, &r, resp) == ENOMEM) {
			json_decref(r.args);
			goto oom;
		}
		json_decref(r.args);
		json_object_set_new(
		    resp, "ok", json_boolean(!json_object_get(resp, "error")));
	} else {
		req = json_pack("{s:s, s:o, s:O}", "cmd", cmd, "args",
		                args_json(cli), "opts", cli->opts);
		line = req ? json_dumps(req, JSON_COMPACT) : NULL;
		if (!line || cf_ctl_request(o.app, line, strlen(line), &out))
			goto oom;
		resp = json_loads(out, 0, &jerr);
		if (!resp)
			goto oom;
	}
	rc = finish(cli, resp);
	goto out;
oom:
	fprintf(stderr, "confabctl: out of memory\n");
out:
	free(line);
	free(out);
	json_decref(req);
	json_decref(resp);
	offline_close(&o);
	return rc;
}

static int remote(const struct cli *cli)
{
	json_t *args = args_json(cli), *resp = NULL;
	char cmd[160];
	int rc;

	if (!args)
		return 1;
	snprintf(cmd, sizeof(cmd), "%s%s%s", cli->noun, *cli->verb ? " " : "",
	         cli->verb);
	rc = call(cli, cmd, args, cli->opts, &resp);
	json_decref(args);
	if (rc == NOT_RUNNING) {
		char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

		if (offline_ok(cli))
			return offline(cli);
		if (sock_path(cli, path, sizeof(path)))
			return 1;
		fprintf(stderr, "confabd is not running (no socket at %s)\n",
		        path);
		return 1;
	}
	if (rc)
		return rc;
	rc = finish(cli, resp);
	json_decref(resp);
	return rc;
}

/* ------------------------------------------------------------ import */

/*
 * `user import FILE.csv`: confabctl writes the store itself, in one
 * transaction (SQLite takes two processes; the daemon's writers wait up to
 * the busy timeout), so that 100,000 rows need neither the socket nor the
 * daemon's main loop. With the daemon running, it asks the daemon for its
 * store (store show) and afterwards has it reload its credentials cache
 * (user reload).
 */
static int import(const struct cli *cli)
{
	const char *file = cli->args[0];
	json_t *none = json_array(), *noopts = json_object(), *resp = NULL;
	struct offline o = {0};
	struct cf_store *st = NULL;
	char why[1024];
	size_t count = 0;
	bool online = false;
	uint64_t t0;
	double secs;
	FILE *f;
	int rc = 1, err;

	f = fopen(file, "r");
	if (!f) {
		fprintf(stderr, "confabctl: cannot read %s: %s\n", file,
		        strerror(errno));
		json_decref(none);
		json_decref(noopts);
		return 1;
	}
	if (!none || !noopts)
		goto out;
	err = call(cli, "store show", none, noopts, &resp);
	if (err == NOT_RUNNING) {
		if (offline_open(cli, &o))
			goto out;
		st = cf_mem_ref(o.st);
	} else if (err) {
		goto out;
	} else {
		const char *uri =
		    json_string_value(json_object_get(resp, "uri"));

		if (!json_is_true(json_object_get(resp, "ok")) || !uri) {
			rc = finish(cli, resp);
			rc = rc ? rc : 1;
			goto out;
		}
		online = true;
		err = cf_store_open(&st, uri, NULL);
		if (err) {
			fprintf(stderr,
			        "confabctl: cannot open the store %s: "
			        "%s\n",
			        uri, strerror(err));
			goto out;
		}
	}
	t0 = cf_clock_ms();
	err = cf_prov_import(st, f, file, &count, why, sizeof(why));
	if (err) {
		fprintf(stderr, "confabctl: %s\n", *why ? why : strerror(err));
		goto out;
	}
	secs = (cf_clock_ms() - t0) / 1000.0;
	if (!cli->json)
		printf("imported %zu users from %s in %.2f s\n", count, file,
		       secs);
	rc = 0;
	if (online) {
		json_decref(resp);
		resp = NULL;
		rc = call(cli, "user reload", none, noopts, &resp);
		if (rc == NOT_RUNNING) {
			rc = 0; /* stopped meanwhile: it reads the store at
			           start */
		} else if (!rc) {
			if (!json_is_true(json_object_get(resp, "ok"))) {
				rc = finish(cli, resp);
			} else if (!cli->json) {
				cf_ctl_print("user", "reload", resp);
			}
		}
	}
	if (!rc && cli->json)
		printf("{\"ok\":true,\"imported\":%zu,\"seconds\":%.3f,"
		       "\"reloaded\":%s}\n",
		       count, secs, online && resp ? "true" : "false");
out:
	fclose(f);
	json_decref(none);
	json_decref(noopts);
	json_decref(resp);
	cf_mem_deref(st);
	offline_close(&o);
	return rc;
}

/* ------------------------------------------------------------ local */

static int local(const struct cli *cli)
{
	struct cf_app_conf *conf = NULL;

	if (!strcmp(cli->noun, "version")) {
		printf("confabctl %s\n", CF_VERSION);
		return 0;
	}
	if (!strcmp(cli->noun, "help")) {
		help(cli->nargs ? cli->args[0] : NULL);
		return 0;
	}
	if (!strcmp(cli->noun, "config") && !strcmp(cli->verb, "check")) {
		if (conf_load(cli, &conf))
			return 1;
		printf("configuration OK%s\n",
		       cli->config ? "" : " (embedded defaults)");
		cf_mem_deref(conf);
		return 0;
	}
	if (!strcmp(cli->noun, "user") && !strcmp(cli->verb, "import"))
		return import(cli);
	fprintf(stderr, "confabctl: '%s' is not implemented here\n", cli->noun);
	return 1;
}

/* ------------------------------------------------------------ grammar */

/* Global options anywhere; then NOUN [VERB] ARGS; --name VALUE pairs
 * become the request's options. */
static int parse(struct cli *cli, int argc, char *argv[])
{
	const char *pos[ARGS_MAX + 2];
	size_t npos = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--json")) {
			cli->json = true;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			pos[0] = "help";
			npos = 1;
			break;
		} else if (!strcmp(a, "--version")) {
			pos[0] = "version";
			npos = 1;
			break;
		} else if (!strcmp(a, "--clear")) {
			/* the one option without a value (user forward) */
			json_object_set_new(cli->opts, "clear",
			                    json_string("yes"));
		} else if (!strcmp(a, "--csv")) {
			/* cdr export --csv: no value either */
			json_object_set_new(cli->opts, "csv", json_string("yes"));
		} else if (!strncmp(a, "--", 2) && a[2]) {
			const char *name = a + 2;

			if (i + 1 >= argc) {
				fprintf(stderr,
				        "confabctl: option --%s needs a "
				        "value\n",
				        name);
				return EXIT_USAGE;
			}
			if (!strcmp(name, "config"))
				cli->config = argv[++i];
			else if (!strcmp(name, "socket"))
				cli->socket = argv[++i];
			else
				json_object_set_new(cli->opts, name,
				                    json_string(argv[++i]));
		} else {
			if (npos >= ARGS_MAX + 2) {
				fprintf(stderr, "confabctl: too many "
				                "arguments\n");
				return EXIT_USAGE;
			}
			pos[npos++] = a;
		}
	}
	if (!npos) {
		help(NULL);
		return EXIT_USAGE;
	}
	cli->noun = pos[0];
	cli->verb = "";
	size_t first = 1;
	const struct cf_mod_cmd *cmd;
	int err = ENOENT;

	if (npos > 1)
		err = cf_mod_cmd_find(&cmd, pos[0], pos[1]);
	if (!err) {
		cli->verb = pos[1];
		first = 2;
	} else {
		err = cf_mod_cmd_find(&cmd, pos[0], "");
	}
	if (err == ENOENT) {
		fprintf(stderr,
		        "confabctl: unknown command '%s' (see confabctl "
		        "help)\n",
		        pos[0]);
		return EXIT_USAGE;
	}
	if (err) {
		if (npos > 1)
			fprintf(stderr,
			        "confabctl: unknown verb '%s' for '%s' (see "
			        "confabctl help %s)\n",
			        pos[1], pos[0], pos[0]);
		else
			fprintf(stderr,
			        "confabctl: '%s' needs a verb (see confabctl "
			        "help %s)\n",
			        pos[0], pos[0]);
		return EXIT_USAGE;
	}
	for (size_t i = first; i < npos; i++) {
		if (cli->nargs >= ARGS_MAX)
			break;
		cli->args[cli->nargs++] = pos[i];
	}
	if (cli->nargs < cmd->min_args || cli->nargs > cmd->max_args) {
		fprintf(stderr, "usage: confabctl %s%s%s %s\n", cmd->noun,
		        *cmd->verb ? " " : "", cmd->verb,
		        *cmd->usage ? cmd->usage : "(no arguments)");
		return EXIT_USAGE;
	}
	/* location show takes an AOR like the user commands: user@domain
	 * or sip:user@domain (the registrar keys bindings by the latter) */
	if (!strcmp(cli->noun, "location") && !strcmp(cli->verb, "show") &&
	    cli->nargs == 1 && strncasecmp(cli->args[0], "sip:", 4) &&
	    strncasecmp(cli->args[0], "sips:", 5) &&
	    strlen(cli->args[0]) < sizeof(cli->aor) - 4) {
		snprintf(cli->aor, sizeof(cli->aor), "sip:%s", cli->args[0]);
		cli->args[0] = cli->aor;
	}
	return cmd->h ? -1 : -2; /* remote / local */
}

int main(int argc, char *argv[])
{
	struct cli cli = {0};
	int rc;

	cli.opts = json_object();
	if (!cli.opts)
		return 1;
	/* offline, the store's notices (migrations, domains added) are not
	 * the command's output; warnings and errors still show */
	cf_log_set_level(CF_LOG_WARN);
	rc = parse(&cli, argc, argv);
	if (rc == -1)
		rc = remote(&cli);
	else if (rc == -2)
		rc = local(&cli);
	json_decref(cli.opts);
	return rc;
}
