/* SPDX-License-Identifier: BSD-3-Clause */
/* parse_bench.c - SIP parser micro-benchmark: decodes a typical INVITE
 * with SDP and a typical 200 OK N times and prints messages/s, then the
 * same while touching every header value (shows what laziness saves).
 * Usage: parse_bench [N [lazy]]  (default 200000; "lazy" skips the
 * touch-every-value runs, for profiling). Not a test: no assertions on
 * time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/sip/sip.h"

static const char invite[] =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP "
    "pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com:5060;transport=udp>\r\n"
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, "
    "SUBSCRIBE, INFO, UPDATE, PRACK\r\n"
    "Supported: replaces, timer, 100rel\r\n"
    "User-Agent: ExamplePhone/1.2.3\r\n"
    "Session-Expires: 1800;refresher=uac\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 311\r\n"
    "\r\n"
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n"
    "s=Session SDP\r\n"
    "c=IN IP4 192.0.2.101\r\n"
    "t=0 0\r\n"
    "m=audio 49172 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n"
    "a=rtcp:49173 IN IP4 192.0.2.101\r\n"
    "a=ssrc:1234567 cname:alice@atlanta\r\n";

static const char ok200[] =
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP server10.biloxi.example.com;branch=z9hG4bK4b43c2ff8.1\r\n"
    "Via: SIP/2.0/UDP "
    "bigbox3.site3.atlanta.example.com;branch=z9hG4bK77ef4c2312983.1;received="
    "192.0.2.2\r\n"
    "Via: SIP/2.0/UDP "
    "pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n"
    "Record-Route: <sip:server10.biloxi.example.com;lr>, "
    "<sip:bigbox3.site3.atlanta.example.com;lr>\r\n"
    "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:bob@192.0.2.4>\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile size_t sink;

static bool touch_val(const struct cf_sip_hdr *hdr, const struct cf_pl *val,
                      void *arg)
{
	struct cf_sip_addr a;
	struct cf_sip_via v;
	struct cf_pl p;
	(void)arg;

	switch (hdr->id) {
	case CF_SIP_H_VIA:
		if (!cf_sip_via_decode(&v, val))
			sink += v.branch.l;
		break;
	case CF_SIP_H_CONTACT:
	case CF_SIP_H_RECORD_ROUTE:
	case CF_SIP_H_ROUTE:
	case CF_SIP_H_TO:
	case CF_SIP_H_FROM:
		if (!cf_sip_addr_decode(&a, val))
			sink += a.uri.host.l;
		break;
	default:
		if (!cf_sip_param_get(val, "refresher", &p))
			sink += p.l;
		sink += val->l;
		break;
	}
	return false;
}

static void touch(const struct cf_sip_msg *m)
{
	for (int id = 0; id < CF_SIP_H__COUNT; id++)
		(void)cf_sip_msg_vals_apply(m, id, touch_val, NULL);
}

static double run(const char *name, const char *msg, long n, bool all)
{
	size_t len = strlen(msg);
	double t0 = now(), dt;

	for (long i = 0; i < n; i++) {
		struct cf_sip_msg *m = NULL;
		if (cf_sip_msg_decode(&m, (const uint8_t *)msg, len,
		                      CF_SIP_DATAGRAM, NULL) ||
		    m->fault.reason) {
			fprintf(stderr, "%s: decode failed\n", name);
			exit(1);
		}
		if (all)
			touch(m);
		sink += m->hdrc;
		cf_mem_deref(m);
	}
	dt = now() - t0;
	printf("%-8s %4zu bytes  %-22s %10.0f msg/s  %7.1f ns/msg\n", name, len,
	       all ? "decode + every value" : "decode (lazy)", n / dt,
	       dt * 1e9 / n);
	return n / dt;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	bool all = !(argc > 2 && !strcmp(argv[2], "lazy"));

	if (n <= 0)
		n = 200000;
	run("INVITE", invite, n / 10, false); /* warm-up */
	run("INVITE", invite, n, false);
	if (all)
		run("INVITE", invite, n, true);
	run("200 OK", ok200, n, false);
	if (all)
		run("200 OK", ok200, n, true);
	return 0;
}
