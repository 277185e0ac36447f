/*
 * NAME
 *	mta_classify - why a delivery failed, and whether to stop trying
 *	the address
 * SYNOPSIS
 *	#include "mta/mta_pure.h"
 *
 *	mta_classify(550, "5.1.1", "The email account ... does not exist", &c);
 * DESCRIPTION
 *	Every deferral and bounce gets a category for the events, the
 *	dashboard and the statistics, and a hard flag: 1 when the failure is
 *	permanent and about the address itself, so that it goes on a
 *	suppression list; 0 for every 4xx and for 5xx "soft bounces" that
 *	are about the message, the sender or the connection (policy,
 *	reputation, content, rate limits, TLS, a full mailbox).
 *
 *	Three tables, tried in this order:
 *
 *	1. The enhanced status code (RFC 3463, the IANA registry of RFC
 *	   5248), when its class matches the reply code's. An exact
 *	   subject.detail row wins over the subject's catch-all row.
 *
 *	   X.1.1 bad mailbox, X.1.3 bad syntax, X.1.4 ambiguous,
 *	   X.1.6 moved ..................................... unknown_user, hard
 *	   X.1.2 bad destination system ........................... dns, hard
 *	         (the address's domain does not exist or takes no mail: it
 *	         is the address that is wrong, so hard, filed under dns)
 *	   X.1.10 null MX (RFC 7505) ................... dns, hard, refinable
 *	         (Microsoft 365 sends 5.1.10 for "RecipientNotFound", so the
 *	         text may make it unknown_user)
 *	   X.1.7, X.1.8 bad sender address ........................ policy
 *	   X.2.1 mailbox disabled ........................ unknown_user, hard
 *	   X.2.2 mailbox full, X.3.1 system full ............. mailbox_full
 *	   X.2.3, X.3.4 message too big ........................... content
 *	   X.4.5 congestion ....................................... rate_limit
 *	   X.4.7 delivery time expired ............................. other
 *	   X.4.x (X.4.4 unable to route, X.4.1 no answer...) .. dns, refinable
 *	   X.5.3 too many recipients ........................... rate_limit
 *	   X.6.x media/content ..................................... content
 *	   X.7.10, X.7.11 encryption needed, X.7.30 REQUIRETLS ........ tls
 *	   X.7.16 too big for priority ............................ content
 *	   X.7.17, X.7.18 mailbox/domain owner changed (RFC 7293)
 *	                                                  unknown_user, hard
 *	   X.7.20-X.7.27 DKIM, SPF, reverse DNS, multiple auth checks (DMARC),
 *	         sender null MX .................................... policy
 *	   X.7.28 mail flood detected (IANA) ................... rate_limit
 *	   X.7.1, X.7.0, X.7.x ............. policy, refinable to policy,
 *	         reputation, tls, rate_limit, content or greylist by text
 *	   X.0.x, X.1.x, X.2.x, X.3.x, X.5.x other ......... other, refinable
 *
 *	   "Refinable" rows are the vague or commonly misused ones: when a
 *	   text pattern matches, and its category is one the row allows,
 *	   the text wins; otherwise the row stands.
 *
 *	2. Text patterns, case-insensitive, first match wins. The order
 *	   matters: specific before generic, the sender's problems before
 *	   the recipient's ("Sender address rejected: Domain not found" is
 *	   not a bad recipient domain), DNS wording before "does not
 *	   exist", reputation before "blocked", and RFC 5321's boilerplate
 *	   "mailbox unavailable" (sent with every kind of 550) last.
 *
 *	   sender/auth ("sender address rejected", "spf", "dmarc", "ptr
 *	   record", "relay"...) ...................................... policy
 *	   "starttls", "tls", "encryption" ............................. tls
 *	   "domain not found", "nxdomain", "null mx", "unrouteable"... dns, hard
 *	   "user unknown", "no such user", "does not exist", "recipient not
 *	   found", "RecipientNotFound", "AS(201806281)" (Microsoft 365
 *	   directory-based edge blocking), "not listed in" (Lotus Domino),
 *	   "mailbox disabled"...
 *	                                                  unknown_user, hard
 *	   "blacklist", "blocklist", "listed", "spamhaus", "barracuda",
 *	   "spamcop", "rbl", "reputation", "blocked using", "complaints"...
 *	                                                        reputation
 *	   "rate limit", "too many", "throttl", "server busy" ..... rate_limit
 *	   "greylist", "graylist"; with 4xx "try again later" ...... greylist
 *	   "quota", "mailbox full", "insufficient storage"... mailbox_full
 *	   "spam", "unsolicited", "phish" ............................ policy
 *	   "virus", "attachment", "message size", "too large", "content"
 *	   (so "content rejected") .................................. content
 *	   "blocked", "polic", "denied", "prohibit", "not allowed" ... policy
 *	   "name service error", "no mx" ................................. dns
 *	   "mailbox unavailable" ..................... unknown_user, hard
 *
 *	3. The reply code: 551 user not local -> unknown_user, hard;
 *	   552 and 452 storage -> mailbox_full; anything else -> other.
 *
 *	qmail puts its enhanced code at the end, "... (#5.1.1)": it is used
 *	when the enhanced argument is empty.
 *
 *	"hard" is only ever 1 for a permanent (5xx) reply.
 * LIMITS
 *	Text patterns look at the first MTA_REPLY_TEXT_MAX - 1 bytes of the
 *	text, which is all the reply parser keeps.
 */
#include <ctype.h>
#include <string.h>

#include "mta/mta_pure.h"

static const char *const category_names[] = {
	[MTA_CAT_UNKNOWN_USER] = "unknown_user",
	[MTA_CAT_MAILBOX_FULL] = "mailbox_full",
	[MTA_CAT_POLICY] = "policy",
	[MTA_CAT_REPUTATION] = "reputation",
	[MTA_CAT_GREYLIST] = "greylist",
	[MTA_CAT_DNS] = "dns",
	[MTA_CAT_TLS] = "tls",
	[MTA_CAT_CONTENT] = "content",
	[MTA_CAT_RATE_LIMIT] = "rate_limit",
	[MTA_CAT_OTHER] = "other",
};

/* The category's name for logs, events and the API. */
const char *
mta_bounce_category_str(enum mta_bounce_category c)
{
	return (unsigned)c < PH_ARRAY_LEN(category_names) ? category_names[c] : "?";
}

#define CL_ADDR 0x1  /* about the address itself: hard when permanent */
#define CL_WORD 0x2  /* text pattern must be a whole word */
#define CL_TEMP 0x4  /* text pattern counts only in a 4xx reply */

#define CAT(c) (1u << (c))
#define REFINE_ANY 0xffffu
#define REFINE_POLICY                                                                   \
	(CAT(MTA_CAT_POLICY) | CAT(MTA_CAT_REPUTATION) | CAT(MTA_CAT_TLS) |             \
	 CAT(MTA_CAT_RATE_LIMIT) | CAT(MTA_CAT_CONTENT) | CAT(MTA_CAT_GREYLIST))

struct cl_code_row {
	int subject;
	int lo, hi; /* detail range */
	enum mta_bounce_category cat;
	unsigned flags;
	unsigned refine; /* categories a text pattern may turn this into */
};

/* Table 1 (see DESCRIPTION): exact rows before each subject's catch-all. */
static const struct cl_code_row cl_codes[] = {
	{1, 1, 1, MTA_CAT_UNKNOWN_USER, CL_ADDR, 0},
	{1, 2, 2, MTA_CAT_DNS, CL_ADDR, 0},
	{1, 3, 4, MTA_CAT_UNKNOWN_USER, CL_ADDR, 0},
	{1, 6, 6, MTA_CAT_UNKNOWN_USER, CL_ADDR, 0},
	{1, 7, 8, MTA_CAT_POLICY, 0, 0},
	{1, 10, 10, MTA_CAT_DNS, CL_ADDR, CAT(MTA_CAT_UNKNOWN_USER)},
	{1, 0, 999, MTA_CAT_OTHER, 0, REFINE_ANY},
	{2, 1, 1, MTA_CAT_UNKNOWN_USER, CL_ADDR, 0},
	{2, 2, 2, MTA_CAT_MAILBOX_FULL, 0, 0},
	{2, 3, 3, MTA_CAT_CONTENT, 0, 0},
	{2, 0, 999, MTA_CAT_OTHER, 0, REFINE_ANY},
	{3, 1, 1, MTA_CAT_MAILBOX_FULL, 0, 0},
	{3, 4, 4, MTA_CAT_CONTENT, 0, 0},
	{3, 0, 999, MTA_CAT_OTHER, 0, REFINE_ANY},
	{4, 5, 5, MTA_CAT_RATE_LIMIT, 0, 0},
	{4, 7, 7, MTA_CAT_OTHER, 0, 0},
	{4, 0, 999, MTA_CAT_DNS, 0, REFINE_ANY},
	{5, 3, 3, MTA_CAT_RATE_LIMIT, 0, 0},
	{5, 0, 999, MTA_CAT_OTHER, 0, REFINE_ANY},
	{6, 0, 999, MTA_CAT_CONTENT, 0, 0},
	{7, 10, 11, MTA_CAT_TLS, 0, 0},
	{7, 16, 16, MTA_CAT_CONTENT, 0, 0},
	{7, 17, 18, MTA_CAT_UNKNOWN_USER, CL_ADDR, 0},
	{7, 20, 27, MTA_CAT_POLICY, 0, 0},
	{7, 28, 28, MTA_CAT_RATE_LIMIT, 0, 0},
	{7, 30, 30, MTA_CAT_TLS, 0, 0},
	{7, 0, 999, MTA_CAT_POLICY, 0, REFINE_POLICY},
	{0, 0, 999, MTA_CAT_OTHER, 0, REFINE_ANY},
};

struct cl_text_row {
	const char *pattern; /* lower case */
	enum mta_bounce_category cat;
	unsigned flags;
};

/* Table 2 (see DESCRIPTION): first match wins. */
static const struct cl_text_row cl_texts[] = {
	/* The sender's or the sending host's problem, not the recipient's. */
	{"sender address rejected", MTA_CAT_POLICY, 0},
	{"sender domain", MTA_CAT_POLICY, 0},
	{"sending domain", MTA_CAT_POLICY, 0},
	{"domain of sender", MTA_CAT_POLICY, 0},
	{"sender verify", MTA_CAT_POLICY, 0},
	{"reverse dns", MTA_CAT_POLICY, 0},
	{"reverse hostname", MTA_CAT_POLICY, 0},
	{"ptr record", MTA_CAT_POLICY, 0},
	{"spf", MTA_CAT_POLICY, CL_WORD},
	{"dkim", MTA_CAT_POLICY, CL_WORD},
	{"dmarc", MTA_CAT_POLICY, CL_WORD},
	{"not authenticated", MTA_CAT_POLICY, 0},
	{"authentication required", MTA_CAT_POLICY, 0},
	{"relay", MTA_CAT_POLICY, CL_WORD},
	{"relaying", MTA_CAT_POLICY, CL_WORD},
	/* TLS */
	{"starttls", MTA_CAT_TLS, 0},
	{"tls", MTA_CAT_TLS, CL_WORD},
	{"encryption", MTA_CAT_TLS, 0},
	/* The recipient's domain does not exist. */
	{"domain not found", MTA_CAT_DNS, CL_ADDR},
	{"domain does not exist", MTA_CAT_DNS, CL_ADDR},
	{"host not found", MTA_CAT_DNS, CL_ADDR},
	{"nxdomain", MTA_CAT_DNS, CL_ADDR},
	{"nonexistent domain", MTA_CAT_DNS, CL_ADDR},
	{"non-existent domain", MTA_CAT_DNS, CL_ADDR},
	{"null mx", MTA_CAT_DNS, CL_ADDR},
	{"unrouteable", MTA_CAT_DNS, CL_ADDR},
	{"unroutable", MTA_CAT_DNS, CL_ADDR},
	/* The recipient does not exist (any more). */
	{"recipientnotfound", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"as(201806281)", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"not listed in", MTA_CAT_UNKNOWN_USER, CL_ADDR}, /* Lotus Domino */
	{"user unknown", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"unknown user", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"no such user", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"no such recipient", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"no such mailbox", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"no mailbox", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"recipient unknown", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"unknown recipient", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"invalid recipient", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"recipient not found", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"user not found", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"mailbox not found", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"address not found", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"does not exist", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"doesn't exist", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"doesn't have a", MTA_CAT_UNKNOWN_USER, CL_ADDR}, /* Yahoo */
	{"mailbox disabled", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"mailbox is disabled", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"account disabled", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"account is disabled", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	{"account has been disabled", MTA_CAT_UNKNOWN_USER, CL_ADDR},
	/* The sending IP's or domain's standing. */
	{"blacklist", MTA_CAT_REPUTATION, 0},
	{"blocklist", MTA_CAT_REPUTATION, 0},
	{"black list", MTA_CAT_REPUTATION, 0},
	{"block list", MTA_CAT_REPUTATION, 0},
	{"denylist", MTA_CAT_REPUTATION, 0},
	{"listed", MTA_CAT_REPUTATION, CL_WORD},
	{"spamhaus", MTA_CAT_REPUTATION, 0},
	{"barracuda", MTA_CAT_REPUTATION, 0},
	{"spamcop", MTA_CAT_REPUTATION, 0},
	{"sorbs", MTA_CAT_REPUTATION, 0},
	{"rbl", MTA_CAT_REPUTATION, CL_WORD},
	{"dnsbl", MTA_CAT_REPUTATION, 0},
	{"reputation", MTA_CAT_REPUTATION, 0},
	{"blocked using", MTA_CAT_REPUTATION, 0},
	{"banned sending ip", MTA_CAT_REPUTATION, 0},
	{"ip blocked", MTA_CAT_REPUTATION, 0},
	{"complaints", MTA_CAT_REPUTATION, 0}, /* Yahoo TSS04 */
	/* Too much, too fast. */
	{"rate limit", MTA_CAT_RATE_LIMIT, 0},
	{"rate-limit", MTA_CAT_RATE_LIMIT, 0},
	{"ratelimit", MTA_CAT_RATE_LIMIT, 0},
	{"too many", MTA_CAT_RATE_LIMIT, 0},
	{"throttl", MTA_CAT_RATE_LIMIT, 0},
	{"sending quota", MTA_CAT_RATE_LIMIT, 0},
	{"sending limit", MTA_CAT_RATE_LIMIT, 0},
	{"server busy", MTA_CAT_RATE_LIMIT, 0},
	/* Greylisting (come back later). */
	{"greylist", MTA_CAT_GREYLIST, 0},
	{"graylist", MTA_CAT_GREYLIST, 0},
	{"grey list", MTA_CAT_GREYLIST, 0},
	{"gray list", MTA_CAT_GREYLIST, 0},
	{"try again later", MTA_CAT_GREYLIST, CL_TEMP},
	/* The mailbox is full. */
	{"quota", MTA_CAT_MAILBOX_FULL, 0},
	{"mailbox full", MTA_CAT_MAILBOX_FULL, 0},
	{"mailbox is full", MTA_CAT_MAILBOX_FULL, 0},
	{"mailbox size", MTA_CAT_MAILBOX_FULL, 0},
	{"insufficient storage", MTA_CAT_MAILBOX_FULL, 0},
	{"insufficient system storage", MTA_CAT_MAILBOX_FULL, 0},
	{"storage allocation", MTA_CAT_MAILBOX_FULL, 0},
	{"out of storage", MTA_CAT_MAILBOX_FULL, 0},
	/* Spam filters ("spam content" is a verdict on the sender). */
	{"spam", MTA_CAT_POLICY, 0},
	{"unsolicited", MTA_CAT_POLICY, 0},
	{"phish", MTA_CAT_POLICY, 0},
	/* The message itself. */
	{"virus", MTA_CAT_CONTENT, 0},
	{"malware", MTA_CAT_CONTENT, 0},
	{"attachment", MTA_CAT_CONTENT, 0},
	{"message size", MTA_CAT_CONTENT, 0},
	{"size limit", MTA_CAT_CONTENT, 0},
	{"size exceeds", MTA_CAT_CONTENT, 0},
	{"too large", MTA_CAT_CONTENT, 0},
	{"too big", MTA_CAT_CONTENT, 0},
	{"content", MTA_CAT_CONTENT, 0},
	/* Local policy. */
	{"blocked", MTA_CAT_POLICY, 0},
	{"polic", MTA_CAT_POLICY, 0},
	{"denied", MTA_CAT_POLICY, 0},
	{"prohibit", MTA_CAT_POLICY, 0},
	{"not allowed", MTA_CAT_POLICY, 0},
	/* Vague DNS trouble (temporary as often as not). */
	{"name service error", MTA_CAT_DNS, 0},
	{"no mx", MTA_CAT_DNS, 0},
	{"mx record", MTA_CAT_DNS, 0},
	/* RFC 5321 4.2.3's text for 550, sent for anything: last. */
	{"mailbox unavailable", MTA_CAT_UNKNOWN_USER, CL_ADDR},
};

struct cl_reply_row {
	int code;
	enum mta_bounce_category cat;
	unsigned flags;
};

/* Table 3 (see DESCRIPTION): RFC 5321 4.2.2 and 4.2.3. */
static const struct cl_reply_row cl_replies[] = {
	{551, MTA_CAT_UNKNOWN_USER, CL_ADDR}, /* user not local */
	{552, MTA_CAT_MAILBOX_FULL, 0},       /* exceeded storage allocation */
	{452, MTA_CAT_MAILBOX_FULL, 0},       /* insufficient system storage */
};

/* Parse "c.s.d" (RFC 3463 2) from s[0..n); 0 when it is not one. */
static int
cl_parse_enhanced(const char *s, size_t n, int *cls, int *subject, int *detail)
{
	int v[3] = {0, 0, 0};
	size_t i = 0;

	for (int part = 0; part < 3; part++) {
		size_t start = i;

		while (i < n && i - start < 3 && isdigit((unsigned char)s[i]))
			v[part] = v[part] * 10 + (s[i++] - '0');
		if (i == start || (part == 0 && i - start != 1))
			return 0;
		if (part < 2 && (i >= n || s[i++] != '.'))
			return 0;
	}
	if (i != n || (v[0] != 2 && v[0] != 4 && v[0] != 5))
		return 0;
	*cls = v[0];
	*subject = v[1];
	*detail = v[2];
	return 1;
}

/* qmail's "... (#5.1.1)": find it in text; 0 when there is none. */
static int
cl_qmail_enhanced(const char *text, int *cls, int *subject, int *detail)
{
	for (const char *p = strstr(text, "(#"); p != NULL; p = strstr(p + 2, "(#")) {
		const char *close = strchr(p + 2, ')');

		if (close != NULL && close - p <= 12 &&
		    cl_parse_enhanced(p + 2, (size_t)(close - p - 2), cls, subject, detail))
			return 1;
	}
	return 0;
}

/* Search lower-cased text for pat; with CL_WORD the match must not
 * touch a letter or digit on either side ("tls" is not "bottlestls"). */
static int
cl_match(const char *low, const char *pat, unsigned flags)
{
	size_t pl = strlen(pat);

	for (const char *p = strstr(low, pat); p != NULL; p = strstr(p + 1, pat)) {
		if ((flags & CL_WORD) &&
		    ((p > low && isalnum((unsigned char)p[-1])) || isalnum((unsigned char)p[pl])))
			continue;
		return 1;
	}
	return 0;
}

/* The first text row that matches lower-cased text, or NULL. */
static const struct cl_text_row *
cl_text_lookup(const char *low, int temporary)
{
	for (size_t i = 0; i < PH_ARRAY_LEN(cl_texts); i++) {
		const struct cl_text_row *t = &cl_texts[i];

		if ((t->flags & CL_TEMP) && !temporary)
			continue;
		if (cl_match(low, t->pattern, t->flags))
			return t;
	}
	return NULL;
}

/* The enhanced-code row for subject.detail, or NULL. */
static const struct cl_code_row *
cl_code_lookup(int subject, int detail)
{
	for (size_t i = 0; i < PH_ARRAY_LEN(cl_codes); i++) {
		const struct cl_code_row *c = &cl_codes[i];

		if (c->subject == subject && detail >= c->lo && detail <= c->hi)
			return c;
	}
	return NULL;
}

/* Classify one failed reply (see DESCRIPTION). */
void
mta_classify(int code, const char *enhanced, const char *text, struct mta_classification *out)
{
	const struct cl_code_row *row = NULL;
	const struct cl_text_row *t;
	char low[MTA_REPLY_TEXT_MAX];
	size_t n = 0;
	int cls = 0, subject = 0, detail = 0, have;
	int klass = code / 100;
	enum mta_bounce_category cat = MTA_CAT_OTHER;
	unsigned flags = 0;

	if (text == NULL)
		text = "";
	if (enhanced == NULL)
		enhanced = "";
	have = cl_parse_enhanced(enhanced, strlen(enhanced), &cls, &subject, &detail) ||
	       cl_qmail_enhanced(text, &cls, &subject, &detail);
	if (klass == 0 && have)
		klass = cls; /* no reply code (a local failure): trust the status */
	/* RFC 3463 3: the class must agree with the reply code. */
	if (have && cls == klass)
		row = cl_code_lookup(subject, detail);
	/* Lower-case once, so that each pattern is one strstr(). */
	for (; text[n] != '\0' && n < sizeof(low) - 1; n++)
		low[n] = (char)tolower((unsigned char)text[n]);
	low[n] = '\0';
	t = cl_text_lookup(low, klass == 4);

	if (row != NULL) {
		cat = row->cat;
		flags = row->flags;
		if (t != NULL && (row->refine & CAT(t->cat))) {
			cat = t->cat;
			flags = t->flags;
		}
	} else if (t != NULL) {
		cat = t->cat;
		flags = t->flags;
	} else {
		for (size_t i = 0; i < PH_ARRAY_LEN(cl_replies); i++)
			if (cl_replies[i].code == code) {
				cat = cl_replies[i].cat;
				flags = cl_replies[i].flags;
			}
	}
	out->category = cat;
	out->hard = klass == 5 && (flags & CL_ADDR) != 0;
}
