/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl.c - the control socket: a UNIX stream socket served by the main
 * thread's loop (never a worker's), one JSON request per line. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"

struct client {
	struct cf_ctl *ctl;
	int fd;
	size_t len;
	char buf[CF_CTL_LINE_MAX];
};

struct cf_ctl {
	struct cf_loop *loop;
	struct cf_app *app;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct client *clients[CF_CTL_CLIENTS_MAX];
};

static void client_close(struct client *c)
{
	struct cf_ctl *ctl = c->ctl;

	for (size_t i = 0; i < CF_CTL_CLIENTS_MAX; i++) {
		if (ctl->clients[i] == c)
			ctl->clients[i] = NULL;
	}
	cf_loop_fd_close(ctl->loop, c->fd);
	close(c->fd);
	cf_mem_deref(c);
}

/* Most responses are small next to the socket buffer; a large one (user
 * list of 100,000 users: a few MB) waits for the client to read, up to
 * REPLY_WAIT_MS in all, which holds the main loop (never a worker) that
 * long at most. A client that does not read loses its connection. */
enum { REPLY_WAIT_MS = 10000 };

static bool send_all(struct client *c, const char *p, size_t n,
                     uint64_t deadline)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = send(c->fd, p + off, n - off, MSG_NOSIGNAL);
		struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
		uint64_t now;

		if (w > 0) {
			off += w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0 || errno != EAGAIN)
			return false;
		now = cf_clock_ms();
		if (now >= deadline ||
		    poll(&pfd, 1, (int)(deadline - now)) <= 0)
			return false;
	}
	return true;
}

static bool reply(struct client *c, const char *out)
{
	uint64_t deadline = cf_clock_ms() + REPLY_WAIT_MS;

	return send_all(c, out, strlen(out), deadline) &&
	       send_all(c, "\n", 1, deadline);
}

static void client_read(int fd, int events, void *arg)
{
	struct client *c = arg;
	ssize_t n;
	char *nl;

	(void)events;
	n = recv(fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->len += n;

	/* bounded: at most one pass per line in the buffer */
	while ((nl = memchr(c->buf, '\n', c->len))) {
		size_t l = nl - c->buf;
		char *out = NULL;
		bool ok;

		if (cf_ctl_request(c->ctl->app, c->buf, l, &out)) {
			client_close(c);
			return;
		}
		ok = reply(c, out);
		free(out);
		if (!ok) {
			client_close(c);
			return;
		}
		memmove(c->buf, nl + 1, c->len - l - 1);
		c->len -= l + 1;
	}
	if (c->len == sizeof(c->buf)) {
		(void)reply(c, "{\"ok\":false,\"error\":\"line too long\"}");
		client_close(c);
	}
}

static void accept_h(int fd, int events, void *arg)
{
	struct cf_ctl *ctl = arg;
	struct client *c;
	size_t slot;
	int cfd;

	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	for (slot = 0; slot < CF_CTL_CLIENTS_MAX; slot++) {
		if (!ctl->clients[slot])
			break;
	}
	if (slot == CF_CTL_CLIENTS_MAX) {
		cf_log(CF_LOG_WARN, NULL, "control: too many clients");
		close(cfd);
		return;
	}
	c = cf_mem_zalloc(sizeof(*c), NULL);
	if (!c) {
		close(cfd);
		return;
	}
	c->ctl = ctl;
	c->fd = cfd;
	if (cf_loop_fd_listen(ctl->loop, cfd, CF_FD_READ, client_read, c)) {
		close(cfd);
		cf_mem_deref(c);
		return;
	}
	ctl->clients[slot] = c;
}

static void ctl_destroy(void *data)
{
	struct cf_ctl *ctl = data;

	for (size_t i = 0; i < CF_CTL_CLIENTS_MAX; i++) {
		if (ctl->clients[i])
			client_close(ctl->clients[i]);
	}
	if (ctl->fd >= 0) {
		cf_loop_fd_close(ctl->loop, ctl->fd);
		close(ctl->fd);
		unlink(ctl->path);
	}
}

int cf_ctl_alloc(struct cf_ctl **ctlp, struct cf_loop *loop, struct cf_app *app,
                 const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct cf_ctl *ctl;
	int err = 0, probe;

	if (!ctlp || !loop || !path)
		return EINVAL;
	if (strlen(path) >= sizeof(sun.sun_path))
		return ENOMEM;
	memcpy(sun.sun_path, path, strlen(path) + 1);

	ctl = cf_mem_zalloc(sizeof(*ctl), ctl_destroy);
	if (!ctl)
		return ENOMEM;
	ctl->loop = loop;
	ctl->app = app;
	ctl->fd = -1;
	memcpy(ctl->path, path, strlen(path) + 1);

	/* someone answering there already? then do not steal the socket */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		int r = connect(probe, (struct sockaddr *)&sun, sizeof(sun));

		close(probe);
		if (!r) {
			err = EALREADY;
			goto out;
		}
	}
	unlink(path);

	ctl->fd =
	    socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0) {
		err = errno;
		goto out;
	}
	if (bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    chmod(path, 0600) || listen(ctl->fd, CF_CTL_CLIENTS_MAX)) {
		err = errno;
		close(ctl->fd);
		ctl->fd = -1;
		goto out;
	}
	err = cf_loop_fd_listen(loop, ctl->fd, CF_FD_READ, accept_h, ctl);
out:
	if (err)
		cf_mem_deref(ctl);
	else
		*ctlp = ctl;
	return err;
}
