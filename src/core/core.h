/* SPDX-License-Identifier: BSD-3-Clause */
/* core.h - confab's core: memory, slices, buffers, lists, hashes, logging,
 * addresses, the timer wheel, the event loop and the cross-thread mailbox.
 * No SIP knowledge lives here. */
#ifndef CF_CORE_H
#define CF_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

/*
 * Errors: every function returning int returns 0 or a positive errno with one
 * meaning project-wide: EINVAL (caller bug), EBADMSG (malformed input),
 * ENODATA (incomplete: feed more bytes), ENOMEM, ENOENT (lookup miss),
 * ETIMEDOUT, EPROTO, EALREADY.
 */

#define CF_CONTAINER_OF(ptr, type, member)                                     \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ------------------------------------------------------------------ mem */

/* Destructor called when the last reference goes. It must not free the block
 * itself; it releases what the object owns. */
typedef void(cf_mem_destroy_h)(void *data);

/* Allocate a refcounted block (one reference, owned by the caller).
 * Returns NULL on out-of-memory (real or injected, see cf_mem_fail_after). */
void *cf_mem_alloc(size_t size, cf_mem_destroy_h *dh);
void *cf_mem_zalloc(size_t size, cf_mem_destroy_h *dh);
/* Resize a block that has one reference; NULL on failure (block kept). */
void *cf_mem_realloc(void *data, size_t size);
/* Take another reference; returns data. NULL-safe. Thread-safe (atomic). */
void *cf_mem_ref(void *data);
/* Drop a reference; runs the destructor and frees on the last one.
 * Always returns NULL so callers write `x = cf_mem_deref(x);`. NULL-safe. */
void *cf_mem_deref(void *data);
uint32_t cf_mem_nrefs(const void *data);
/* Copy a string or a slice into a new refcounted NUL-terminated block. */
char *cf_mem_strdup(const char *s);
/* Number of live blocks: tests assert it returns to its start value. */
long cf_mem_blocks(void);
/* Test hook: the n-th allocation from now fails (n >= 1); 0 turns it off. */
void cf_mem_fail_after(long n);

/* ------------------------------------------------------------------- pl */

/* A slice: pointer and length into someone else's bytes (never owned). */
struct cf_pl {
	const char *p;
	size_t l;
};

#define CF_PL(s) ((struct cf_pl){(s), sizeof(s) - 1})
#define CF_PL_NULL ((struct cf_pl){NULL, 0})

void cf_pl_set_str(struct cf_pl *pl, const char *s);
static inline bool cf_pl_isset(const struct cf_pl *pl)
{
	return pl && pl->p && pl->l;
}
/* 0 when equal (byte for byte / ASCII case-insensitive); else non-zero. */
int cf_pl_strcmp(const struct cf_pl *pl, const char *s);
int cf_pl_strcasecmp(const struct cf_pl *pl, const char *s);
int cf_pl_cmp(const struct cf_pl *a, const struct cf_pl *b);
int cf_pl_casecmp(const struct cf_pl *a, const struct cf_pl *b);
/* Decimal unsigned; EBADMSG on empty, non-digit or overflow of the type. */
int cf_pl_u32(const struct cf_pl *pl, uint32_t *v);
int cf_pl_u64(const struct cf_pl *pl, uint64_t *v);
/* Trim SP, HTAB, CR, LF from both ends. */
void cf_pl_trim(struct cf_pl *pl);
/* First occurrence of c, or NULL. */
const char *cf_pl_chr(const struct cf_pl *pl, char c);
/* Copy into a NUL-terminated buffer; ENOMEM (truncated) if it does not fit. */
int cf_pl_strcpy(const struct cf_pl *pl, char *buf, size_t size);
/* New refcounted NUL-terminated copy, or NULL. */
char *cf_pl_dup(const struct cf_pl *pl);

/* ----------------------------------------------------------------- mbuf */

/* A growable byte buffer for encoding. `end` is the length written; `pos` a
 * read/write cursor (writes go at pos and move end when past it). */
struct cf_mbuf {
	uint8_t *buf;
	size_t size;
	size_t pos;
	size_t end;
};

/* Refcounted buffer of initial capacity size (it grows on write). */
int cf_mbuf_alloc(struct cf_mbuf **mbp, size_t size);
/* Init/free a buffer embedded in another object (buf is plain malloc). */
void cf_mbuf_init(struct cf_mbuf *mb);
void cf_mbuf_reset(struct cf_mbuf *mb);
int cf_mbuf_resize(struct cf_mbuf *mb, size_t size);
int cf_mbuf_write_mem(struct cf_mbuf *mb, const void *p, size_t n);
int cf_mbuf_write_str(struct cf_mbuf *mb, const char *s);
int cf_mbuf_write_pl(struct cf_mbuf *mb, const struct cf_pl *pl);
int cf_mbuf_write_u8(struct cf_mbuf *mb, uint8_t v);
int cf_mbuf_printf(struct cf_mbuf *mb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int cf_mbuf_vprintf(struct cf_mbuf *mb, const char *fmt, va_list ap);
static inline struct cf_pl cf_mbuf_pl(const struct cf_mbuf *mb)
{
	return (struct cf_pl){(const char *)mb->buf, mb->end};
}

/* ----------------------------------------------------------------- list */

/* Intrusive doubly linked list; the element is embedded in its owner. */
struct cf_list;
struct cf_le {
	struct cf_le *prev;
	struct cf_le *next;
	struct cf_list *list;
	void *data;
};
struct cf_list {
	struct cf_le *head;
	struct cf_le *tail;
	size_t n;
};

void cf_list_init(struct cf_list *list);
void cf_list_append(struct cf_list *list, struct cf_le *le, void *data);
void cf_list_prepend(struct cf_list *list, struct cf_le *le, void *data);
void cf_list_insert_after(struct cf_list *list, struct cf_le *le,
			  struct cf_le *ile, void *data);
/* Unlink from whatever list it is on (no-op when on none). O(1). */
void cf_list_unlink(struct cf_le *le);
/* Unlink every element, calling cf_mem_deref on each data when deref. */
void cf_list_flush(struct cf_list *list, bool deref);
typedef bool(cf_list_apply_h)(struct cf_le *le, void *arg);
/* Walk until the handler returns true; returns that element or NULL. The
 * handler may unlink the current element. */
struct cf_le *cf_list_apply(const struct cf_list *list, cf_list_apply_h *h,
			    void *arg);
static inline size_t cf_list_count(const struct cf_list *list)
{
	return list ? list->n : 0;
}

/* ----------------------------------------------------------------- hash */

/* A hash table of lists (chaining); no locking (callers stripe locks). */
struct cf_hash;
int cf_hash_alloc(struct cf_hash **hp, uint32_t bucket_hint);
void cf_hash_append(struct cf_hash *h, uint32_t key, struct cf_le *le,
		    void *data);
void cf_hash_unlink(struct cf_le *le);
/* Walk the bucket of key; see cf_list_apply. */
struct cf_le *cf_hash_lookup(const struct cf_hash *h, uint32_t key,
			     cf_list_apply_h *h_cb, void *arg);
struct cf_le *cf_hash_apply(const struct cf_hash *h, cf_list_apply_h *h_cb,
			    void *arg);
struct cf_list *cf_hash_bucket(const struct cf_hash *h, uint32_t key);
void cf_hash_flush(struct cf_hash *h, bool deref);
size_t cf_hash_count(const struct cf_hash *h);
/* Fast string hashes (FNV-1a): exact and ASCII case-insensitive. */
uint32_t cf_hash_mem(const void *p, size_t n);
uint32_t cf_hash_mem_ci(const void *p, size_t n);
uint32_t cf_hash_mix32(uint32_t h);

/* ------------------------------------------------------------------ log */

enum cf_log_level {
	CF_LOG_DEBUG = 0,
	CF_LOG_INFO,
	CF_LOG_NOTICE,
	CF_LOG_WARN,
	CF_LOG_ERR,
};

/* One line per event that matters:
 * `2026-11-25T10:00:00.123Z NOTICE [w1] call-id=abc: text`.
 * callid may be NULL. Thread-safe; lines never interleave. */
void cf_log(enum cf_log_level lvl, const struct cf_pl *callid, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
void cf_log_set_level(enum cf_log_level lvl);
enum cf_log_level cf_log_get_level(void);
/* Parse "debug", "info", "notice", "warn", "error"; EINVAL otherwise. */
int cf_log_level_decode(const char *s, enum cf_log_level *lvl);
/* Name of the calling thread as shown in log lines ("main", "w0"...). */
void cf_log_set_thread(const char *name);
/* Send lines to this fd (default 2). */
void cf_log_set_fd(int fd);

/* ------------------------------------------------------------------- sa */

/* A socket address, IPv4 or IPv6. */
struct cf_sa {
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_storage ss;
	} u;
	socklen_t len;
};

/* Numeric address only (no DNS): "127.0.0.1", "::1", "[::1]". */
int cf_sa_set_str(struct cf_sa *sa, const char *addr, uint16_t port);
int cf_sa_set_pl(struct cf_sa *sa, const struct cf_pl *addr, uint16_t port);
/* "1.2.3.4:5060", "[::1]:5060", "::1" (port 0 when absent). */
int cf_sa_decode(struct cf_sa *sa, const char *hostport);
int cf_sa_af(const struct cf_sa *sa);
uint16_t cf_sa_port(const struct cf_sa *sa);
void cf_sa_set_port(struct cf_sa *sa, uint16_t port);
bool cf_sa_isset(const struct cf_sa *sa);
/* Address only, no brackets: "::1". Returns buf. */
const char *cf_sa_ntop(const struct cf_sa *sa, char *buf, size_t size);
/* Host and port as SIP writes them: "[::1]:5060" / "1.2.3.4:5060". */
const char *cf_sa_print(const struct cf_sa *sa, char *buf, size_t size);
/* Address and port equal (true) or not. cf_sa_addr_eq ignores the port. */
bool cf_sa_eq(const struct cf_sa *a, const struct cf_sa *b);
bool cf_sa_addr_eq(const struct cf_sa *a, const struct cf_sa *b);
uint32_t cf_sa_hash(const struct cf_sa *sa, bool with_port);

/* ------------------------------------------------------------------ tmr */

/* Hierarchical timer wheel (millisecond ticks). One wheel per loop; not
 * thread-safe. The clock is given by the caller (cf_tmr_wheel_advance), so
 * unit tests drive it with a fake clock and never sleep. */
typedef void(cf_tmr_h)(void *arg);

struct cf_tmr {
	struct cf_le le;
	cf_tmr_h *h;
	void *arg;
	uint64_t expires; /* absolute ms on the wheel's clock */
	uint64_t seq;     /* start order: equal expiries fire in this order */
	struct cf_tmr_wheel *wheel;
};

struct cf_tmr_wheel;

int cf_tmr_wheel_alloc(struct cf_tmr_wheel **wp, uint64_t now_ms);
/* Fire, in expiry order, every timer due at or before now_ms. A handler may
 * start or cancel any timer, including its own. */
void cf_tmr_wheel_advance(struct cf_tmr_wheel *w, uint64_t now_ms);
/* Milliseconds until the next timer is due (0 if overdue), or UINT64_MAX.
 * Exact within 256 ms; for a further timer it may be earlier (the time its
 * wheel slot cascades), never later, so a loop sleeping this long wakes in
 * time. */
uint64_t cf_tmr_wheel_next(const struct cf_tmr_wheel *w);
uint64_t cf_tmr_wheel_now(const struct cf_tmr_wheel *w);
size_t cf_tmr_wheel_count(const struct cf_tmr_wheel *w);

void cf_tmr_init(struct cf_tmr *t);
/* (Re)start: fires h(arg) delay_ms from the wheel's now. O(1). */
void cf_tmr_start(struct cf_tmr_wheel *w, struct cf_tmr *t, uint64_t delay_ms,
		  cf_tmr_h *h, void *arg);
/* Stop if running; safe on a stopped or initialised timer. O(1). */
void cf_tmr_cancel(struct cf_tmr *t);
bool cf_tmr_isrunning(const struct cf_tmr *t);
/* Milliseconds left, 0 if not running. */
uint64_t cf_tmr_left(const struct cf_tmr *t);

/* ----------------------------------------------------------------- loop */

/* Monotonic clock in milliseconds. */
uint64_t cf_clock_ms(void);
/* Wall clock in milliseconds since the epoch. */
uint64_t cf_clock_wall_ms(void);

enum cf_fd_flags {
	CF_FD_READ = 1,
	CF_FD_WRITE = 2,
	CF_FD_EXCL = 4, /* EPOLLEXCLUSIVE: a socket shared by several loops */
};

/* events: CF_FD_READ / CF_FD_WRITE bits, plus CF_FD_ERR on error/hangup. */
enum { CF_FD_ERR = 8 };
typedef void(cf_fd_h)(int fd, int events, void *arg);

/* One epoll loop per thread with its own timer wheel. */
struct cf_loop;

int cf_loop_alloc(struct cf_loop **lp);
/* Watch fd (add, or change flags/handler when already watched). */
int cf_loop_fd_listen(struct cf_loop *loop, int fd, int flags, cf_fd_h *h,
		      void *arg);
/* Stop watching fd (does not close it); pending events for it are dropped. */
void cf_loop_fd_close(struct cf_loop *loop, int fd);
/* Run on the calling thread until cf_loop_stop; sets cf_loop_current(). */
int cf_loop_run(struct cf_loop *loop);
/* Ask the loop to return from cf_loop_run; callable from any thread. */
void cf_loop_stop(struct cf_loop *loop);
struct cf_tmr_wheel *cf_loop_wheel(struct cf_loop *loop);
/* The loop running on this thread, or NULL. */
struct cf_loop *cf_loop_current(void);

/* ---------------------------------------------------------------- mbox */

/* Cross-thread mailbox: a multi-producer single-consumer queue drained on its
 * loop's thread, woken through an eventfd. The node is embedded in the
 * message; ownership of the message passes to the receiver. */
struct cf_mbox_node {
	struct cf_mbox_node *next;
};
typedef void(cf_mbox_h)(struct cf_mbox_node *node, void *arg);
struct cf_mbox;

int cf_mbox_alloc(struct cf_mbox **mbp, struct cf_loop *loop, cf_mbox_h *h,
		  void *arg);
/* Enqueue from any thread; lock-free for the producers. */
void cf_mbox_send(struct cf_mbox *mb, struct cf_mbox_node *node);

/* ----------------------------------------------------------------- conf */

/* An INI file (libinih) kept as section/key/value/line records. */
struct cf_conf;

/* Parse a file. On a syntax error: EBADMSG and *errline set. */
int cf_conf_load(struct cf_conf **confp, const char *path, int *errline);
/* An empty configuration (the embedded defaults). */
int cf_conf_alloc(struct cf_conf **confp);
int cf_conf_load_str(struct cf_conf **confp, const char *text, int *errline);
/* Last value of section.key, or NULL. */
const char *cf_conf_get(const struct cf_conf *conf, const char *section,
			const char *key);
typedef bool(cf_conf_apply_h)(const char *section, const char *key,
			      const char *value, int line, void *arg);
/* Every record in file order until the handler returns true. */
void cf_conf_apply(const struct cf_conf *conf, cf_conf_apply_h *h, void *arg);

#endif
