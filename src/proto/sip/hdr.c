/* SPDX-License-Identifier: BSD-3-Clause */
/* hdr.c - SIP names: header ids and compact forms, method names, default
 * reason phrases, character classes and random tokens. */
#include <stdatomic.h>
#include <sys/random.h>
#include <time.h>

#include "proto/sip/sip_int.h"

/* Character classes, see sip_int.h (generated from RFC 3261 §25.1 sets). */
const uint8_t cf_sip_cc[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xed, 0x80, 0x00,
    0x68, 0xe9, 0x28, 0xed, 0xec, 0xec, 0xed, 0xe9, 0x08, 0xfd, 0xfd, 0xe8,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe8, 0x08,
    0x80, 0x08, 0x80, 0xc8, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe0, 0x80, 0xe0, 0x00, 0xfd,
    0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0x80, 0x00, 0x80, 0xed, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
};

struct hname {
	const char *s;
	uint8_t l;
};

#define HN(s)                                                                  \
	{                                                                      \
		s, sizeof(s) - 1                                               \
	}

/* Full names by id (RFC 3261 §20 and the extensions that add them). */
static const struct hname hnames[CF_SIP_H__COUNT] = {
    [CF_SIP_H_OTHER] = HN(""),
    [CF_SIP_H_VIA] = HN("Via"),
    [CF_SIP_H_CALL_ID] = HN("Call-ID"),
    [CF_SIP_H_CSEQ] = HN("CSeq"),
    [CF_SIP_H_FROM] = HN("From"),
    [CF_SIP_H_TO] = HN("To"),
    [CF_SIP_H_MAX_FORWARDS] = HN("Max-Forwards"),
    [CF_SIP_H_CONTENT_LENGTH] = HN("Content-Length"),
    [CF_SIP_H_CONTENT_TYPE] = HN("Content-Type"),
    [CF_SIP_H_CONTACT] = HN("Contact"),
    [CF_SIP_H_ROUTE] = HN("Route"),
    [CF_SIP_H_RECORD_ROUTE] = HN("Record-Route"),
    [CF_SIP_H_EXPIRES] = HN("Expires"),
    [CF_SIP_H_MIN_EXPIRES] = HN("Min-Expires"),
    [CF_SIP_H_AUTHORIZATION] = HN("Authorization"),
    [CF_SIP_H_PROXY_AUTHORIZATION] = HN("Proxy-Authorization"),
    [CF_SIP_H_WWW_AUTHENTICATE] = HN("WWW-Authenticate"),
    [CF_SIP_H_PROXY_AUTHENTICATE] = HN("Proxy-Authenticate"),
    [CF_SIP_H_REQUIRE] = HN("Require"),
    [CF_SIP_H_PROXY_REQUIRE] = HN("Proxy-Require"),
    [CF_SIP_H_SUPPORTED] = HN("Supported"),
    [CF_SIP_H_UNSUPPORTED] = HN("Unsupported"),
    [CF_SIP_H_ALLOW] = HN("Allow"),
    [CF_SIP_H_ACCEPT] = HN("Accept"),
    [CF_SIP_H_CONTENT_ENCODING] = HN("Content-Encoding"),
    [CF_SIP_H_EVENT] = HN("Event"),
    [CF_SIP_H_SUBJECT] = HN("Subject"),
    [CF_SIP_H_REFER_TO] = HN("Refer-To"),
    [CF_SIP_H_REFERRED_BY] = HN("Referred-By"),
    [CF_SIP_H_SESSION_EXPIRES] = HN("Session-Expires"),
    [CF_SIP_H_ACCEPT_CONTACT] = HN("Accept-Contact"),
    [CF_SIP_H_REJECT_CONTACT] = HN("Reject-Contact"),
    [CF_SIP_H_REQUEST_DISPOSITION] = HN("Request-Disposition"),
    [CF_SIP_H_IDENTITY] = HN("Identity"),
    [CF_SIP_H_DATE] = HN("Date"),
    [CF_SIP_H_USER_AGENT] = HN("User-Agent"),
    [CF_SIP_H_SERVER] = HN("Server"),
    [CF_SIP_H_PATH] = HN("Path"),
    [CF_SIP_H_RSEQ] = HN("RSeq"),
    [CF_SIP_H_RACK] = HN("RAck"),
    [CF_SIP_H_SUBSCRIPTION_STATE] = HN("Subscription-State"),
    [CF_SIP_H_RETRY_AFTER] = HN("Retry-After"),
    [CF_SIP_H_WARNING] = HN("Warning"),
    [CF_SIP_H_TIMESTAMP] = HN("Timestamp"),
};

const char *cf_sip_hdr_name(enum cf_sip_hdr_id id)
{
	if ((unsigned)id >= CF_SIP_H__COUNT)
		return "";
	return hnames[id].s;
}

/* Compact forms, RFC 3261 §7.3.3 and the registry (RFC 3265, 3515, 3892,
 * 3841, 4028, 4474). 'u' (Allow-Events) has no id. */
static enum cf_sip_hdr_id compact(char c)
{
	switch (lc(c)) {
	case 'i':
		return CF_SIP_H_CALL_ID;
	case 'm':
		return CF_SIP_H_CONTACT;
	case 'v':
		return CF_SIP_H_VIA;
	case 'f':
		return CF_SIP_H_FROM;
	case 't':
		return CF_SIP_H_TO;
	case 'l':
		return CF_SIP_H_CONTENT_LENGTH;
	case 'k':
		return CF_SIP_H_SUPPORTED;
	case 'c':
		return CF_SIP_H_CONTENT_TYPE;
	case 'e':
		return CF_SIP_H_CONTENT_ENCODING;
	case 's':
		return CF_SIP_H_SUBJECT;
	case 'o':
		return CF_SIP_H_EVENT;
	case 'r':
		return CF_SIP_H_REFER_TO;
	case 'b':
		return CF_SIP_H_REFERRED_BY;
	case 'x':
		return CF_SIP_H_SESSION_EXPIRES;
	case 'y':
		return CF_SIP_H_IDENTITY;
	case 'a':
		return CF_SIP_H_ACCEPT_CONTACT;
	case 'j':
		return CF_SIP_H_REJECT_CONTACT;
	case 'd':
		return CF_SIP_H_REQUEST_DISPOSITION;
	default:
		return CF_SIP_H_OTHER;
	}
}

/* n holds token characters only (msg.c splits names that way) and the
 * table names only letters and '-': OR-ing 0x20 folds case without a false
 * match (only CR would fold onto '-', and CR is no token character), so
 * eight bytes are compared at a time. */
static inline bool is(const struct cf_pl *n, enum cf_sip_hdr_id id)
{
	const char *a = n->p, *b = hnames[id].s;
	size_t l = n->l;
	uint64_t x, y;

	if (l != hnames[id].l)
		return false;
	for (; l >= 8; l -= 8, a += 8, b += 8) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if ((x | 0x2020202020202020ULL) != (y | 0x2020202020202020ULL))
			return false;
	}
	for (; l; l--, a++, b++) {
		if ((*a | 0x20) != (*b | 0x20))
			return false;
	}
	return true;
}

#define TRY(id)                                                                \
	do {                                                                   \
		if (is(name, id))                                              \
			return id;                                             \
	} while (0)

/*
 * Header id for a name. Called by the decoder once per header line, so it
 * is a switch on the first character followed by at most a handful of
 * length-checked case-insensitive compares; no hashing, no strlen.
 */
enum cf_sip_hdr_id cf_sip_hdr_id_decode(const struct cf_pl *name)
{
	if (!name || !name->p || !name->l)
		return CF_SIP_H_OTHER;
	if (name->l == 1)
		return compact(name->p[0]);

	switch (lc(name->p[0])) {
	case 'a':
		TRY(CF_SIP_H_ALLOW);
		TRY(CF_SIP_H_ACCEPT);
		TRY(CF_SIP_H_AUTHORIZATION);
		TRY(CF_SIP_H_ACCEPT_CONTACT);
		break;
	case 'c':
		TRY(CF_SIP_H_CSEQ);
		TRY(CF_SIP_H_CALL_ID);
		TRY(CF_SIP_H_CONTACT);
		TRY(CF_SIP_H_CONTENT_LENGTH);
		TRY(CF_SIP_H_CONTENT_TYPE);
		TRY(CF_SIP_H_CONTENT_ENCODING);
		break;
	case 'd':
		TRY(CF_SIP_H_DATE);
		break;
	case 'e':
		TRY(CF_SIP_H_EXPIRES);
		TRY(CF_SIP_H_EVENT);
		break;
	case 'f':
		TRY(CF_SIP_H_FROM);
		break;
	case 'i':
		TRY(CF_SIP_H_IDENTITY);
		break;
	case 'm':
		TRY(CF_SIP_H_MAX_FORWARDS);
		TRY(CF_SIP_H_MIN_EXPIRES);
		break;
	case 'p':
		TRY(CF_SIP_H_PATH);
		TRY(CF_SIP_H_PROXY_REQUIRE);
		TRY(CF_SIP_H_PROXY_AUTHORIZATION);
		TRY(CF_SIP_H_PROXY_AUTHENTICATE);
		break;
	case 'r':
		TRY(CF_SIP_H_ROUTE);
		TRY(CF_SIP_H_RECORD_ROUTE);
		TRY(CF_SIP_H_REQUIRE);
		TRY(CF_SIP_H_RSEQ);
		TRY(CF_SIP_H_RACK);
		TRY(CF_SIP_H_REFER_TO);
		TRY(CF_SIP_H_REFERRED_BY);
		TRY(CF_SIP_H_REJECT_CONTACT);
		TRY(CF_SIP_H_REQUEST_DISPOSITION);
		TRY(CF_SIP_H_RETRY_AFTER);
		break;
	case 's':
		TRY(CF_SIP_H_SUPPORTED);
		TRY(CF_SIP_H_SERVER);
		TRY(CF_SIP_H_SUBJECT);
		TRY(CF_SIP_H_SESSION_EXPIRES);
		TRY(CF_SIP_H_SUBSCRIPTION_STATE);
		break;
	case 't':
		TRY(CF_SIP_H_TO);
		TRY(CF_SIP_H_TIMESTAMP);
		break;
	case 'u':
		TRY(CF_SIP_H_USER_AGENT);
		TRY(CF_SIP_H_UNSUPPORTED);
		break;
	case 'v':
		TRY(CF_SIP_H_VIA);
		break;
	case 'w':
		TRY(CF_SIP_H_WWW_AUTHENTICATE);
		TRY(CF_SIP_H_WARNING);
		break;
	default:
		break;
	}
	return CF_SIP_H_OTHER;
}

static const struct hname mnames[] = {
    [CF_SIP_M_OTHER] = HN(""),
    [CF_SIP_M_INVITE] = HN("INVITE"),
    [CF_SIP_M_ACK] = HN("ACK"),
    [CF_SIP_M_BYE] = HN("BYE"),
    [CF_SIP_M_CANCEL] = HN("CANCEL"),
    [CF_SIP_M_OPTIONS] = HN("OPTIONS"),
    [CF_SIP_M_REGISTER] = HN("REGISTER"),
    [CF_SIP_M_PRACK] = HN("PRACK"),
    [CF_SIP_M_SUBSCRIBE] = HN("SUBSCRIBE"),
    [CF_SIP_M_NOTIFY] = HN("NOTIFY"),
    [CF_SIP_M_PUBLISH] = HN("PUBLISH"),
    [CF_SIP_M_INFO] = HN("INFO"),
    [CF_SIP_M_REFER] = HN("REFER"),
    [CF_SIP_M_MESSAGE] = HN("MESSAGE"),
    [CF_SIP_M_UPDATE] = HN("UPDATE"),
};

static inline bool meq(const struct cf_pl *m, enum cf_sip_method id)
{
	return m->l == mnames[id].l && !memcmp(m->p, mnames[id].s, m->l);
}

/* Method names are case-sensitive (RFC 3261 §7.1); "RE%47IST%45R" is not
 * REGISTER (RFC 4475 §3.1.1.5). Switch on the first character. */
enum cf_sip_method cf_sip_method_decode(const struct cf_pl *m)
{
	enum cf_sip_method id = CF_SIP_M_OTHER;

	if (!m || !m->p || !m->l)
		return CF_SIP_M_OTHER;
	switch (m->p[0]) {
	case 'I':
		id = m->l == 6 ? CF_SIP_M_INVITE : CF_SIP_M_INFO;
		break;
	case 'A':
		id = CF_SIP_M_ACK;
		break;
	case 'B':
		id = CF_SIP_M_BYE;
		break;
	case 'C':
		id = CF_SIP_M_CANCEL;
		break;
	case 'O':
		id = CF_SIP_M_OPTIONS;
		break;
	case 'R':
		id = m->l == 8 ? CF_SIP_M_REGISTER : CF_SIP_M_REFER;
		break;
	case 'P':
		id = m->l == 5 ? CF_SIP_M_PRACK : CF_SIP_M_PUBLISH;
		break;
	case 'S':
		id = CF_SIP_M_SUBSCRIBE;
		break;
	case 'N':
		id = CF_SIP_M_NOTIFY;
		break;
	case 'M':
		id = CF_SIP_M_MESSAGE;
		break;
	case 'U':
		id = CF_SIP_M_UPDATE;
		break;
	default:
		return CF_SIP_M_OTHER;
	}
	return meq(m, id) ? id : CF_SIP_M_OTHER;
}

const char *cf_sip_method_name(enum cf_sip_method m)
{
	if ((unsigned)m > CF_SIP_M_UPDATE)
		return "";
	return mnames[m].s;
}

/* Default reason phrases, RFC 3261 §21 and later RFCs. */
const char *cf_sip_reason(uint16_t code)
{
	switch (code) {
	case 100:
		return "Trying";
	case 180:
		return "Ringing";
	case 181:
		return "Call Is Being Forwarded";
	case 182:
		return "Queued";
	case 183:
		return "Session Progress";
	case 199:
		return "Early Dialog Terminated";
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 204:
		return "No Notification";
	case 300:
		return "Multiple Choices";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Moved Temporarily";
	case 305:
		return "Use Proxy";
	case 380:
		return "Alternative Service";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 402:
		return "Payment Required";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 407:
		return "Proxy Authentication Required";
	case 408:
		return "Request Timeout";
	case 410:
		return "Gone";
	case 412:
		return "Conditional Request Failed";
	case 413:
		return "Request Entity Too Large";
	case 414:
		return "Request-URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 416:
		return "Unsupported URI Scheme";
	case 420:
		return "Bad Extension";
	case 421:
		return "Extension Required";
	case 422:
		return "Session Interval Too Small";
	case 423:
		return "Interval Too Brief";
	case 428:
		return "Use Identity Header";
	case 429:
		return "Provide Referrer Identity";
	case 430:
		return "Flow Failed";
	case 433:
		return "Anonymity Disallowed";
	case 436:
		return "Bad Identity-Info";
	case 437:
		return "Unsupported Certificate";
	case 438:
		return "Invalid Identity Header";
	case 439:
		return "First Hop Lacks Outbound Support";
	case 440:
		return "Max-Breadth Exceeded";
	case 470:
		return "Consent Needed";
	case 480:
		return "Temporarily Unavailable";
	case 481:
		return "Call/Transaction Does Not Exist";
	case 482:
		return "Loop Detected";
	case 483:
		return "Too Many Hops";
	case 484:
		return "Address Incomplete";
	case 485:
		return "Ambiguous";
	case 486:
		return "Busy Here";
	case 487:
		return "Request Terminated";
	case 488:
		return "Not Acceptable Here";
	case 489:
		return "Bad Event";
	case 491:
		return "Request Pending";
	case 493:
		return "Undecipherable";
	case 494:
		return "Security Agreement Required";
	case 500:
		return "Server Internal Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Server Time-out";
	case 505:
		return "Version Not Supported";
	case 513:
		return "Message Too Large";
	case 580:
		return "Precondition Failure";
	case 600:
		return "Busy Everywhere";
	case 603:
		return "Decline";
	case 604:
		return "Does Not Exist Anywhere";
	case 606:
		return "Not Acceptable";
	case 607:
		return "Unwanted";
	default:
		break;
	}
	switch (code / 100) {
	case 1:
		return "Session Progress";
	case 2:
		return "OK";
	case 3:
		return "Redirection";
	case 4:
		return "Client Error";
	case 5:
		return "Server Error";
	case 6:
		return "Global Failure";
	default:
		return "Unknown";
	}
}

/* Per-thread xorshift64* seeded once from getrandom(): tags and branches
 * need uniqueness, not secrecy, and a syscall per token would cost more
 * than the rest of building a response. */
static _Thread_local uint64_t rnd_state;
static atomic_uint_fast64_t rnd_salt;

static uint64_t rnd64(void)
{
	uint64_t x = rnd_state;

	if (!x) {
		if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x)) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
		}
		x ^= atomic_fetch_add(&rnd_salt, 0x9e3779b97f4a7c15ULL);
		if (!x)
			x = 0x2545f4914f6cdd1dULL;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rnd_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

void cf_sip_rand_token(char *buf, size_t n)
{
	static const char al[] = "abcdefghijklmnopqrstuvwxyz"
	                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint64_t r = 0;

	if (!buf)
		return;
	for (size_t i = 0; i < n; i++) {
		if (i % 10 == 0)
			r = rnd64();
		buf[i] = al[r % 62];
		r /= 62;
	}
	buf[n] = '\0';
}
