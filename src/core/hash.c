/* SPDX-License-Identifier: BSD-3-Clause */
/* hash.c - chained hash tables (power-of-two buckets) and FNV-1a hashes. */
#include <errno.h>

#include "core/core.h"

enum {
	HASH_MIN = 16,
	HASH_MAX = 1 << 24, /* a named limit: 16M buckets */
};

struct cf_hash {
	struct cf_list *bucket;
	uint32_t mask;
};

/* Unlinks every element (their owners keep them) so a later cf_hash_unlink
 * on an element never touches freed bucket memory. */
static void destructor(void *data)
{
	struct cf_hash *h = data;

	cf_hash_flush(h, false);
	cf_mem_deref(h->bucket);
}

/* bucket_hint is rounded up to a power of two within [16, 2^24]. The caller
 * owns the reference. ENOMEM. */
int cf_hash_alloc(struct cf_hash **hp, uint32_t bucket_hint)
{
	struct cf_hash *h;
	uint32_t n = HASH_MIN;
	int err = 0;

	if (!hp)
		return EINVAL;
	while (n < bucket_hint && n < HASH_MAX)
		n <<= 1;
	h = cf_mem_zalloc(sizeof(*h), destructor);
	if (!h)
		return ENOMEM;
	h->bucket = cf_mem_zalloc(n * sizeof(*h->bucket), NULL);
	if (!h->bucket) {
		err = ENOMEM;
		goto out;
	}
	h->mask = n - 1;
out:
	if (err)
		h = cf_mem_deref(h);
	else
		*hp = h;
	return err;
}

struct cf_list *cf_hash_bucket(const struct cf_hash *h, uint32_t key)
{
	return h ? &h->bucket[key & h->mask] : NULL;
}

void cf_hash_append(struct cf_hash *h, uint32_t key, struct cf_le *le,
                    void *data)
{
	if (h)
		cf_list_append(cf_hash_bucket(h, key), le, data);
}

void cf_hash_unlink(struct cf_le *le)
{
	cf_list_unlink(le);
}

/* Cost: the length of one bucket. */
struct cf_le *cf_hash_lookup(const struct cf_hash *h, uint32_t key,
                             cf_list_apply_h *h_cb, void *arg)
{
	return h ? cf_list_apply(cf_hash_bucket(h, key), h_cb, arg) : NULL;
}

/* O(buckets + elements). */
struct cf_le *cf_hash_apply(const struct cf_hash *h, cf_list_apply_h *h_cb,
                            void *arg)
{
	struct cf_le *le;
	uint32_t i;

	if (!h || !h_cb)
		return NULL;
	for (i = 0; i <= h->mask; i++) {
		le = cf_list_apply(&h->bucket[i], h_cb, arg);
		if (le)
			return le;
	}
	return NULL;
}

void cf_hash_flush(struct cf_hash *h, bool deref)
{
	uint32_t i;

	if (!h || !h->bucket)
		return;
	for (i = 0; i <= h->mask; i++)
		cf_list_flush(&h->bucket[i], deref);
}

/* O(buckets): elements unlink themselves, so no global count is kept. */
size_t cf_hash_count(const struct cf_hash *h)
{
	size_t n = 0;
	uint32_t i;

	if (!h)
		return 0;
	for (i = 0; i <= h->mask; i++)
		n += h->bucket[i].n;
	return n;
}

/* FNV-1a, 32 bits (constants don't fit an int enum). */
static const uint32_t FNV_OFFSET = 2166136261u;
static const uint32_t FNV_PRIME = 16777619u;

uint32_t cf_hash_mem(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t x = FNV_OFFSET;

	while (s && n--) {
		x ^= *s++;
		x *= FNV_PRIME;
	}
	return x;
}

/*
 * murmur3's finaliser (fmix32): every input bit reaches every output bit.
 * FNV-1a's low bits are weak (bit 0 is the parity of the bytes' bit 0), and
 * both the worker of a Call-ID (`% workers`) and a transaction's bucket
 * (`& mask`) take low bits: with keys that differ in a counter (SIPp's
 * Call-IDs and branches both carry the call number) each worker used half
 * its buckets. Mixed first, they spread evenly. A bijection: no new
 * collisions.
 */
uint32_t cf_hash_mix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* Folds ASCII A-Z only, matching cf_pl_casecmp. */
uint32_t cf_hash_mem_ci(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t x = FNV_OFFSET;

	while (s && n--) {
		unsigned c = *s++;

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		x ^= c;
		x *= FNV_PRIME;
	}
	return x;
}
