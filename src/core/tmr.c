/* SPDX-License-Identifier: BSD-3-Clause */
/* tmr.c - hierarchical timer wheel: 4 levels x 256 slots, 1 ms ticks. */
#include <errno.h>
#include <string.h>

#include "core/core.h"

/*
 * The classic cascading wheel (as in Kamailio and the pre-4.8 Linux kernel).
 * Level L (0..3) has 256 slots of 256^L ms each; level 0 holds the timers
 * due in the next 256 ms (one slot per millisecond), level 1 the next ~65 s,
 * level 2 the next ~4.7 h and level 3 the next ~49.7 days; a timer further
 * out is parked in level 3 at the horizon and re-placed when it cascades.
 *
 * `next_tick` is the first millisecond not processed yet; outside of
 * cf_tmr_wheel_advance it is always now + 1. A timer is placed by its
 * distance to next_tick; when the level-0 index wraps to 0, the current slot
 * of level 1 is cascaded (its timers are re-placed, landing in lower
 * levels), and so on up the levels whose index wrapped too.
 *
 * Costs: start and cancel are O(1) (a start that lands in a level-0 slot
 * holding timers started later, which only happens on cascade, walks back
 * over those to keep start order); a cascade moves each timer at most once
 * per level; advancing jumps (with per-level bitmaps of non-empty slots)
 * straight to the next tick where a slot fires or a non-empty slot
 * cascades, so an advance costs O(timers fired + cascades), not O(time).
 *
 * Timers due at or before `now` when started (delay 0) go to a due list,
 * fired at the start of the next cf_tmr_wheel_advance, or, when started by
 * a handler during one, right after the batch of that tick. A handler
 * re-arming itself with delay 0 fires at most once per batch, never in an
 * endless loop.
 *
 * Equal expiries fire in start order: every level-0 slot holds timers of
 * one expiry only, kept sorted by their start sequence number.
 */

enum {
	LEVELS = 4,
	SLOT_BITS = 8,
	SLOTS = 1 << SLOT_BITS,
	SLOT_MASK = SLOTS - 1,
	WORDS = SLOTS / 64,
};

/* the furthest distance a timer is placed at; further ones are re-placed */
#define HORIZON ((uint64_t)UINT32_MAX)

struct cf_tmr_wheel {
	struct cf_list slot[LEVELS][SLOTS];
	uint64_t bits[LEVELS][WORDS]; /* non-empty slots */
	struct cf_list due;
	uint64_t now;
	uint64_t next_tick;
	uint64_t seq;
	size_t count;
};

static void destructor(void *data)
{
	struct cf_tmr_wheel *w = data;
	struct cf_le *le;
	int l, s;

	/* Leave the timers stopped, so their owners may still cancel them. */
	for (l = 0; l < LEVELS; l++)
		for (s = 0; s < SLOTS; s++)
			while ((le = w->slot[l][s].head))
				cf_list_unlink(le);
	while ((le = w->due.head))
		cf_list_unlink(le);
}

/* One wheel per loop (cf_loop_alloc); tests make their own with a fake
 * clock. The caller owns the reference. ENOMEM. */
int cf_tmr_wheel_alloc(struct cf_tmr_wheel **wp, uint64_t now_ms)
{
	struct cf_tmr_wheel *w;

	if (!wp)
		return EINVAL;
	w = cf_mem_zalloc(sizeof(*w), destructor);
	if (!w)
		return ENOMEM;
	w->now = now_ms;
	w->next_tick = now_ms + 1;
	*wp = w;
	return 0;
}

static inline void bit_set(uint64_t *bm, unsigned i)
{
	bm[i >> 6] |= 1ULL << (i & 63);
}

static inline void bit_clr(uint64_t *bm, unsigned i)
{
	bm[i >> 6] &= ~(1ULL << (i & 63));
}

static inline bool bit_get(const uint64_t *bm, unsigned i)
{
	return bm[i >> 6] & (1ULL << (i & 63));
}

/* First set index >= from (no wrap), or SLOTS. */
static unsigned bit_next(const uint64_t *bm, unsigned from)
{
	unsigned wi = from >> 6;
	uint64_t word;

	if (from >= SLOTS)
		return SLOTS;
	word = bm[wi] & (~0ULL << (from & 63));
	for (;;) {
		if (word)
			return (wi << 6) | (unsigned)__builtin_ctzll(word);
		if (++wi == WORDS)
			return SLOTS;
		word = bm[wi];
	}
}

/* First set index in circular order starting at from, or -1. */
static int bit_next_circ(const uint64_t *bm, unsigned from)
{
	unsigned i = bit_next(bm, from);

	if (i < SLOTS)
		return (int)i;
	i = bit_next(bm, 0);
	return i < from ? (int)i : -1;
}

/* Level 0: keep start order among equal expiries (the whole slot). */
static void slot_insert_sorted(struct cf_list *list, struct cf_tmr *t)
{
	struct cf_le *le = list->tail;

	while (le && ((struct cf_tmr *)le->data)->seq > t->seq)
		le = le->prev;
	cf_list_insert_after(list, le, &t->le, t);
}

static void place(struct cf_tmr_wheel *w, struct cf_tmr *t)
{
	uint64_t e = t->expires, idx;
	unsigned l, s;

	if (e < w->next_tick) {
		cf_list_append(&w->due, &t->le, t);
		return;
	}
	idx = e - w->next_tick;
	if (idx > HORIZON) {
		idx = HORIZON;
		e = w->next_tick + HORIZON;
	}
	if (idx < (1ULL << 8))
		l = 0;
	else if (idx < (1ULL << 16))
		l = 1;
	else if (idx < (1ULL << 24))
		l = 2;
	else
		l = 3;
	s = (unsigned)(e >> (l * SLOT_BITS)) & SLOT_MASK;
	if (l == 0)
		slot_insert_sorted(&w->slot[0][s], t);
	else
		cf_list_append(&w->slot[l][s], &t->le, t);
	bit_set(w->bits[l], s);
}

/* Re-place every timer of slot s of level l; returns s. */
static unsigned cascade(struct cf_tmr_wheel *w, unsigned l, unsigned s)
{
	struct cf_list tmp;
	struct cf_le *le;

	cf_list_init(&tmp);
	while ((le = w->slot[l][s].head)) {
		cf_list_unlink(le);
		cf_list_append(&tmp, le, le->data);
	}
	bit_clr(w->bits[l], s);
	while ((le = tmp.head)) {
		cf_list_unlink(le);
		place(w, le->data);
	}
	return s;
}

/* Unlink t from wherever it is (slot, due list or a firing batch). */
static void detach(struct cf_tmr *t)
{
	struct cf_tmr_wheel *w = t->wheel;
	struct cf_list *list = t->le.list;
	uintptr_t first = (uintptr_t)&w->slot[0][0];
	uintptr_t at = (uintptr_t)list;

	cf_list_unlink(&t->le);
	w->count--;
	if (at >= first && at < first + sizeof(w->slot) && !list->n) {
		size_t i = (at - first) / sizeof(struct cf_list);

		bit_clr(w->bits[i / SLOTS], (unsigned)(i % SLOTS));
	}
}

/* Fire a batch; handlers may cancel timers still in it (they unlink from
 * the batch list) or start any timer (it goes to the wheel, not here). */
static void fire(struct cf_tmr_wheel *w, struct cf_list *batch)
{
	struct cf_le *le;

	while ((le = batch->head)) {
		struct cf_tmr *t = le->data;

		cf_list_unlink(le);
		w->count--;
		t->h(t->arg);
	}
}

static void take(struct cf_list *dst, struct cf_list *src)
{
	struct cf_le *le;

	while ((le = src->head)) {
		cf_list_unlink(le);
		cf_list_append(dst, le, le->data);
	}
}

/* Lower bound of the first expiry at level l (>= 1): the tick at which its
 * earliest non-empty slot cascades. UINT64_MAX when the level is empty.
 * The current slot comes first if its cascade is still to run (next_tick
 * is on a boundary of this level), else last: it holds timers a whole
 * round of this level ahead. */
static uint64_t level_next(const struct cf_tmr_wheel *w, unsigned l)
{
	unsigned shift = l * SLOT_BITS;
	uint64_t base = w->next_tick >> shift;
	unsigned cur = (unsigned)base & SLOT_MASK;
	bool pending = !(w->next_tick & ((1ULL << shift) - 1));
	int s =
	    bit_next_circ(w->bits[l], pending ? cur : (cur + 1) & SLOT_MASK);
	uint64_t delta;

	if (s < 0)
		return UINT64_MAX;
	delta = ((unsigned)s - cur) & SLOT_MASK;
	if (!delta && pending)
		return w->next_tick;
	if (!delta)
		delta = SLOTS;
	return (base + delta) << shift;
}

/* The first tick >= next_tick at which anything happens: a level-0 slot
 * fires (exact) or a non-empty higher slot cascades (a lower bound of its
 * timers' expiries). Ignores the due list. UINT64_MAX if nothing. O(1):
 * four bitmap scans of four words. */
static uint64_t next_event(const struct cf_tmr_wheel *w)
{
	unsigned l, cur = (unsigned)w->next_tick & SLOT_MASK;
	uint64_t best = UINT64_MAX, e;
	int s = bit_next_circ(w->bits[0], cur);

	if (s >= 0)
		best = w->next_tick + (((unsigned)s - cur) & SLOT_MASK);
	for (l = 1; l < LEVELS; l++) {
		e = level_next(w, l);
		if (e < best)
			best = e;
	}
	return best;
}

/* Called by the loop after every wait with cf_clock_ms(), or by tests with
 * a fake clock. A clock going backwards is treated as standing still. */
void cf_tmr_wheel_advance(struct cf_tmr_wheel *w, uint64_t now_ms)
{
	struct cf_list batch;

	if (!w)
		return;
	if (now_ms < w->now)
		now_ms = w->now;
	cf_list_init(&batch);
	take(&batch, &w->due);
	fire(w, &batch);

	while (w->next_tick <= now_ms) {
		uint64_t t = w->next_tick;
		unsigned i = (unsigned)t & SLOT_MASK;

		if (w->count == 0) {
			w->next_tick = now_ms + 1;
			break;
		}
		if (i == 0 && !cascade(w, 1, (unsigned)(t >> 8) & SLOT_MASK) &&
		    !cascade(w, 2, (unsigned)(t >> 16) & SLOT_MASK))
			cascade(w, 3, (unsigned)(t >> 24) & SLOT_MASK);
		if (!bit_get(w->bits[0], i)) {
			/* Nothing fires at t: jump to the next tick where a
			 * slot fires or a non-empty slot cascades (skipped
			 * boundaries would only cascade empty slots). The
			 * cascade at t is done, so a slot a round ahead is
			 * reported as t: move at least one tick. */
			uint64_t nt = next_event(w);

			if (nt <= t)
				nt = t + 1;
			w->next_tick = nt <= now_ms ? nt : now_ms + 1;
			w->now = w->next_tick - 1;
			continue;
		}
		w->next_tick = t + 1;
		w->now = t;
		take(&batch, &w->slot[0][i]);
		bit_clr(w->bits[0], i);
		fire(w, &batch);
		/* delay-0 timers started by this tick's handlers are due at
		 * this tick: fire them before the next one (once per tick) */
		take(&batch, &w->due);
		fire(w, &batch);
	}
	w->now = now_ms;
}

/* Exact for timers in level 0 (< 256 ms), a lower bound (the cascade tick)
 * for further ones, so a loop sleeping this long never oversleeps: it wakes
 * at the cascade, and the next call is exact. O(levels). */
uint64_t cf_tmr_wheel_next(const struct cf_tmr_wheel *w)
{
	uint64_t best;

	if (!w || !w->count)
		return UINT64_MAX;
	if (w->due.n)
		return 0;
	best = next_event(w);
	if (best == UINT64_MAX)
		return UINT64_MAX;
	return best > w->now ? best - w->now : 0;
}

uint64_t cf_tmr_wheel_now(const struct cf_tmr_wheel *w)
{
	return w ? w->now : 0;
}

size_t cf_tmr_wheel_count(const struct cf_tmr_wheel *w)
{
	return w ? w->count : 0;
}

void cf_tmr_init(struct cf_tmr *t)
{
	if (t)
		memset(t, 0, sizeof(*t));
}

/* Restarting a running timer cancels it first. The wheel must outlive the
 * running timer (owners cancel in their destructor). */
void cf_tmr_start(struct cf_tmr_wheel *w, struct cf_tmr *t, uint64_t delay_ms,
                  cf_tmr_h *h, void *arg)
{
	if (!w || !t || !h)
		return;
	cf_tmr_cancel(t);
	t->h = h;
	t->arg = arg;
	t->wheel = w;
	t->expires =
	    delay_ms > UINT64_MAX - w->now ? UINT64_MAX : w->now + delay_ms;
	t->seq = w->seq++;
	w->count++;
	place(w, t);
}

void cf_tmr_cancel(struct cf_tmr *t)
{
	if (!t || !t->le.list || !t->wheel)
		return;
	detach(t);
}

bool cf_tmr_isrunning(const struct cf_tmr *t)
{
	return t && t->le.list != NULL;
}

uint64_t cf_tmr_left(const struct cf_tmr *t)
{
	if (!cf_tmr_isrunning(t) || !t->wheel)
		return 0;
	return t->expires > t->wheel->now ? t->expires - t->wheel->now : 0;
}
