/* SPDX-License-Identifier: BSD-3-Clause */
/* log.c - one-line log records, each written with a single write(2). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

/*
 * A line: `2026-11-25T10:00:00.123Z NOTICE [w1] call-id=abc: text\n`.
 * It is formatted on the stack (LOG_LINE_MAX bytes, longer text is cut and
 * ends in "...") and written with one write(2), which POSIX keeps from
 * interleaving with other writers of the same fd for pipes up to PIPE_BUF
 * and in practice for files opened O_APPEND and terminals. Control bytes in
 * the text and call-id (which may come from the network) are replaced by
 * '?' so one event stays one line.
 */

enum {
	LOG_LINE_MAX = 2048,
	LOG_THREAD_MAX = 16,
};

static atomic_int log_level = CF_LOG_INFO;
static atomic_int log_fd = 2;
static _Thread_local char thread_name[LOG_THREAD_MAX] = "main";

static const char *const level_names[] = {
    [CF_LOG_DEBUG] = "DEBUG",   [CF_LOG_INFO] = "INFO",
    [CF_LOG_NOTICE] = "NOTICE", [CF_LOG_WARN] = "WARN",
    [CF_LOG_ERR] = "ERROR",
};

void cf_log_set_level(enum cf_log_level lvl)
{
	if (lvl >= CF_LOG_DEBUG && lvl <= CF_LOG_ERR)
		atomic_store(&log_level, (int)lvl);
}

enum cf_log_level cf_log_get_level(void)
{
	return (enum cf_log_level)atomic_load(&log_level);
}

int cf_log_level_decode(const char *s, enum cf_log_level *lvl)
{
	static const char *const names[] = {"debug", "info", "notice", "warn",
	                                    "error"};
	size_t i;

	if (!s || !lvl)
		return EINVAL;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*lvl = (enum cf_log_level)i;
			return 0;
		}
	}
	return EINVAL;
}

void cf_log_set_thread(const char *name)
{
	if (!name)
		name = "main";
	snprintf(thread_name, sizeof(thread_name), "%s", name);
}

void cf_log_set_fd(int fd)
{
	atomic_store(&log_fd, fd);
}

static void sanitize(char *p, size_t n)
{
	while (n--) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			*p = '?';
		p++;
	}
}

void cf_log(enum cf_log_level lvl, const struct cf_pl *callid, const char *fmt,
            ...)
{
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t len, head;
	va_list ap;
	int n;

	if (lvl < CF_LOG_DEBUG || lvl > CF_LOG_ERR || !fmt ||
	    (int)lvl < atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(
	    line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s [%s] ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000L, level_names[lvl], thread_name);
	if (n < 0)
		return;
	len = (size_t)n;
	head = len;
	if (cf_pl_isset(callid)) {
		int cl = callid->l > 256 ? 256 : (int)callid->l;

		n = snprintf(line + len, sizeof(line) - len,
		             "call-id=%.*s: ", cl, callid->p);
		if (n > 0)
			len += (size_t)n;
	}
	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (len + (size_t)n >= sizeof(line) - 1) {
		/* cut: keep room for "...\n" */
		len = sizeof(line) - 5;
		memcpy(line + len, "...", 3);
		len += 3;
	} else {
		len += (size_t)n;
	}
	sanitize(line + head, len - head);
	line[len++] = '\n';
	while (write(atomic_load(&log_fd), line, len) < 0 && errno == EINTR)
		;
}
