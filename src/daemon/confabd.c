/* SPDX-License-Identifier: BSD-3-Clause */
/* confabd.c - the daemon: options, configuration, listeners, signals
 * (signalfd on the main loop) and an orderly shutdown. */
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "store/store.h"

enum { SETS_MAX = 64, BANNER_MAX = 1024 };

struct daemon {
	const char *config; /* --config, or NULL: embedded defaults */
	const char *sets[SETS_MAX];
	size_t nsets;
	char *owned[SETS_MAX]; /* sets we built (--data-dir, --listen) */
	size_t nowned;
	struct cf_app_conf *conf;
	struct cf_app *app;
	struct cf_sip *sip;
	struct cf_loop *loop;
	struct cf_ctl *ctl;
	struct cf_store *store;
	int sfd;
	bool mods_init;
	char sock[108];
};

/* The lines tests and operators wait for (start, reload, stop) are
 * written whatever the log level: a load test runs at "warn" and still
 * needs to know when the daemon is up. */
static void milestone(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void milestone(const char *fmt, ...)
{
	enum cf_log_level lvl = cf_log_get_level();
	char buf[BANNER_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (lvl > CF_LOG_NOTICE)
		cf_log_set_level(CF_LOG_NOTICE);
	cf_log(CF_LOG_NOTICE, NULL, "%s", buf);
	if (lvl > CF_LOG_NOTICE)
		cf_log_set_level(lvl);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: confabd [OPTIONS]\n"
	        "  -c, --config FILE      read FILE (default: the embedded "
	        "defaults)\n"
	        "  -C, --check-config     validate the configuration and "
	        "exit\n"
	        "  -s, --set S.KEY=VALUE  override a key (repeatable; replaces "
	        "the file's values)\n"
	        "  -l, --listen SPEC      shortcut for --set sip.listen=SPEC "
	        "(repeatable)\n"
	        "  -d, --data-dir DIR     shortcut for --set "
	        "general.data_dir=DIR\n"
	        "  -f, --foreground       run in the foreground (the only "
	        "mode)\n"
	        "  -V, --version          print the version and exit\n"
	        "  -h, --help             this text\n"
	        "Signals: SIGTERM/SIGINT stop (unanswered transactions get "
	        "up to [general] shutdown_timeout s), SIGHUP reloads (TLS "
	        "certificates too).\n"
	        "Keys and defaults: docs/configuration.md.\n");
}

static int set_add(struct daemon *d, const char *fmt, const char *value)
{
	char *s;

	if (d->nsets >= SETS_MAX || d->nowned >= SETS_MAX)
		return ENOMEM;
	if (!fmt) {
		d->sets[d->nsets++] = value;
		return 0;
	}
	if (asprintf(&s, fmt, value) < 0)
		return ENOMEM;
	d->owned[d->nowned++] = s;
	d->sets[d->nsets++] = s;
	return 0;
}

static int conf_load(struct daemon *d, struct cf_app_conf **confp)
{
	struct cf_mbuf errs;
	int err;

	cf_mbuf_init(&errs);
	err = cf_app_conf_load(confp, d->config, d->sets, d->nsets, &errs);
	if (err && errs.end)
		fprintf(stderr, "%.*s", (int)errs.end, (char *)errs.buf);
	else if (err)
		fprintf(stderr, "confabd: configuration: %s\n", strerror(err));
	cf_mbuf_reset(&errs);
	return err;
}

/* ------------------------------------------------------------ listeners */

static bool ipv6_loopback_works(void)
{
	struct cf_sa sa;
	int fd, r;

	if (cf_sa_set_str(&sa, "::1", 0))
		return false;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	r = bind(fd, &sa.u.sa, sa.len);
	close(fd);
	return r == 0;
}

struct listen_ctx {
	struct daemon *d;
	bool defaults; /* [sip] listen not given: ::1 is optional */
	bool v6_ok;
	bool v6_noticed;
	int err;
};

static bool listen_item(const char *value, void *arg)
{
	struct listen_ctx *lc = arg;
	struct cf_app_listen l[2];
	char buf[80];
	size_t n;

	if (cf_app_listen_decode(value, l, &n)) {
		lc->err = EINVAL; /* validated already; cannot happen */
		return true;
	}
	for (size_t i = 0; i < n; i++) {
		int err;

		if (lc->defaults && cf_sa_af(&l[i].addr) == AF_INET6 &&
		    !lc->v6_ok) {
			if (!lc->v6_noticed)
				cf_log(CF_LOG_NOTICE, NULL,
				       "IPv6 loopback unavailable: not "
				       "listening on [::1]");
			lc->v6_noticed = true;
			continue;
		}
		err = cf_sip_listen(lc->d->sip, l[i].tp, &l[i].addr);
		if (err) {
			cf_log(CF_LOG_ERR, NULL, "cannot listen on %s %s: %s",
			       cf_sip_tp_name(l[i].tp),
			       cf_sa_print(&l[i].addr, buf, sizeof(buf)),
			       strerror(err));
			lc->err = err;
			return true;
		}
	}
	return false;
}

/* A wildcard listener answers for every interface address. */
static void addrs_wildcard(struct cf_app *app, const struct cf_sa *addr)
{
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa))
		return;
	for (i = ifa; i; i = i->ifa_next) {
		struct cf_sa sa = {0};

		if (!i->ifa_addr || i->ifa_addr->sa_family != cf_sa_af(addr))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			sa.u.in = *(struct sockaddr_in *)i->ifa_addr;
			sa.len = sizeof(sa.u.in);
		} else {
			sa.u.in6 = *(struct sockaddr_in6 *)i->ifa_addr;
			sa.len = sizeof(sa.u.in6);
		}
		cf_sa_set_port(&sa, cf_sa_port(addr));
		(void)cf_app_addr_add(app, &sa);
	}
	freeifaddrs(ifa);
}

struct banner {
	struct cf_app *app;
	char buf[BANNER_MAX];
	size_t len;
};

static void listener_h(enum cf_sip_tp tp, const struct cf_sa *addr, void *arg)
{
	struct banner *b = arg;
	char buf[80], any[INET6_ADDRSTRLEN];
	int n;

	cf_sa_ntop(addr, any, sizeof(any));
	if (!strcmp(any, "0.0.0.0") || !strcmp(any, "::"))
		addrs_wildcard(b->app, addr);
	else
		(void)cf_app_addr_add(b->app, addr);

	n = snprintf(b->buf + b->len, sizeof(b->buf) - b->len, "%s%s %s",
	             b->len ? ", " : "", cf_sip_tp_name(tp),
	             cf_sa_print(addr, buf, sizeof(buf)));
	if (n > 0 && (size_t)n < sizeof(b->buf) - b->len)
		b->len += n;
}

static void tp_lower(char *s)
{
	for (; *s; s++) {
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
	}
}

/* -------------------------------------------------------------- signals */

static void reload(struct daemon *d)
{
	struct cf_app_conf *conf = NULL;
	struct cf_mbuf errs;
	int err;

	cf_mbuf_init(&errs);
	err = cf_app_conf_load(&conf, d->config, d->sets, d->nsets, &errs);
	if (err) {
		struct cf_pl all = cf_mbuf_pl(&errs), line;

		/* one log line per problem, then keep running as we were */
		while (all.l) {
			const char *nl = cf_pl_chr(&all, '\n');

			line.p = all.p;
			line.l = nl ? (size_t)(nl - all.p) : all.l;
			cf_log(CF_LOG_ERR, NULL, "reload: %.*s", (int)line.l,
			       line.p);
			all.p += line.l + (nl ? 1 : 0);
			all.l -= line.l + (nl ? 1 : 0);
		}
		cf_log(CF_LOG_ERR, NULL,
		       "reload failed (%s): configuration unchanged",
		       strerror(err));
	} else {
		cf_app_reload(d->app, conf);
		milestone("configuration reloaded");
	}
	cf_mbuf_reset(&errs);
	cf_mem_deref(conf);
}

static void signal_h(int fd, int events, void *arg)
{
	struct daemon *d = arg;
	struct signalfd_siginfo si;

	(void)events;
	/* bounded: the pending signals are few (one of each at most) */
	for (int i = 0; i < 16; i++) {
		if (read(fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			return;
		switch (si.ssi_signo) {
		case SIGHUP:
			milestone("SIGHUP: reloading %s",
			          d->config ? d->config : "(defaults)");
			reload(d);
			break;
		case SIGTERM:
		case SIGINT:
			milestone("%s: stopping", si.ssi_signo == SIGTERM
			                              ? "SIGTERM"
			                              : "SIGINT");
			cf_loop_stop(d->loop);
			break;
		default:
			break;
		}
	}
}

/* ------------------------------------------------------------ lifecycle */

static bool origin_item(const char *value, void *arg)
{
	struct cf_mbuf *mb = arg;

	return cf_mbuf_printf(mb, "%s%s", mb->end ? ", " : "", value) != 0;
}

/* [ws] origins (a list, possibly repeated) as one comma-separated
 * allow-list for the stack; none = any Origin. */
static int ws_origins(const struct cf_app_conf *c, struct cf_sip *sip)
{
	struct cf_mbuf mb;
	int err;

	cf_mbuf_init(&mb);
	cf_app_conf_apply(c, "ws", "origins", origin_item, &mb);
	err = cf_mbuf_write_u8(&mb, 0);
	if (!err)
		err = cf_sip_ws_origins_set(sip, (const char *)mb.buf);
	cf_mbuf_reset(&mb);
	return err;
}

static void sip_cfg(const struct cf_app_conf *c, struct cf_sip_cfg *cfg)
{
	cf_sip_cfg_default(cfg);
	cfg->t1_ms = cf_app_conf_u32(c, "sip", "t1");
	cfg->t2_ms = cf_app_conf_u32(c, "sip", "t2");
	cfg->t4_ms = cf_app_conf_u32(c, "sip", "t4");
	cfg->timer_c_ms = cf_app_conf_u32(c, "sip", "timer_c");
	cfg->workers = cf_app_conf_u32(c, "general", "workers");
	cfg->max_msg = cf_app_conf_u32(c, "sip", "max_message_size");
	cfg->tcp_idle_s = cf_app_conf_u32(c, "sip", "tcp_idle_timeout");
	cfg->tcp_max = cf_app_conf_u32(c, "sip", "tcp_max_connections");
	cfg->tcp_max_per_ip = cf_app_conf_u32(c, "sip", "tcp_max_per_ip");
	cfg->ws_max_frame = cf_app_conf_u32(c, "ws", "max_frame_size");
	cfg->ws_handshake_s = cf_app_conf_u32(c, "ws", "handshake_timeout");
}

/* Many TCP connections need many descriptors: take the hard limit. */
static void nofile_raise(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int data_dir_make(const char *dir)
{
	struct stat st;

	if (!mkdir(dir, 0700))
		return 0;
	if (errno != EEXIST)
		return errno;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return ENOTDIR;
	return 0;
}

/* Open the store (migrations applied by cf_store_open) and hand it to the
 * app; closed at stop, after the modules. */
static int store_open(struct daemon *d)
{
	char uri[4096] = "";
	unsigned version = 0;
	int err;

	err = cf_ctl_store_open(d->conf, &d->store, uri, sizeof(uri));
	if (err) {
		cf_log(CF_LOG_ERR, NULL, "cannot open the store %s: %s", uri,
		       strerror(err));
		return err;
	}
	(void)cf_store_version(d->store, &version);
	cf_log(CF_LOG_INFO, NULL, "store %s, schema version %u", uri, version);
	cf_app_set_store(d->app, d->store);
	return 0;
}

static int start(struct daemon *d)
{
	const struct cf_app_conf *c = d->conf;
	struct cf_sip_txn_handlers h;
	struct listen_ctx lc = {.d = d};
	struct banner b;
	struct cf_sip_cfg cfg;
	enum cf_log_level lvl;
	const char *dir = cf_app_conf_str(c, "general", "data_dir");
	sigset_t mask;
	int err;

	if (!cf_log_level_decode(cf_app_conf_str(c, "general", "log_level"),
	                         &lvl))
		cf_log_set_level(lvl);
	nofile_raise();

	err = data_dir_make(dir);
	if (err) {
		cf_log(CF_LOG_ERR, NULL, "data directory %s: %s", dir,
		       strerror(err));
		return err;
	}
	err = cf_ctl_sock_path(c, d->sock, sizeof(d->sock));
	if (err) {
		cf_log(CF_LOG_ERR, NULL, "control socket path too long");
		return err;
	}

	/* Block the signals before any thread starts, so every worker
	 * inherits the mask and only the signalfd sees them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	err = cf_loop_alloc(&d->loop);
	if (err)
		return err;
	d->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sfd < 0)
		return errno;
	err = cf_loop_fd_listen(d->loop, d->sfd, CF_FD_READ, signal_h, d);
	if (err)
		return err;

	err = cf_app_alloc(&d->app, d->conf);
	if (err)
		return err;
	err = cf_ctl_alloc(&d->ctl, d->loop, d->app, d->sock);
	if (err == EALREADY) {
		cf_log(CF_LOG_ERR, NULL,
		       "a confabd already answers on %s: not starting",
		       d->sock);
		return err;
	}
	if (err) {
		cf_log(CF_LOG_ERR, NULL, "control socket %s: %s", d->sock,
		       strerror(err));
		return err;
	}
	err = store_open(d);
	if (err)
		return err;

	sip_cfg(c, &cfg);
	cf_mod_handlers(&h, d->app);
	err = cf_sip_alloc(&d->sip, &cfg, &h);
	if (err)
		return err;
	cf_app_set_sip(d->app, d->sip);
	err = ws_origins(c, d->sip);
	if (err)
		return err;

	/* certificates before the listeners accept (a TLS listener needs
	 * one; the embedded defaults make a self-signed one) */
	err = cf_app_tls_apply(d->app);
	if (err)
		return err;

	lc.defaults = !cf_app_conf_isset(c, "sip", "listen");
	lc.v6_ok = ipv6_loopback_works();
	cf_app_conf_apply(c, "sip", "listen", listen_item, &lc);
	if (lc.err)
		return lc.err;

	err = cf_mod_init_all(d->app);
	if (err) {
		cf_log(CF_LOG_ERR, NULL, "module init: %s", strerror(err));
		return err;
	}
	d->mods_init = true;

	/* Our own addresses are known before the workers start, so the
	 * first request already finds them (no 404 race at start-up). */
	memset(&b, 0, sizeof(b));
	b.app = d->app;
	cf_sip_listeners_apply(d->sip, listener_h, &b);
	tp_lower(b.buf);

	err = cf_sip_start(d->sip);
	if (err) {
		cf_log(CF_LOG_ERR, NULL, "cannot start the stack: %s",
		       strerror(err));
		return err;
	}

	err = cf_mod_start_all(d->app);
	if (err) {
		cf_log(CF_LOG_ERR, NULL, "module start: %s", strerror(err));
		return err;
	}

	/* The line tests wait for: everything is up once it is written. */
	milestone("confabd %s listening on %s; domain %s; control %s; "
	          "%u workers; pid %d",
	          CF_VERSION, b.buf, cf_app_domain(d->app), d->sock,
	          cfg.workers ? cfg.workers
	                      : (unsigned)sysconf(_SC_NPROCESSORS_ONLN),
	          (int)getpid());
	return 0;
}

static void stop(struct daemon *d)
{
	/* the reloaded configuration when there is one */
	const struct cf_app_conf *c = d->app ? cf_app_conf(d->app) : d->conf;
	uint32_t wait_s = cf_app_conf_u32(c, "general", "shutdown_timeout");

	if (d->mods_init)
		cf_mod_stop_all(d->app);
	if (d->sip) {
		cf_sip_stop(d->sip, wait_s * 1000);
		d->sip = cf_mem_deref(d->sip);
	}
	cf_app_set_sip(d->app, NULL);
	d->ctl = cf_mem_deref(d->ctl);
	if (d->loop && d->sfd >= 0)
		cf_loop_fd_close(d->loop, d->sfd);
	if (d->sfd >= 0)
		close(d->sfd);
	d->sfd = -1;
	cf_app_set_store(d->app, NULL);
	d->app = cf_mem_deref(d->app);
	d->store = cf_mem_deref(d->store); /* closes the database */
	d->loop = cf_mem_deref(d->loop);
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"set", required_argument, NULL, 's'},
	    {"listen", required_argument, NULL, 'l'},
	    {"data-dir", required_argument, NULL, 'd'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct daemon d = {.sfd = -1};
	bool check = false;
	int ch, err = 0, rc = 1;

	while ((ch = getopt_long(argc, argv, "c:Cs:l:d:fVh", opts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'c':
			d.config = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 's':
			err = set_add(&d, NULL, optarg);
			break;
		case 'l':
			err = set_add(&d, "sip.listen=%s", optarg);
			break;
		case 'd':
			err = set_add(&d, "general.data_dir=%s", optarg);
			break;
		case 'f':
			break;
		case 'V':
			printf("confabd %s\n", CF_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (err) {
			fprintf(stderr, "confabd: too many --set options\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "confabd: unexpected argument '%s'\n",
		        argv[optind]);
		usage(stderr);
		return 2;
	}

	if (conf_load(&d, &d.conf))
		goto out;
	if (check) {
		printf("configuration OK\n");
		rc = 0;
		goto out;
	}

	cf_log_set_thread("main");
	if (start(&d))
		goto out;
	err = cf_loop_run(d.loop);
	if (err)
		cf_log(CF_LOG_ERR, NULL, "main loop: %s", strerror(err));
	rc = err ? 1 : 0;
out:
	stop(&d);
	d.conf = cf_mem_deref(d.conf);
	for (size_t i = 0; i < d.nowned; i++)
		free(d.owned[i]);
	if (!check && rc == 0)
		milestone("confabd stopped");
	return rc;
}
