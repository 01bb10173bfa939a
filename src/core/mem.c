/* SPDX-License-Identifier: BSD-3-Clause */
/* mem.c - refcounted memory blocks with destructors and a live-block count. */
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/core_priv.h"

/*
 * Every block is a header followed by the caller's bytes. The header is
 * padded to the strictest fundamental alignment so the data is suitably
 * aligned for any type. The refcount is atomic: cf_mem_ref/cf_mem_deref may
 * be called from any thread (the object itself is not made thread-safe).
 *
 * Cost: one malloc and one free per block; ref/deref are one atomic each.
 * cf_mem_blocks() is a single relaxed atomic counter, always compiled in.
 * With CF_MEM_DEBUG the header also carries a magic (a deref of a freed or
 * foreign pointer is reported and aborts: that is a caller bug, not an
 * out-of-memory case) and every live block sits on a mutex-protected list.
 */

enum {
	MEM_MAGIC = 0x6366626d, /* "cfbm" */
	MEM_DEAD = 0x64656164,
};

struct mem {
#ifdef CF_MEM_DEBUG
	struct mem *prev;
	struct mem *next;
	uint32_t magic;
#endif
	atomic_uint nrefs;
	cf_mem_destroy_h *dh;
	size_t size;
};

union hdr {
	struct mem m;
	max_align_t align;
};

#define HDR_SIZE sizeof(union hdr)

static atomic_long nblocks;
static atomic_long fail_n;

#ifdef CF_MEM_DEBUG
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mem *live_head;

static void live_add(struct mem *m)
{
	pthread_mutex_lock(&live_lock);
	m->prev = NULL;
	m->next = live_head;
	if (live_head)
		live_head->prev = m;
	live_head = m;
	pthread_mutex_unlock(&live_lock);
}

static void live_del(struct mem *m)
{
	pthread_mutex_lock(&live_lock);
	if (m->prev)
		m->prev->next = m->next;
	else
		live_head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	pthread_mutex_unlock(&live_lock);
}

long cf_mem_debug_live(void)
{
	const struct mem *m;
	long n = 0;

	pthread_mutex_lock(&live_lock);
	for (m = live_head; m; m = m->next)
		n++;
	pthread_mutex_unlock(&live_lock);
	return n;
}

void cf_mem_debug_dump(void)
{
	const struct mem *m;

	pthread_mutex_lock(&live_lock);
	for (m = live_head; m; m = m->next)
		fprintf(stderr, "cf_mem: live %p size %zu refs %u dh %p\n",
		        (const void *)((const char *)m + HDR_SIZE), m->size,
		        atomic_load(&m->nrefs),
		        m->dh ? (void *)(uintptr_t)m->dh : NULL);
	pthread_mutex_unlock(&live_lock);
}

static void check(const struct mem *m, const char *what)
{
	if (m->magic == MEM_MAGIC && atomic_load(&m->nrefs) > 0)
		return;
	fprintf(stderr, "cf_mem: %s of a bad block %p (magic %08x)\n", what,
	        (const void *)m, m->magic);
	abort();
}
#else
long cf_mem_debug_live(void)
{
	return -1;
}

void cf_mem_debug_dump(void)
{
}

static void live_add(struct mem *m)
{
	(void)m;
}
static void live_del(struct mem *m)
{
	(void)m;
}
static void check(const struct mem *m, const char *what)
{
	(void)m;
	(void)what;
}
#endif

static inline struct mem *hdr_of(const void *data)
{
	return (struct mem *)(void *)((char *)(uintptr_t)data - HDR_SIZE);
}

/* Called by every allocation in src/core before it allocates. */
bool cf_mem_inject_fail(void)
{
	long n = atomic_load_explicit(&fail_n, memory_order_relaxed);

	if (n <= 0)
		return false;
	return atomic_fetch_sub(&fail_n, 1) == 1;
}

void cf_mem_fail_after(long n)
{
	atomic_store(&fail_n, n > 0 ? n : 0);
}

long cf_mem_blocks(void)
{
	return atomic_load_explicit(&nblocks, memory_order_relaxed);
}

/* Allocate a block with one reference. Callers: everyone. NULL on ENOMEM. */
void *cf_mem_alloc(size_t size, cf_mem_destroy_h *dh)
{
	struct mem *m;

	if (size > SIZE_MAX - HDR_SIZE || cf_mem_inject_fail())
		return NULL;
	m = malloc(HDR_SIZE + size);
	if (!m)
		return NULL;
	atomic_init(&m->nrefs, 1);
	m->dh = dh;
	m->size = size;
#ifdef CF_MEM_DEBUG
	m->magic = MEM_MAGIC;
#endif
	live_add(m);
	atomic_fetch_add_explicit(&nblocks, 1, memory_order_relaxed);
	return (char *)m + HDR_SIZE;
}

void *cf_mem_zalloc(size_t size, cf_mem_destroy_h *dh)
{
	void *p = cf_mem_alloc(size, dh);

	if (p)
		memset(p, 0, size);
	return p;
}

/* Resize a block that only the caller references (nrefs == 1); on failure
 * (ENOMEM or shared block) returns NULL and the block is unchanged. */
void *cf_mem_realloc(void *data, size_t size)
{
	struct mem *m, *m2;

	if (!data)
		return cf_mem_alloc(size, NULL);
	m = hdr_of(data);
	check(m, "realloc");
	if (atomic_load(&m->nrefs) != 1 || size > SIZE_MAX - HDR_SIZE ||
	    cf_mem_inject_fail())
		return NULL;
	live_del(m);
	m2 = realloc(m, HDR_SIZE + size);
	if (!m2) {
		live_add(m);
		return NULL;
	}
	m2->size = size;
	live_add(m2);
	return (char *)m2 + HDR_SIZE;
}

void *cf_mem_ref(void *data)
{
	struct mem *m;

	if (!data)
		return NULL;
	m = hdr_of(data);
	check(m, "ref");
	atomic_fetch_add_explicit(&m->nrefs, 1, memory_order_relaxed);
	return data;
}

/* Drop one reference. The last one runs the destructor (which may deref
 * other blocks) and frees the block. Acquire/release ordering makes the
 * destructor see every write made by threads that dropped earlier refs. */
void *cf_mem_deref(void *data)
{
	struct mem *m;

	if (!data)
		return NULL;
	m = hdr_of(data);
	check(m, "deref");
	if (atomic_fetch_sub_explicit(&m->nrefs, 1, memory_order_acq_rel) != 1)
		return NULL;
	if (m->dh)
		m->dh(data);
	live_del(m);
#ifdef CF_MEM_DEBUG
	m->magic = MEM_DEAD;
#endif
	atomic_fetch_sub_explicit(&nblocks, 1, memory_order_relaxed);
	free(m);
	return NULL;
}

uint32_t cf_mem_nrefs(const void *data)
{
	if (!data)
		return 0;
	return atomic_load(&hdr_of(data)->nrefs);
}

char *cf_mem_strdup(const char *s)
{
	size_t n;
	char *d;

	if (!s)
		return NULL;
	n = strlen(s);
	d = cf_mem_alloc(n + 1, NULL);
	if (d)
		memcpy(d, s, n + 1);
	return d;
}
