/* SPDX-License-Identifier: BSD-3-Clause */
/* reg_priv.h - internals of the registrar: bindings, the location table,
 * the write-behind queue, settings and counters. */
#ifndef CF_REG_PRIV_H
#define CF_REG_PRIV_H

#include <pthread.h>
#include <stdatomic.h>

#include "mod/registrar/registrar.h"
#include "store/store.h"

enum {
	REG_STRIPES = 256,           /* locks of the location table */
	REG_BUCKETS = 1 << 16,       /* its buckets (a multiple of STRIPES) */
	REG_CONTACTS_HARD_MAX = 256, /* bound on max_contacts */
	REG_AOR_MAX = 512,           /* bytes of a normalised AOR */
	REG_GRUU_KEY = 32,           /* bytes of the temp-GRUU key */
	REG_RETRANS_S = 32,          /* 64*T1: a REGISTER's retransmissions */
};

/* An address in 20 bytes instead of a struct cf_sa's 132. */
struct reg_addr {
	uint8_t ip[16];
	uint16_t port;
	uint8_t family; /* 0 none, 4, 6 */
	uint8_t tp;     /* enum cf_sip_tp */
};

/* An AOR with bindings; refcounted (each binding holds a reference, the
 * table one while the AOR has bindings). */
struct reg_aor {
	struct cf_le le; /* in the table's bucket */
	struct cf_list bindings;
	uint32_t hash;
	uint16_t len;
	char name[]; /* "sip:user@domain", NUL-terminated */
};

enum reg_str {
	RS_CONTACT = 0,
	RS_CALL_ID,
	RS_PATH,
	RS_INSTANCE,
	RS_UA,
	RS__COUNT,
};

enum reg_flags {
	RB_OUTBOUND = 1, /* reg-id + instance, first hop: a flow */
};

/*
 * One binding: immutable once in the table (a refresh puts a new one in
 * its place), so the write-behind thread holds a reference without a
 * lock. Strings are packed after the struct in one allocation.
 */
struct reg_binding {
	struct cf_le le;          /* in aor->bindings */
	struct cf_le le_conn;     /* in the flow table when conn is set */
	struct reg_aor *aor;      /* a reference */
	struct cf_sip_conn *conn; /* outbound stream flow (a reference) */
	int64_t expires;          /* absolute wall seconds */
	uint64_t seq;             /* registration order (oldest first) */
	uint32_t cseq;
	uint32_t reg_id;
	uint32_t at; /* wall seconds it was registered; 0: restored */
	int16_t q;   /* x1000, -1 absent */
	uint16_t flags;
	struct reg_addr src, local;
	uint16_t off[RS__COUNT];
	uint16_t len[RS__COUNT];
	char s[];
};

static inline struct cf_pl reg_str(const struct reg_binding *b, enum reg_str i)
{
	return (struct cf_pl){b->len[i] ? b->s + b->off[i] : NULL, b->len[i]};
}

/* Settings, read at init (and reload for the live ones). */
struct reg_cfg {
	uint32_t default_expires;
	uint32_t min_expires;
	uint32_t max_expires;
	uint32_t max_contacts;
	bool replace_oldest;
	bool authenticate;
	bool gruu;
	bool outbound;
	uint32_t write_behind_ms;
};

typedef _Atomic uint64_t reg_ctr;

struct reg_counters {
	reg_ctr registrations, refreshes, removals, expired, flows_failed,
	    replaced, rejected, contacts, aors, wb_queued, wb_written,
	    wb_errors;
};

/* The write-behind queue (wb.c). */
enum reg_wb_op {
	WB_UPSERT = 0,
	WB_DELETE,
};

struct reg_wb;

/* The registrar's state: one per init..stop. */
struct reg {
	struct reg_cfg cfg; /* under cfg_mtx: reload changes it */
	pthread_mutex_t cfg_mtx;
	struct cf_hash *table;
	pthread_mutex_t stripe[REG_STRIPES];
	pthread_mutex_t flow_mtx; /* the flow table (bindings by conn) */
	struct cf_hash *flows;
	struct reg_wb *wb; /* NULL: no store */
	struct reg_counters ctr;
	_Atomic uint64_t seq;
	uint8_t gruu_key[REG_GRUU_KEY];
	struct cf_app *app;
};

/* registrar.c: the current state with its read lock held (NULL, and no
 * lock held, when not running); reg_put releases it. Wall seconds now
 * (or the test clock). */
struct reg *reg_get(void);
void reg_put(void);
int64_t reg_now(void);

/* loc.c */
int reg_loc_init(struct reg *r);
void reg_loc_close(struct reg *r);
pthread_mutex_t *reg_lock(struct reg *r, uint32_t hash);
/* Normalise an AOR URI into buf ("sip:user@host"): EINVAL when it is not a
 * sip/sips URI with a user part. domain: when not NULL, replaces the host. */
int reg_aor_norm(char *buf, size_t size, const struct cf_sip_uri *u,
                 const char *domain);
/* Find (lock held) the AOR; NULL when it has no bindings. */
struct reg_aor *reg_aor_find(struct reg *r, const char *aor, size_t len,
                             uint32_t hash);
/* Find or create (lock held). NULL on ENOMEM. */
struct reg_aor *reg_aor_get(struct reg *r, const char *aor, size_t len,
                            uint32_t hash);
/* Put b in aor's list (lock held; takes the caller's reference), and in the
 * flow table if it has a conn. */
void reg_binding_link(struct reg *r, struct reg_aor *aor,
                      struct reg_binding *b);
/* Take b out (lock held), queue its delete when wb, and drop the table's
 * reference. The AOR stays in the table: reg_aor_gc afterwards. */
void reg_binding_unlink(struct reg *r, struct reg_binding *b, bool wb);
/* Take the AOR out of the table when it has no binding left (lock held). */
void reg_aor_gc(struct reg *r, struct reg_aor *a);
/* Build a binding. strs: the packed strings. NULL on ENOMEM/too long. */
struct reg_binding *reg_binding_alloc(struct reg_aor *aor,
                                      const struct cf_pl strs[RS__COUNT]);
void reg_binding_view(const struct reg_binding *b, struct cf_reg_contact *c);
void reg_addr_set(struct reg_addr *a, enum cf_sip_tp tp,
                  const struct cf_sa *sa);
void reg_addr_get(const struct reg_addr *a, struct cf_sa *sa);
/* "udp:1.2.3.4:5060", or "" when unset */
void reg_addr_print(const struct reg_addr *a, char *buf, size_t size);
int reg_addr_decode(struct reg_addr *a, const char *s);
uint32_t reg_hash(const char *aor, size_t len);
/* Remove the bindings expired at now; how many. */
size_t reg_loc_sweep(struct reg *r, int64_t now);
/* The bindings of aor (NULL: of every AOR) appended to arr. */
int reg_loc_json(struct reg *r, const char *aor, json_t *arr);
json_t *reg_binding_json(const struct reg_binding *b, int64_t now);

/* wb.c */
int reg_wb_alloc(struct reg_wb **wbp, struct reg *r, struct cf_store *st,
                 uint32_t interval_ms);
void reg_wb_stop(struct reg_wb *wb); /* flush, join, free */
void reg_wb_queue(struct reg_wb *wb, enum reg_wb_op op, struct reg_binding *b);
int reg_wb_flush(struct reg_wb *wb);
/* Load unexpired bindings into r's table (at init). */
int reg_wb_restore(struct reg *r, struct cf_store *st);

/* gruu.c */
/* The temp-GRUU user part for (aor, instance): "tgr-" + base64url of an
 * encrypted, authenticated blob. 0, ENOMEM, EINVAL (too long). */
int reg_gruu_temp(struct reg *r, char *buf, size_t size, const char *aor,
                  const struct cf_pl *instance);
/* Back from a temp-GRUU user part: aor and instance into their buffers.
 * ENOENT when not ours or tampered with. */
int reg_gruu_temp_decode(struct reg *r, const struct cf_pl *user, char *aor,
                         size_t aor_size, char *inst, size_t inst_size);

/* register.c */
bool reg_register(struct reg *r, struct cf_app *app, struct cf_sip_strans *st,
                  const struct cf_sip_msg *msg, const struct cf_sip_peer *peer);

static inline void reg_ctr_add(reg_ctr *c, int64_t n)
{
	atomic_fetch_add_explicit(c, (uint64_t)n, memory_order_relaxed);
}

#endif
