/* SPDX-License-Identifier: BSD-3-Clause */
/* stack_priv.h - internals shared by the stack, worker, UDP, TCP and TLS
 * files of the transport layer (not for the transaction files or modules). */
#ifndef CF_SIP_STACK_PRIV_H
#define CF_SIP_STACK_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "sip/sip.h"

enum {
	UDP_BATCH = 32,                 /* datagrams per recvmmsg call */
	UDP_BATCHES_PER_WAKEUP = 8,     /* then yield to the loop (fairness) */
	UDP_RCVBUF = 4 * 1024 * 1024,   /* SO_RCVBUF asked for UDP listeners */
	TCP_ACCEPT_BURST = 64,          /* accepts per wake-up */
	TCP_RBUF_INIT = 4096,           /* first receive buffer of a stream */
	TCP_READS_PER_WAKEUP = 16,      /* then yield to the loop (fairness) */
	TCP_WBUF_MAX = 4 * 1024 * 1024, /* unsent bytes before we give up */
	UDP_TXQ_BYTES = 256 * 1024,     /* bytes queued for one sendmmsg */
	LISTENERS_MAX = 16,             /* cf_sip_listen calls per stack */
};

/* Counters a worker updates without atomics' read-modify-write cost: only
 * the owning thread writes (load + store, relaxed); readers sum them. */
typedef _Atomic uint64_t ctr_t;

struct wstats {
	ctr_t rx_msgs; /* messages decoded by this worker's sockets */
	ctr_t handled; /* messages given to this worker's transactions */
	ctr_t tx_msgs;
	ctr_t tx_drops; /* queued UDP sends the kernel refused */
	ctr_t rx_bytes;
	ctr_t parse_errors;
	ctr_t oversize;
	ctr_t stream_garbage;
	ctr_t conns_refused;
	ctr_t keepalive_pongs;
	ctr_t ws_upgrades;
	ctr_t ws_refused;
	ctr_t ws_protocol_errors;
	ctr_t ws_oversize;
	ctr_t ws_pongs;
	ctr_t tls_handshakes;
	ctr_t tls_handshake_failures;
	ctr_t stun_bindings;
	ctr_t stun_errors;
};

static inline void ctr_add(ctr_t *c, uint64_t n)
{
	atomic_store_explicit(c,
	                      atomic_load_explicit(c, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

static inline uint64_t ctr_get(const ctr_t *c)
{
	return atomic_load_explicit((ctr_t *)c, memory_order_relaxed);
}

struct listener {
	enum cf_sip_tp tp;
	struct cf_sa addr; /* as bound (the real port when 0 was asked) */
	int fd;
};

struct worker {
	struct cf_sip *sip;
	uint32_t idx;
	char name[16];
	pthread_t thread;
	bool thread_started;
	bool releasing; /* worker_release: queued jobs are dropped */
	struct cf_loop *loop;
	struct cf_sip_txn_env *env;
	struct cf_mbox *mbox;
	struct cf_list conns; /* streams owned by this worker */
	struct cf_tmr probe;  /* while stopping: publish txn count */
	_Atomic size_t txn_count;
	struct wstats st;
	struct cf_sip_txn_stats txn_done; /* of envs already freed */

	/* recvmmsg state: UDP_BATCH slots of max_msg + 1 bytes each */
	uint8_t *rxbuf;
	struct mmsghdr *mmsg;
	struct iovec *iov;
	struct sockaddr_storage *from;

	struct txq *txq; /* UDP sends batched into one sendmmsg */
};

struct cf_sip {
	struct cf_sip_cfg cfg;
	struct cf_sip_txn_handlers uh;   /* the user's handlers */
	struct cf_sip_txn_handlers wrap; /* ours, around them (stop: 503) */
	struct listener lv[LISTENERS_MAX];
	size_t lc;
	struct worker *wv;
	uint32_t wc;
	bool started;
	atomic_bool stopping;

	/* running workers (start waits for all of them) */
	pthread_mutex_t run_mtx;
	pthread_cond_t run_cond;
	uint32_t running;

	/* connection table keyed by the remote address without port, so a
	 * bucket also answers "how many from this source address" */
	pthread_mutex_t ct_mtx;
	struct cf_hash *ct;
	_Atomic uint64_t conns_open;

	/* TLS contexts for new connections (tls.c), swapped by
	 * cf_sip_tls_set; a connection holds a reference to its own */
	pthread_mutex_t tls_mtx;
	struct tls_ctx *tls;

	/* counters for work done outside any worker thread */
	_Atomic uint64_t ext_tx_msgs;

	char *ws_origins; /* Origin allow-list, or NULL (any) */

	/* connection-closed observers (set before start, read after) */
	struct {
		cf_sip_conn_close_h *h;
		void *arg;
	} obs[CF_SIP_CONN_OBSERVERS];
	size_t nobs;
};

/* A connection. Owned by one worker: only that thread touches fd and
 * buffers. Others hold references and send via the owner's mailbox. */
struct ssl_st;

struct cf_sip_conn {
	struct cf_sip *sip;
	struct worker *owner;
	enum cf_sip_tp tp; /* TCP, TLS, WS or WSS (the listener's) */
	int fd;
	atomic_bool closed;
	bool connecting; /* outgoing, connect() in progress */
	bool fail_notify; /* outgoing and started: if it closes before it is
	                   * up, the owner's client transactions to its
	                   * address learn it (transport error) */
	bool accepted;   /* the peer opened it (else we did) */
	bool in_table;
	bool in_loop;
	struct ws_conn *ws; /* WebSocket state (ws.c), or NULL */
	struct cf_sa addr;  /* remote */
	struct cf_sa local; /* our end (the listener for accepted ones) */
	struct cf_le le_table;
	struct cf_le le_worker;
	struct cf_tmr idle;
	uint64_t last_ms; /* last traffic, on the owner's wheel clock */
	uint8_t *rbuf;
	size_t rsize, rlen;
	struct cf_mbuf wbuf; /* bytes not yet written, from wpos */
	size_t wpos;
	int events; /* CF_FD_* asked of the loop */

	/* TLS (tls.c): the session, the contexts it began with (a
	 * reference), and which way each side of it waits */
	struct ssl_st *ssl;
	struct tls_ctx *tctx;
	char *tls_host; /* the server name an outgoing one was opened for
	                 * (SNI, RFC 5922), or NULL; written once under
	                 * sip->ct_mtx, where conn_find reads it */
	bool hs_done;
	bool rd_want_write;  /* handshake or SSL_read wants POLLOUT */
	bool wr_want_write;  /* SSL_write / send wants POLLOUT */
	struct cf_tmr again; /* SSL holds decrypted bytes: read again */
};

/* Work handed to a worker through its mailbox. One allocation each. */
enum job_kind {
	JOB_MSG = 0, /* a decoded message for this worker's transactions */
	JOB_SEND,    /* bytes to write on a stream this worker owns/opens */
	JOB_STOP_ACCEPT,
};

struct job {
	struct cf_mbox_node node;
	enum job_kind kind;
	struct cf_sip_msg *msg;  /* JOB_MSG: one reference */
	struct cf_sip_peer peer; /* peer.conn: one reference, or NULL */
	size_t len;              /* JOB_SEND: bytes in data */
	size_t hostlen; /* JOB_SEND over TLS: SNI name after the bytes */
	uint8_t data[];
};

/* stack.c */
int tp_send(const struct cf_sip_peer *peer, const struct cf_pl *bytes,
            void *arg);
int tp_send_host(const struct cf_sip_peer *peer, const char *host,
                 const struct cf_pl *bytes, void *arg);
/* Test hook: messages given to worker idx's transactions so far. */
uint64_t cf_sip_worker_handled(const struct cf_sip *sip, uint32_t idx);

/* worker.c */
struct worker *worker_current(const struct cf_sip *sip);
int job_alloc(struct job **jp, enum job_kind kind, size_t len);
void worker_dispatch(struct worker *w, struct cf_sip_msg *msg,
                     const struct cf_sip_peer *peer);
int worker_start(struct worker *w);
void worker_mbox_h(struct cf_mbox_node *node, void *arg);
void worker_release(struct worker *w);
void worker_stats_add(const struct worker *w, struct cf_sip_stats *st);

/* sock.c */
/* The length of sa for bind/connect/sendto: sa->len, or the size of the
 * sockaddr of its family when unset. */
socklen_t sock_sa_len(const struct cf_sa *sa);
/* After bind: l->addr becomes the bound address of fd (the real port when
 * 0 was asked) and l->fd is fd. Returns 0 or getsockname's errno (then l
 * is untouched and fd still the caller's to close). */
int sock_listener_bound(struct listener *l, int fd);

/* udp.c */
int udp_listener_open(struct listener *l);
int udp_txq_alloc(struct worker *w);
void udp_txq_flush(struct worker *w);
void udp_recv_h(int fd, int events, void *arg);
int udp_send(struct cf_sip *sip, struct worker *w,
             const struct cf_sip_peer *peer, const struct cf_pl *bytes);

/* stun_udp.c: STUN Binding on the SIP UDP port (RFC 5626 §4.4.2). True
 * when the datagram was STUN (answered or dropped there). */
bool udp_stun(struct worker *w, const struct cf_sip_peer *peer,
              const uint8_t *p, size_t n);

/* tcp.c */
int tcp_listener_open(struct listener *l);
void tcp_accept_h(int fd, int events, void *arg);
void conn_fd_h(int fd, int events, void *arg);

/* ws.c */
int ws_conn_start(struct cf_sip_conn *conn);
void ws_conn_stop(struct cf_sip_conn *conn);
size_t ws_rbuf_cap(const struct cf_sip_conn *conn);
void ws_recv(struct worker *w, struct cf_sip_conn *conn);
int ws_send(struct worker *w, struct cf_sip_conn *conn, const uint8_t *p,
            size_t n);

/* conn.c */
int conn_alloc(struct cf_sip_conn **connp, struct worker *w, int fd,
               enum cf_sip_tp tp, const struct cf_sa *addr,
               const struct cf_sa *local, bool accepted);
void conn_touch(struct cf_sip_conn *conn);
void conn_idle_arm(struct cf_sip_conn *conn);
void conn_interest(struct cf_sip_conn *conn);
void conn_flush(struct cf_sip_conn *conn);
int conn_send_local(struct worker *w, struct cf_sip_conn *conn,
                    const uint8_t *p, size_t n);
int conn_write(struct worker *w, struct cf_sip_conn *conn, const uint8_t *p,
               size_t n);
int conn_send_addr(struct worker *w, const struct cf_sip_peer *peer,
                   const char *host, const uint8_t *p, size_t n);
void conn_close(struct cf_sip_conn *conn, const char *why);
void worker_conns_close(struct worker *w);

/* tls.c: the TLS side of a stream connection. ssl_io returns what the
 * plain socket call would: bytes, 0 at the peer's close (read), or -1 with
 * errno (EAGAIN: the SSL wants the socket again; EPROTO: a TLS error). */
struct tls_ctx;
void tls_ctx_release(struct cf_sip *sip);
int tls_conn_setup(struct cf_sip_conn *conn, const char *host);
void tls_conn_free(struct cf_sip_conn *conn);
int tls_handshake(struct worker *w, struct cf_sip_conn *conn);
ssize_t tls_read(struct cf_sip_conn *conn, uint8_t *p, size_t n);
ssize_t tls_write(struct cf_sip_conn *conn, const uint8_t *p, size_t n);
bool tls_pending(const struct cf_sip_conn *conn);
bool tls_server_ready(struct cf_sip *sip);
uint32_t tls_handshake_ms(const struct cf_sip_conn *conn);
void tls_fail(struct worker *w, struct cf_sip_conn *conn, const char *why);

#endif
