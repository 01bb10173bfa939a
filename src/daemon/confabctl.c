/* SPDX-License-Identifier: BSD-3-Clause */
/* confabctl.c - the CLI: `confabctl [--config FILE] [--socket PATH]
 * [--json] NOUN [VERB] [ARGS] [--option VALUE]`, over the control socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"

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
};

static void help_one(const struct cf_mod_cmd *c, void *arg)
{
	const char *noun = arg;
	char left[64];

	if (noun && strcmp(noun, c->noun))
		return;
	snprintf(left, sizeof(left), "%s%s%s %s", c->noun, *c->verb ? " " : "",
	         c->verb, c->usage);
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
	       "var/confabd.sock.\n");
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

/* ------------------------------------------------------- human output */

static void print_status(json_t *r)
{
	json_t *ls = json_object_get(r, "listeners");
	json_t *cs = json_object_get(r, "counters");
	json_int_t up = json_integer_value(json_object_get(r, "uptime"));
	const char *key;
	json_t *v;
	size_t i;

	printf("confabd %s, pid %lld, up %lldd %02lld:%02lld:%02lld, %lld "
	       "workers, domain %s\n",
	       json_string_value(json_object_get(r, "version")),
	       json_integer_value(json_object_get(r, "pid")), up / 86400,
	       up / 3600 % 24, up / 60 % 60, up % 60,
	       json_integer_value(json_object_get(r, "workers")),
	       json_string_value(json_object_get(r, "domain")));
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

/* ------------------------------------------------------------ remote */

static int remote(const struct cli *cli)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {TIMEOUT_S, 0};
	struct cf_app_conf *conf = NULL;
	char path[sizeof(sun.sun_path)];
	json_t *req = NULL, *args, *resp = NULL;
	char *line = NULL, buf[CF_CTL_LINE_MAX];
	size_t len = 0;
	json_error_t jerr;
	int fd = -1, rc = 1;

	if (cli->socket) {
		snprintf(path, sizeof(path), "%s", cli->socket);
	} else {
		if (conf_load(cli, &conf))
			return 1;
		if (cf_ctl_sock_path(conf, path, sizeof(path))) {
			fprintf(stderr, "confabctl: socket path too long\n");
			goto out;
		}
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			fprintf(stderr,
			        "confabd is not running (no socket at %s)\n",
			        path);
		else
			fprintf(stderr, "confabctl: %s: %s\n", path,
			        strerror(errno));
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	args = json_array();
	for (size_t i = 0; args && i < cli->nargs; i++)
		json_array_append_new(args, json_string(cli->args[i]));
	snprintf(buf, sizeof(buf), "%s%s%s", cli->noun, *cli->verb ? " " : "",
	         cli->verb);
	req = json_pack("{s:s, s:o, s:O}", "cmd", buf, "args", args, "opts",
	                cli->opts);
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

	/* one response line; bounded by the buffer and the timeout */
	while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "confabctl: no answer from confabd%s\n",
			        n < 0 ? " (timeout)" : "");
			goto out;
		}
		len += n;
	}
	buf[len] = '\0';
	if (cli->json) {
		fputs(buf, stdout);
		if (!len || buf[len - 1] != '\n')
			putchar('\n');
	}
	resp = json_loadb(buf, len, 0, &jerr);
	if (!json_is_object(resp)) {
		fprintf(stderr, "confabctl: bad answer: %s\n", jerr.text);
		goto out;
	}
	if (!json_is_true(json_object_get(resp, "ok"))) {
		const char *e =
		    json_string_value(json_object_get(resp, "error"));

		fprintf(stderr, "confabctl: %s\n", e ? e : "failed");
		goto out;
	}
	if (!cli->json) {
		if (!strcmp(cli->noun, "status"))
			print_status(resp);
		else
			print_generic(resp);
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(line);
	json_decref(req);
	json_decref(resp);
	cf_mem_deref(conf);
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
	return cmd->h ? -1 : -2; /* remote / local */
}

int main(int argc, char *argv[])
{
	struct cli cli = {0};
	int rc;

	cli.opts = json_object();
	if (!cli.opts)
		return 1;
	rc = parse(&cli, argc, argv);
	if (rc == -1)
		rc = remote(&cli);
	else if (rc == -2)
		rc = local(&cli);
	json_decref(cli.opts);
	return rc;
}
