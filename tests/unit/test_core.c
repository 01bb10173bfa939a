/* SPDX-License-Identifier: BSD-3-Clause */
/* test_core.c - unit tests: mem, pl, mbuf, list, hash, log, sa, conf. */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "core/core_priv.h"
#include "testutil.h"

#define T(f)                                                                   \
	cmocka_unit_test_setup_teardown(f, cf_test_leak_setup,                 \
	                                cf_test_leak_teardown)

/* ---------------------------------------------------------------- mem */

static int destroyed;

static void count_destroy(void *data)
{
	(void)data;
	destroyed++;
}

static void test_mem_refs(void **state)
{
	long b = cf_mem_blocks();
	char *p;

	(void)state;
	destroyed = 0;
	p = cf_mem_zalloc(100, count_destroy);
	assert_non_null(p);
	assert_int_equal(p[99], 0);
	assert_int_equal(((uintptr_t)p) % _Alignof(max_align_t), 0);
	assert_int_equal(cf_mem_blocks(), b + 1);
#ifdef CF_MEM_DEBUG
	/* the debug list tracks exactly the live blocks */
	assert_int_equal(cf_mem_debug_live(), cf_mem_blocks());
#else
	assert_int_equal(cf_mem_debug_live(), -1);
#endif
	assert_int_equal(cf_mem_nrefs(p), 1);
	assert_ptr_equal(cf_mem_ref(p), p);
	assert_int_equal(cf_mem_nrefs(p), 2);
	assert_null(cf_mem_deref(p));
	assert_int_equal(destroyed, 0);
	assert_int_equal(cf_mem_nrefs(p), 1);
	assert_null(cf_mem_deref(p));
	assert_int_equal(destroyed, 1);
	assert_int_equal(cf_mem_blocks(), b);
	assert_null(cf_mem_deref(NULL));
	assert_null(cf_mem_ref(NULL));
	assert_int_equal(cf_mem_nrefs(NULL), 0);
}

static void test_mem_realloc_strdup(void **state)
{
	char *p, *q, *s;

	(void)state;
	p = cf_mem_alloc(4, NULL);
	assert_non_null(p);
	memcpy(p, "abc", 4);
	q = cf_mem_realloc(p, 100000);
	assert_non_null(q);
	assert_string_equal(q, "abc");
#ifdef CF_MEM_DEBUG
	assert_int_equal(cf_mem_debug_live(), cf_mem_blocks());
#endif
	/* a shared block cannot be resized */
	cf_mem_ref(q);
	assert_null(cf_mem_realloc(q, 10));
	cf_mem_deref(q);
	/* failed realloc keeps the block */
	cf_mem_fail_after(1);
	assert_null(cf_mem_realloc(q, 200000));
	assert_string_equal(q, "abc");
	cf_mem_deref(q);

	s = cf_mem_strdup("hello");
	assert_string_equal(s, "hello");
	assert_int_equal(cf_mem_nrefs(s), 1);
	cf_mem_deref(s);
	assert_null(cf_mem_strdup(NULL));
}

static void test_mem_oom(void **state)
{
	void *a, *b, *c;
	long n0 = cf_mem_blocks();

	(void)state;
	cf_mem_fail_after(1);
	assert_null(cf_mem_alloc(8, NULL));
	a = cf_mem_alloc(8, NULL); /* injection is one-shot */
	assert_non_null(a);
	cf_mem_fail_after(3);
	b = cf_mem_zalloc(8, NULL);
	c = cf_mem_zalloc(8, NULL);
	assert_non_null(b);
	assert_non_null(c);
	assert_null(cf_mem_zalloc(8, NULL));
	assert_int_equal(cf_mem_blocks(), n0 + 3);
	cf_mem_deref(a);
	cf_mem_deref(b);
	cf_mem_deref(c);
	assert_int_equal(cf_mem_blocks(), n0);
	/* 0 turns it off */
	cf_mem_fail_after(2);
	cf_mem_fail_after(0);
	a = cf_mem_alloc(1, NULL);
	b = cf_mem_alloc(1, NULL);
	assert_non_null(a);
	assert_non_null(b);
	cf_mem_deref(a);
	cf_mem_deref(b);
}

#ifdef CF_MEM_DEBUG
/* A deref of a dead block must be caught (the magic, or ASan first). */
static void test_mem_double_deref(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		void *p = cf_mem_alloc(32, NULL);
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 2);
		cf_mem_deref(p);
		cf_mem_deref(p);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_false(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
#endif

/* ----------------------------------------------------------------- pl */

static void test_pl_numbers(void **state)
{
	struct cf_pl pl;
	uint32_t u32 = 7;
	uint64_t u64 = 7;

	(void)state;
	pl = CF_PL("4294967295");
	assert_int_equal(cf_pl_u32(&pl, &u32), 0);
	assert_int_equal(u32, 4294967295u);
	pl = CF_PL("4294967296");
	assert_int_equal(cf_pl_u32(&pl, &u32), EBADMSG);
	assert_int_equal(u32, 4294967295u); /* untouched on error */
	pl = CF_PL("42949672950");
	assert_int_equal(cf_pl_u32(&pl, &u32), EBADMSG);
	pl = CF_PL("0");
	assert_int_equal(cf_pl_u32(&pl, &u32), 0);
	assert_int_equal(u32, 0);
	pl = CF_PL("000123");
	assert_int_equal(cf_pl_u32(&pl, &u32), 0);
	assert_int_equal(u32, 123);
	pl = CF_PL("");
	assert_int_equal(cf_pl_u32(&pl, &u32), EBADMSG);
	pl = CF_PL("12a");
	assert_int_equal(cf_pl_u32(&pl, &u32), EBADMSG);
	pl = CF_PL("-1");
	assert_int_equal(cf_pl_u32(&pl, &u32), EBADMSG);
	pl = CF_PL(" 1");
	assert_int_equal(cf_pl_u32(&pl, &u32), EBADMSG);
	assert_int_equal(cf_pl_u32(NULL, &u32), EINVAL);
	pl = CF_PL("18446744073709551615");
	assert_int_equal(cf_pl_u64(&pl, &u64), 0);
	assert_true(u64 == UINT64_MAX);
	pl = CF_PL("18446744073709551616");
	assert_int_equal(cf_pl_u64(&pl, &u64), EBADMSG);
	pl = CF_PL("99999999999999999999");
	assert_int_equal(cf_pl_u64(&pl, &u64), EBADMSG);
	/* a slice is not NUL-terminated: only l bytes count */
	pl.p = "12345";
	pl.l = 2;
	assert_int_equal(cf_pl_u32(&pl, &u32), 0);
	assert_int_equal(u32, 12);
}

static void test_pl_strings(void **state)
{
	struct cf_pl pl, a, b;
	char buf[6];
	char *d;

	(void)state;
	cf_pl_set_str(&pl, "Hello");
	assert_int_equal(pl.l, 5);
	assert_true(cf_pl_isset(&pl));
	assert_false(cf_pl_isset(&CF_PL_NULL));
	assert_int_equal(cf_pl_strcmp(&pl, "Hello"), 0);
	assert_int_not_equal(cf_pl_strcmp(&pl, "hello"), 0);
	assert_int_not_equal(cf_pl_strcmp(&pl, "Hell"), 0);
	assert_int_not_equal(cf_pl_strcmp(&pl, "Hello!"), 0);
	assert_int_equal(cf_pl_strcasecmp(&pl, "hELLO"), 0);
	assert_int_not_equal(cf_pl_strcasecmp(&pl, "hELL"), 0);
	a = CF_PL("abc");
	b = CF_PL("abd");
	assert_true(cf_pl_cmp(&a, &b) < 0);
	assert_true(cf_pl_cmp(&b, &a) > 0);
	b = CF_PL("ABC");
	assert_int_not_equal(cf_pl_cmp(&a, &b), 0);
	assert_int_equal(cf_pl_casecmp(&a, &b), 0);

	pl = CF_PL(" \t\r\n x y \r\n");
	cf_pl_trim(&pl);
	assert_int_equal(cf_pl_strcmp(&pl, "x y"), 0);
	pl = CF_PL("   ");
	cf_pl_trim(&pl);
	assert_int_equal(pl.l, 0);

	pl = CF_PL("a;b;c");
	assert_ptr_equal(cf_pl_chr(&pl, ';'), pl.p + 1);
	assert_null(cf_pl_chr(&pl, 'x'));
	pl.l = 1;
	assert_null(cf_pl_chr(&pl, ';'));

	pl = CF_PL("12345");
	assert_int_equal(cf_pl_strcpy(&pl, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "12345");
	pl = CF_PL("123456");
	assert_int_equal(cf_pl_strcpy(&pl, buf, sizeof(buf)), ENOMEM);
	assert_string_equal(buf, "12345");

	pl = CF_PL("dup me");
	pl.l = 3;
	d = cf_pl_dup(&pl);
	assert_string_equal(d, "dup");
	cf_mem_deref(d);
	cf_mem_fail_after(1);
	assert_null(cf_pl_dup(&pl));
}

/* --------------------------------------------------------------- mbuf */

static void test_mbuf_growth(void **state)
{
	struct cf_mbuf *mb = NULL;
	struct cf_pl pl;
	size_t i;

	(void)state;
	assert_int_equal(cf_mbuf_alloc(&mb, 0), 0);
	for (i = 0; i < 10000; i++)
		assert_int_equal(cf_mbuf_write_u8(mb, (uint8_t)('a' + i % 26)),
		                 0);
	assert_int_equal(mb->end, 10000);
	assert_int_equal(mb->pos, 10000);
	assert_true(mb->size >= 10000 && mb->size < 20000 * 2);
	for (i = 0; i < 10000; i++)
		assert_int_equal(mb->buf[i], 'a' + i % 26);
	/* printf past the capacity */
	assert_int_equal(cf_mbuf_resize(mb, 16), 0);
	assert_int_equal(mb->end, 16);
	assert_int_equal(cf_mbuf_printf(mb, "%s-%d-%0200d", "x", 42, 7), 0);
	assert_int_equal(mb->end, 16 + 5 + 200);
	assert_int_equal(memcmp(mb->buf + 16, "x-42-000", 8), 0);
	assert_int_equal(mb->buf[mb->end - 1], '7');
	mb = cf_mem_deref(mb);

	/* alloc with a capacity, OOM on its buffer */
	cf_mem_fail_after(2);
	assert_int_equal(cf_mbuf_alloc(&mb, 100), ENOMEM);
	assert_null(mb);
	assert_int_equal(cf_mbuf_alloc(&mb, 100), 0);
	assert_int_equal(mb->size, 100);
	assert_int_equal(cf_mbuf_write_str(mb, "SIP/2.0 "), 0);
	pl = CF_PL("200 OK");
	assert_int_equal(cf_mbuf_write_pl(mb, &pl), 0);
	pl = cf_mbuf_pl(mb);
	assert_int_equal(cf_pl_strcmp(&pl, "SIP/2.0 200 OK"), 0);
	mb = cf_mem_deref(mb);
}

static void test_mbuf_embedded(void **state)
{
	struct cf_mbuf mb;
	char big[300];
	struct cf_pl pl;

	(void)state;
	cf_mbuf_init(&mb);
	assert_int_equal(cf_mbuf_write_str(&mb, "hello world"), 0);
	/* overwrite in the middle: the bytes after stay */
	mb.pos = 0;
	assert_int_equal(cf_mbuf_printf(&mb, "%s", "HE"), 0);
	assert_int_equal(mb.pos, 2);
	assert_int_equal(mb.end, 11);
	pl = cf_mbuf_pl(&mb);
	assert_int_equal(cf_pl_strcmp(&pl, "HEllo world"), 0);
	/* an OOM on growth leaves the buffer as it was */
	memset(big, 'z', sizeof(big));
	mb.pos = mb.end;
	cf_mem_fail_after(1);
	assert_int_equal(cf_mbuf_write_mem(&mb, big, sizeof(big)), ENOMEM);
	assert_int_equal(mb.end, 11);
	pl = cf_mbuf_pl(&mb);
	assert_int_equal(cf_pl_strcmp(&pl, "HEllo world"), 0);
	cf_mem_fail_after(1);
	assert_int_equal(cf_mbuf_printf(&mb, "%300s", "q"), ENOMEM);
	assert_int_equal(mb.end, 11);
	assert_int_equal(cf_mbuf_write_mem(&mb, big, sizeof(big)), 0);
	assert_int_equal(mb.end, 311);
	cf_mbuf_reset(&mb);
	assert_null(mb.buf);
	assert_int_equal(mb.end, 0);
	cf_mbuf_reset(&mb);
}

/* --------------------------------------------------------------- list */

struct item {
	struct cf_le le;
	int v;
};

static bool unlink_odd(struct cf_le *le, void *arg)
{
	struct item *it = le->data;

	(void)arg;
	if (it->v % 2)
		cf_list_unlink(le);
	return false;
}

static bool find_v(struct cf_le *le, void *arg)
{
	return ((struct item *)le->data)->v == *(int *)arg;
}

static void check_list(const struct cf_list *l, const int *want, size_t n)
{
	struct cf_le *le;
	size_t i = 0;

	assert_int_equal(cf_list_count(l), n);
	for (le = l->head; le; le = le->next, i++) {
		assert_true(i < n);
		assert_int_equal(((struct item *)le->data)->v, want[i]);
		assert_ptr_equal(le->list, l);
		if (le->next)
			assert_ptr_equal(le->next->prev, le);
	}
	assert_int_equal(i, n);
	if (n)
		assert_int_equal(((struct item *)l->tail->data)->v,
		                 want[n - 1]);
	else
		assert_null(l->tail);
}

static void test_list(void **state)
{
	struct item it[6];
	struct cf_list l;
	int i, key;

	(void)state;
	memset(it, 0, sizeof(it));
	for (i = 0; i < 6; i++)
		it[i].v = i;
	cf_list_init(&l);
	cf_list_append(&l, &it[1].le, &it[1]);
	cf_list_append(&l, &it[3].le, &it[3]);
	cf_list_prepend(&l, &it[0].le, &it[0]);
	cf_list_insert_after(&l, &it[1].le, &it[2].le, &it[2]);
	cf_list_insert_after(&l, &it[3].le, &it[4].le, &it[4]);
	cf_list_insert_after(&l, NULL, &it[5].le, &it[5]);
	check_list(&l, (int[]){5, 0, 1, 2, 3, 4}, 6);
	key = 3;
	assert_ptr_equal(cf_list_apply(&l, find_v, &key), &it[3].le);
	key = 9;
	assert_null(cf_list_apply(&l, find_v, &key));
	/* the handler unlinks the current element */
	assert_null(cf_list_apply(&l, unlink_odd, NULL));
	check_list(&l, (int[]){0, 2, 4}, 3);
	assert_null(it[5].le.list);
	cf_list_unlink(&it[5].le); /* not on a list: no-op */
	cf_list_unlink(&it[0].le); /* head */
	check_list(&l, (int[]){2, 4}, 2);
	cf_list_unlink(&it[4].le); /* tail */
	check_list(&l, (int[]){2}, 1);
	cf_list_unlink(&it[2].le);
	check_list(&l, NULL, 0);
	assert_null(l.head);
}

struct ditem {
	struct cf_le le;
	struct cf_list *other; /* a destructor that unlinks a sibling */
};

static void ditem_destroy(void *data)
{
	struct ditem *d = data;

	destroyed++;
	if (d->other && d->other->tail)
		cf_list_unlink(d->other->tail);
}

static void test_list_flush(void **state)
{
	struct cf_list l;
	struct ditem *d[5];
	int i;

	(void)state;
	destroyed = 0;
	cf_list_init(&l);
	for (i = 0; i < 5; i++) {
		d[i] = cf_mem_zalloc(sizeof(*d[i]), ditem_destroy);
		assert_non_null(d[i]);
		cf_list_append(&l, &d[i]->le, d[i]);
	}
	/* the first destructor unlinks the tail (d[4]), which then is ours */
	d[0]->other = &l;
	cf_list_flush(&l, true);
	assert_int_equal(cf_list_count(&l), 0);
	assert_int_equal(destroyed, 4);
	assert_null(d[4]->le.list);
	cf_mem_deref(d[4]);
	assert_int_equal(destroyed, 5);
}

/* --------------------------------------------------------------- hash */

struct hitem {
	struct cf_le le;
	char key[16];
};

static bool hitem_cmp(struct cf_le *le, void *arg)
{
	return !strcmp(((struct hitem *)le->data)->key, arg);
}

static bool count_all(struct cf_le *le, void *arg)
{
	(void)le;
	(*(int *)arg)++;
	return false;
}

static void test_hash(void **state)
{
	struct cf_hash *h = NULL;
	struct hitem *it;
	struct cf_le *le;
	char key[16];
	int i, n = 0;

	(void)state;
	/* FNV-1a 32 reference values */
	assert_int_equal(cf_hash_mem("", 0), 0x811c9dc5u);
	assert_int_equal(cf_hash_mem("a", 1), 0xe40c292cu);
	assert_int_equal(cf_hash_mem("foobar", 6), 0xbf9cf968u);
	assert_int_equal(cf_hash_mem_ci("FooBAR", 6), 0xbf9cf968u);
	assert_int_not_equal(cf_hash_mem("FooBAR", 6), 0xbf9cf968u);

	cf_mem_fail_after(2); /* the bucket array */
	assert_int_equal(cf_hash_alloc(&h, 100), ENOMEM);
	assert_null(h);
	assert_int_equal(cf_hash_alloc(&h, 100), 0);
	/* 100 rounds up to 128: keys 128 apart share a bucket */
	assert_ptr_equal(cf_hash_bucket(h, 5), cf_hash_bucket(h, 133));
	assert_ptr_not_equal(cf_hash_bucket(h, 5), cf_hash_bucket(h, 69));
	for (i = 0; i < 1000; i++) {
		it = cf_mem_zalloc(sizeof(*it), NULL);
		assert_non_null(it);
		snprintf(it->key, sizeof(it->key), "k%d", i);
		cf_hash_append(h, cf_hash_mem(it->key, strlen(it->key)),
		               &it->le, it);
	}
	assert_int_equal(cf_hash_count(h), 1000);
	cf_hash_apply(h, count_all, &n);
	assert_int_equal(n, 1000);
	for (i = 0; i < 1000; i += 7) {
		snprintf(key, sizeof(key), "k%d", i);
		le = cf_hash_lookup(h, cf_hash_mem(key, strlen(key)), hitem_cmp,
		                    key);
		assert_non_null(le);
		assert_string_equal(((struct hitem *)le->data)->key, key);
	}
	le = cf_hash_lookup(h, cf_hash_mem("k1000", 5), hitem_cmp, "k1000");
	assert_null(le);
	le = cf_hash_lookup(h, cf_hash_mem("k7", 2), hitem_cmp, "k7");
	cf_hash_unlink(le);
	assert_null(cf_hash_lookup(h, cf_hash_mem("k7", 2), hitem_cmp, "k7"));
	assert_int_equal(cf_hash_count(h), 999);
	cf_mem_deref(le->data);
	cf_hash_flush(h, true);
	assert_int_equal(cf_hash_count(h), 0);

	/* an element still linked when the table goes is left unlinked */
	it = cf_mem_zalloc(sizeof(*it), NULL);
	assert_non_null(it);
	cf_hash_append(h, 1, &it->le, it);
	h = cf_mem_deref(h);
	assert_null(it->le.list);
	cf_hash_unlink(&it->le);
	cf_mem_deref(it);
}

/* ---------------------------------------------------------------- log */

static void read_line(int fd, char *buf, size_t size)
{
	ssize_t n = read(fd, buf, size - 1);

	assert_true(n > 0);
	buf[n] = '\0';
}

static void test_log(void **state)
{
	static const char *re_s =
	    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
	    "\\.[0-9]{3}Z NOTICE \\[main\\] call-id=abc@h: hello 42\n$";
	struct cf_pl cid = CF_PL("abc@hXX");
	enum cf_log_level lvl;
	char buf[4096];
	regex_t re;
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	cf_log_set_fd(p[1]);
	cf_log_set_level(CF_LOG_INFO);
	assert_int_equal(cf_log_get_level(), CF_LOG_INFO);
	cid.l = 5;
	cf_log(CF_LOG_NOTICE, &cid, "hello %d", 42);
	read_line(p[0], buf, sizeof(buf));
	assert_int_equal(regcomp(&re, re_s, REG_EXTENDED), 0);
	assert_int_equal(regexec(&re, buf, 0, NULL, 0), 0);
	regfree(&re);

	/* below the level: nothing written */
	cf_log(CF_LOG_DEBUG, NULL, "hidden");
	assert_int_equal(read(p[0], buf, sizeof(buf)), -1);

	/* no call-id, thread name, control bytes */
	cf_log_set_thread("w3");
	cf_log(CF_LOG_ERR, NULL, "a\r\nb");
	read_line(p[0], buf, sizeof(buf));
	assert_non_null(strstr(buf, "Z ERROR [w3] a??b\n"));
	assert_null(strstr(buf, "call-id"));
	cf_log_set_thread(NULL);

	/* a very long line is cut, still one line */
	memset(buf, 'x', 3000);
	buf[3000] = '\0';
	cf_log(CF_LOG_WARN, NULL, "%s", buf);
	read_line(p[0], buf, sizeof(buf));
	assert_true(strlen(buf) < 2100);
	assert_non_null(strstr(buf, "xxx...\n"));
	assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);

	assert_int_equal(cf_log_level_decode("debug", &lvl), 0);
	assert_int_equal(lvl, CF_LOG_DEBUG);
	assert_int_equal(cf_log_level_decode("error", &lvl), 0);
	assert_int_equal(lvl, CF_LOG_ERR);
	assert_int_equal(cf_log_level_decode("loud", &lvl), EINVAL);
	cf_log_set_level(CF_LOG_DEBUG);
	cf_log(CF_LOG_DEBUG, NULL, "shown");
	read_line(p[0], buf, sizeof(buf));
	assert_non_null(strstr(buf, " DEBUG [main] shown\n"));
	cf_log_set_level(CF_LOG_INFO);
	cf_log_set_fd(2);
	close(p[0]);
	close(p[1]);
}

/* ----------------------------------------------------------------- sa */

static void test_sa(void **state)
{
	struct cf_sa a, b;
	char buf[64];

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_false(cf_sa_isset(&a));
	assert_int_equal(cf_sa_decode(&a, "127.0.0.1:5060"), 0);
	assert_int_equal(cf_sa_af(&a), AF_INET);
	assert_int_equal(cf_sa_port(&a), 5060);
	assert_true(cf_sa_isset(&a));
	assert_string_equal(cf_sa_print(&a, buf, sizeof(buf)),
	                    "127.0.0.1:5060");
	assert_string_equal(cf_sa_ntop(&a, buf, sizeof(buf)), "127.0.0.1");
	assert_int_equal(a.len, sizeof(struct sockaddr_in));

	assert_int_equal(cf_sa_decode(&b, "[::1]:5060"), 0);
	assert_int_equal(cf_sa_af(&b), AF_INET6);
	assert_int_equal(cf_sa_port(&b), 5060);
	assert_string_equal(cf_sa_print(&b, buf, sizeof(buf)), "[::1]:5060");
	assert_string_equal(cf_sa_ntop(&b, buf, sizeof(buf)), "::1");
	assert_int_equal(b.len, sizeof(struct sockaddr_in6));
	assert_false(cf_sa_eq(&a, &b));

	assert_int_equal(cf_sa_decode(&b, "2001:db8::1"), 0);
	assert_int_equal(cf_sa_port(&b), 0);
	assert_string_equal(cf_sa_print(&b, buf, sizeof(buf)),
	                    "[2001:db8::1]:0");
	assert_int_equal(cf_sa_decode(&b, "[2001:db8::1]"), 0);
	assert_int_equal(cf_sa_decode(&b, "10.0.0.1"), 0);
	assert_int_equal(cf_sa_port(&b), 0);
	assert_int_equal(cf_sa_decode(&b, "1.2.3.4:65535"), 0);
	assert_int_equal(cf_sa_port(&b), 65535);

	assert_int_equal(cf_sa_decode(&b, "1.2.3.4:65536"), EBADMSG);
	assert_int_equal(cf_sa_decode(&b, "1.2.3.4:"), EBADMSG);
	assert_int_equal(cf_sa_decode(&b, "1.2.3.4:x"), EBADMSG);
	assert_int_equal(cf_sa_decode(&b, "[::1"), EBADMSG);
	assert_int_equal(cf_sa_decode(&b, "[::1]x"), EBADMSG);
	assert_int_equal(cf_sa_decode(&b, "[::1]:"), EBADMSG);
	assert_int_equal(cf_sa_decode(&b, "[1.2.3.4]:5"), EBADMSG);
	assert_int_equal(cf_sa_decode(&b, "example.com"), EBADMSG);
	assert_int_equal(cf_sa_decode(&b, "1.2.3.256"), EBADMSG);
	assert_int_equal(cf_sa_decode(&b, ""), EBADMSG);
	assert_int_equal(cf_sa_decode(&b, "[]"), EBADMSG);

	assert_int_equal(cf_sa_set_str(&a, "::1", 5060), 0);
	assert_int_equal(cf_sa_set_str(&b, "[::1]", 5061), 0);
	assert_true(cf_sa_addr_eq(&a, &b));
	assert_false(cf_sa_eq(&a, &b));
	assert_int_equal(cf_sa_hash(&a, false), cf_sa_hash(&b, false));
	assert_int_not_equal(cf_sa_hash(&a, true), cf_sa_hash(&b, true));
	cf_sa_set_port(&b, 5060);
	assert_true(cf_sa_eq(&a, &b));
	assert_int_equal(cf_sa_hash(&a, true), cf_sa_hash(&b, true));
	assert_int_equal(cf_sa_set_str(&a, "127.0.0.1", 1), 0);
	assert_int_equal(cf_sa_set_str(&b, "127.0.0.2", 1), 0);
	assert_false(cf_sa_addr_eq(&a, &b));
	assert_int_not_equal(cf_sa_hash(&a, false), cf_sa_hash(&b, false));
	assert_int_equal(cf_sa_set_str(&a, "::ffff:1.2.3.4", 1), 0);
	assert_int_equal(cf_sa_af(&a), AF_INET6);
}

/* --------------------------------------------------------------- conf */

struct seen {
	int n;
	char buf[512];
};

static bool collect(const char *section, const char *key, const char *value,
                    int line, void *arg)
{
	struct seen *s = arg;
	size_t l = strlen(s->buf);

	snprintf(s->buf + l, sizeof(s->buf) - l, "%d:%s.%s=%s;", line, section,
	         key, value);
	return ++s->n == 100;
}

static void test_conf(void **state)
{
	static const char text[] = "; comment\n"
	                           "top = 1\n"
	                           "[sip]\n"
	                           "listen = udp:127.0.0.1:5060\n"
	                           "listen = tcp:127.0.0.1:5060\n"
	                           "\n"
	                           "[log]\n"
	                           "level = debug ; inline\n";
	struct cf_conf *c = NULL;
	struct seen s = {0};
	int line = 0;

	(void)state;
	assert_int_equal(cf_conf_load_str(&c, text, &line), 0);
	assert_string_equal(cf_conf_get(c, "", "top"), "1");
	assert_string_equal(cf_conf_get(c, "sip", "listen"),
	                    "tcp:127.0.0.1:5060");
	assert_string_equal(cf_conf_get(c, "log", "level"), "debug");
	assert_null(cf_conf_get(c, "log", "nope"));
	assert_null(cf_conf_get(c, "sip", "level"));
	cf_conf_apply(c, collect, &s);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.buf, "2:.top=1;"
	                           "4:sip.listen=udp:127.0.0.1:5060;"
	                           "5:sip.listen=tcp:127.0.0.1:5060;"
	                           "8:log.level=debug;");
	c = cf_mem_deref(c);

	assert_int_equal(cf_conf_alloc(&c), 0);
	assert_null(cf_conf_get(c, "a", "b"));
	c = cf_mem_deref(c);
}

static void test_conf_errors(void **state)
{
	char big[400], path[] = "/tmp/test_core_conf_XXXXXX";
	struct cf_conf *c = NULL;
	int line = 0, fd;
	long i;

	(void)state;
	assert_int_equal(
	    cf_conf_load_str(&c, "[a]\nx = 1\nbroken line\ny = 2\n", &line),
	    EBADMSG);
	assert_null(c);
	assert_int_equal(line, 3);
	line = 0;
	assert_int_equal(cf_conf_load_str(&c, "[a\nx=1\n", &line), EBADMSG);
	assert_int_equal(line, 1);
	/* a line longer than the parser's buffer is an error at that line */
	memset(big, 'v', sizeof(big));
	memcpy(big, "[a]\nk=", 6);
	memcpy(big + sizeof(big) - 8, "\nz=1\n", 6);
	line = 0;
	assert_int_equal(cf_conf_load_str(&c, big, &line), EBADMSG);
	assert_int_equal(line, 2);

	assert_int_equal(cf_conf_load(&c, "/nonexistent/confab.ini", &line),
	                 ENOENT);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[x]\ny=z\n", 8), 8);
	close(fd);
	assert_int_equal(cf_conf_load(&c, path, &line), 0);
	assert_string_equal(cf_conf_get(c, "x", "y"), "z");
	c = cf_mem_deref(c);
	unlink(path);

	/* out of memory at every allocation: ENOMEM and no leak */
	for (i = 1; i < 20; i++) {
		int err;

		cf_mem_fail_after(i);
		err = cf_conf_load_str(&c, "[a]\nx=1\ny=2\nz=3\n", &line);
		cf_mem_fail_after(0);
		if (!err)
			break;
		assert_int_equal(err, ENOMEM);
		assert_null(c);
	}
	assert_true(i > 1 && i < 20);
	assert_string_equal(cf_conf_get(c, "a", "z"), "3");
	c = cf_mem_deref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_mem_refs),
	    T(test_mem_realloc_strdup),
	    T(test_mem_oom),
#ifdef CF_MEM_DEBUG
	    T(test_mem_double_deref),
#endif
	    T(test_pl_numbers),
	    T(test_pl_strings),
	    T(test_mbuf_growth),
	    T(test_mbuf_embedded),
	    T(test_list),
	    T(test_list_flush),
	    T(test_hash),
	    T(test_log),
	    T(test_sa),
	    T(test_conf),
	    T(test_conf_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
