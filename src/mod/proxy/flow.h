/* SPDX-License-Identifier: BSD-3-Clause */
/* flow.h - flow tokens in our Record-Route entries for sides that are a
 * stream connection a UA opened to us (TCP, TLS, WS, WSS).
 *
 * A WebSocket client's Contact host is `*.invalid` (RFC 7118 §5): only its
 * own connection reaches it. A TLS client with no server certificate of
 * its own (most phones, baresip) cannot take a connection we open to its
 * Contact, nor can a TCP or TLS phone behind NAT. Requests outside the
 * registrar (in-dialog requests from the other side of a call) find the
 * UA's connection through the Record-Route entry of its side, whose user
 * part names the flow, as an RFC 5626 §5.3 edge proxy does: "cfw_"
 * transport ("tcp", "tls", "ws", "wss") "_" address "_" port "_" 16 hex
 * digits of HMAC-SHA-256 over them with a key random to this process (a
 * forged token, or one of an earlier run, is ignored). */
#ifndef CF_MOD_PROXY_FLOW_H
#define CF_MOD_PROXY_FLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "sip/sip.h"

enum { PROXY_FLOW_USER_MAX = 96 };

/* Does a side reached over tp always need a flow token (WS, WSS: no
 * other address reaches it)? */
bool proxy_flow_needed(enum cf_sip_tp tp);
/* Can a side reached over tp be a flow (a stream: TCP, TLS, WS, WSS)? */
bool proxy_flow_stream(enum cf_sip_tp tp);
/* When a side is a UA's flow, and its entry names it:
 * - the caller's side (in): the request came over a stream connection
 *   (one the UA opened to us);
 * - the callee's side (out): over WS/WSS always; over TCP/TLS when the
 *   target is a registered binding's flow (binding: the target's hop is
 *   the connection its REGISTER came on, not a server, trunk or RFC 3263
 *   failover). */
bool proxy_flow_in(enum cf_sip_tp tp);
bool proxy_flow_out(const struct cf_sip_peer *hop, bool binding);
/* The user part naming the flow to addr over tp, in buf (at least
 * PROXY_FLOW_USER_MAX bytes). 0; EPROTO when tp is not a stream; EINVAL. */
int proxy_flow_user(enum cf_sip_tp tp, const struct cf_sa *addr, char *buf,
                    size_t size);
/* The flow a Route URI's user part names: 0 and hop->tp, hop->addr (no
 * conn: cf_sip_send finds the open connection by address); ENOENT when it
 * names none; EBADMSG when it looks like one but fails its check. */
int proxy_flow_hop(const struct cf_pl *user, struct cf_sip_peer *hop);

#endif
