/* SPDX-License-Identifier: BSD-3-Clause */
/* registrar.h - the registrar module (RFC 3261 §10.3, Path RFC 3327,
 * outbound RFC 5626, GRUU RFC 5627) and its location service API. */
#ifndef CF_MOD_REGISTRAR_H
#define CF_MOD_REGISTRAR_H

#include <jansson.h>

#include "mod/mod.h"

extern const struct cf_mod cf_mod_registrar;

/*
 * The location service lives in memory: a hash table keyed by the AOR
 * ("sip:user@domain", host in lower case, user unescaped) with striped
 * locks. Every call below is thread-safe, costs one bucket walk plus the
 * AOR's bindings, never touches the store, and never blocks on I/O.
 *
 * Handlers get a struct cf_reg_contact whose slices point into the binding
 * and are valid only during the call; they run with the AOR's stripe lock
 * held, so they must not call back into the registrar and must be quick
 * (copy what they need). Calls made before init or after stop return
 * ENOENT.
 */

/* One binding as seen by the lookups. */
struct cf_reg_contact {
	struct cf_pl aor;      /* the AOR it is bound to */
	struct cf_pl uri;      /* the Contact URI exactly as registered */
	struct cf_pl path;     /* Path values, comma separated, or unset */
	struct cf_pl instance; /* +sip.instance value ("<urn:...>"), or unset */
	struct cf_pl call_id;
	struct cf_pl user_agent;
	uint32_t reg_id; /* RFC 5626 reg-id, 0 when none */
	uint32_t cseq;
	int q;           /* q x 1000, -1 when the contact had none */
	int64_t expires; /* absolute wall-clock time (s since the epoch) */
	/* Where the REGISTER came from: the flow (RFC 5626 §5.2) that requests
	 * to this contact should go back over when it is an outbound one. */
	struct cf_sip_peer peer; /* peer.conn: the stream (no reference:
	                          * cf_mem_ref it to keep it), or NULL */
	bool outbound; /* registered with outbound (reg-id + instance) */
};

typedef bool(cf_reg_contact_h)(const struct cf_reg_contact *c, void *arg);

/*
 * Every unexpired binding of aor (an AOR "sip:user@domain"; a URI with
 * parameters or a port is normalised first), highest q first (absent q
 * counts as 1.0; equal q: most recently registered first), until h
 * returns true. Any thread. Returns 0, ENOENT (no binding), EINVAL.
 */
int cf_registrar_lookup(const struct cf_pl *aor, cf_reg_contact_h *h,
                        void *arg);

/*
 * The binding a GRUU (RFC 5627) designates: a public GRUU
 * ("sip:alice@example.com;gr=urn:uuid:...") or a temporary one as handed
 * out in the 200 (an opaque user part, ";gr" flag). h is called once.
 * Any thread. 0, ENOENT (not a GRUU of a current binding), EINVAL.
 */
int cf_registrar_lookup_gruu(const struct cf_pl *gruu, cf_reg_contact_h *h,
                             void *arg);

/*
 * The flow of an outbound registration (RFC 5626 §6): the binding of aor
 * with this +sip.instance and reg-id; h is called once and reads
 * c->peer (transport, address, local socket, and the stream connection
 * when the flow is a TCP one and still open). Any thread. 0, ENOENT.
 */
int cf_registrar_flow(const struct cf_pl *aor, const struct cf_pl *instance,
                      uint32_t reg_id, cf_reg_contact_h *h, void *arg);

/*
 * The bindings of one AOR as a JSON array of objects (aor, contact, q,
 * expires (seconds left), call_id, cseq, received, path, instance, reg_id,
 * user_agent, socket), appended to arr. For confabctl `user show` and
 * `location show`. Any thread (the daemon's control commands run on the
 * main thread). 0, ENOMEM, EINVAL. No binding: 0 and nothing appended.
 */
int cf_registrar_bindings_json(const char *aor, json_t *arr);

/* Counters (cumulative since start, but `contacts` and `aors`: current). */
struct cf_registrar_stats {
	uint64_t registrations; /* new bindings */
	uint64_t refreshes;     /* bindings re-registered */
	uint64_t removals;      /* bindings removed by REGISTER (Expires 0) */
	uint64_t expired;       /* bindings removed by time */
	uint64_t flows_failed;  /* bindings removed when their stream closed */
	uint64_t replaced;      /* removed by max_contacts or an outbound
	                         * registration with the same instance/reg-id */
	uint64_t rejected;      /* REGISTERs answered with an error */
	uint64_t contacts;      /* current bindings */
	uint64_t aors;          /* current AORs with at least one binding */
	uint64_t wb_queued;     /* changes waiting for the write-behind */
	uint64_t wb_written;    /* changes written to the store */
	uint64_t wb_errors;     /* store batches that failed */
};
void cf_registrar_stats(struct cf_registrar_stats *st);

/* ------------------------------------------------------ test hooks */

/* Fake wall clock (seconds since the epoch) for unit tests; 0: the real
 * clock. */
void cf_registrar_test_clock(int64_t now_s);
/* Remove every binding expired at the current (possibly fake) time, as the
 * once-a-second sweep does; returns how many. */
size_t cf_registrar_sweep(void);
/* Write every queued change to the store now and wait until it is
 * written (the write-behind thread does it). 0 or the store's error. */
int cf_registrar_flush(void);
/* A stream connection closed (what the src/sip observer calls): remove the
 * outbound bindings whose flow it was. */
void cf_registrar_conn_closed(struct cf_sip_conn *conn);

#endif
