/* SPDX-License-Identifier: BSD-3-Clause */
/* flow.h - flow tokens in our Record-Route entries for WebSocket sides.
 *
 * A WebSocket client's Contact host is `*.invalid` (RFC 7118 §5): only its
 * own connection reaches it. Requests outside the registrar (in-dialog
 * requests from the other side of a call) find that connection through
 * the Record-Route entry of its side, whose user part names the flow, as
 * an RFC 5626 §5.3 edge proxy does: "cfw_" transport "_" address "_" port
 * "_" 16 hex digits of HMAC-SHA-256 over them with a key random to this
 * process (a forged or stale token is ignored). */
#ifndef CF_MOD_PROXY_FLOW_H
#define CF_MOD_PROXY_FLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "sip/sip.h"

enum { PROXY_FLOW_USER_MAX = 96 };

/* Does a side reached over tp need a flow token (WS, WSS)? */
bool proxy_flow_needed(enum cf_sip_tp tp);
/* The user part naming the flow to addr over tp, in buf (at least
 * PROXY_FLOW_USER_MAX bytes). 0; EPROTO when tp needs no token; EINVAL. */
int proxy_flow_user(enum cf_sip_tp tp, const struct cf_sa *addr, char *buf,
                    size_t size);
/* The flow a Route URI's user part names: 0 and hop->tp, hop->addr (no
 * conn: cf_sip_send finds the open connection by address); ENOENT when it
 * names none; EBADMSG when it looks like one but fails its check. */
int proxy_flow_hop(const struct cf_pl *user, struct cf_sip_peer *hop);

#endif
