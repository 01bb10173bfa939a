/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_http.c - libFuzzer target: the HTTP request-head parser and the
 * WebSocket upgrade checks. A head that decodes decodes again from a copy
 * of exactly its length, and every shorter prefix is incomplete or
 * malformed, never accepted. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cf_http_ws_upgrade up;
	struct cf_http_req req, req2;
	size_t used = 0, used2;
	uint8_t *copy;
	int err;

	err = cf_http_req_decode(&req, data, size, &used);
	if (err) {
		check(err == ENODATA || err == EBADMSG || err == EMSGSIZE);
		return 0;
	}
	check(used > 0 && used <= size && used <= CF_HTTP_HEAD_MAX);
	check(req.hdrc <= CF_HTTP_HDR_MAX);
	for (size_t i = 0; i < req.hdrc; i++)
		check(req.hdrv[i].name.l > 0);
	err = cf_http_ws_upgrade_check(&req, "sip", "https://a.test", &up);
	check(err == 0 ? up.status == 101 : (err == EPROTO && up.reason));
	if (!err) {
		char acc[CF_HTTP_WS_ACCEPT_LEN + 1];

		check(cf_http_ws_accept(&up.key, acc) == 0);
		check(strlen(acc) == CF_HTTP_WS_ACCEPT_LEN);
	}
	(void)cf_http_req_has_token(&req, "connection", "upgrade");

	/* exactly the head, in its own allocation (ASan sees overreads) */
	copy = malloc(used);
	if (!copy)
		return 0;
	memcpy(copy, data, used);
	check(cf_http_req_decode(&req2, copy, used, &used2) == 0);
	check(used2 == used && req2.hdrc == req.hdrc);
	err = cf_http_req_decode(&req2, copy, used - 1, &used2);
	check(err == ENODATA || err == EBADMSG);
	free(copy);
	return 0;
}
