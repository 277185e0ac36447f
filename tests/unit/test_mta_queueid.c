/*
 * NAME
 *	test_mta_queueid - the remote queue id from real-world 250 replies
 * DESCRIPTION
 *	One row per server family as they answer DATA (the text after the
 *	reply code, with and without the enhanced code the reply parser
 *	strips), then replies that carry no id and junk that must not pass
 *	for one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mta/mta_pure.h"

struct qid_row {
	const char *server;
	const char *text;
	const char *id; /* NULL: none */
};

static const struct qid_row rows[] = {
	/* Postfix (and Fastmail, iCloud, SendGrid, Proofpoint Essentials...) */
	{"Postfix", "2.0.0 Ok: queued as 4Xk2Lm0Z3Yz9", "4Xk2Lm0Z3Yz9"},
	{"Postfix, enhanced code stripped", "Ok: queued as 4Xk2Lm0Z3Yz9", "4Xk2Lm0Z3Yz9"},
	{"Postfix short id", "Ok: queued as 3F2A1C0D4E", "3F2A1C0D4E"},
	{"SendGrid", "Ok: queued as pYRkh_aSQBuNw0eIm1Az3w", "pYRkh_aSQBuNw0eIm1Az3w"},
	{"Yandex", "2.0.0 Ok: queued on mail-nwsmtp-smtp-production-main-45.iva.yp-c.yandex.net "
		   "1694612345-AbCdEfGhIj-XYZ1",
	 "1694612345-AbCdEfGhIj-XYZ1"},
	/* Exim */
	{"Exim", "OK id=1rABCD-000123-4Z", "1rABCD-000123-4Z"},
	{"Exim 4.97 long id", "OK id=1sXyZa-00000001Ab2-3Cde", "1sXyZa-00000001Ab2-3Cde"},
	/* Google */
	{"Gmail", "2.0.0 OK  1700000000 a640c23a62f3a-a9a6c6e7c3dsi123456.66 - gsmtp",
	 "a640c23a62f3a-a9a6c6e7c3dsi123456.66"},
	{"Gmail short", "OK  1604318263 d13si2435621wrn.123 - gsmtp", "d13si2435621wrn.123"},
	/* Microsoft: InternalId (see mta_queueid.c for why) */
	{"Microsoft 365",
	 "2.6.0 <CAF=abc@mail.example.com> [InternalId=12345678, "
	 "Hostname=AM0PR01MB1234.eurprd01.prod.exchangelabs.com] 12345 bytes in 0.123, 45.6 "
	 "KB/sec Queued mail for delivery",
	 "12345678"},
	{"Outlook.com",
	 "2.6.0 <0100018b.abc@email.example.net> [InternalId=15655615023415, "
	 "Hostname=PH0PR10MB5706.namprd10.prod.outlook.com] 10543 bytes in 0.045, 228.767 "
	 "KB/sec Queued mail for delivery -> 250 2.1.5",
	 "15655615023415"},
	{"Exchange on-premises without InternalId",
	 "2.6.0 <a1b2c3@mail.example.com> Queued mail for delivery", "<a1b2c3@mail.example.com>"},
	/* Sendmail family */
	{"Sendmail", "2.0.0 0AB1CDe2012345 Message accepted for delivery", "0AB1CDe2012345"},
	{"Proofpoint (pphosted)", "2.0.0 3qxyz8abcd-1 Message accepted for delivery",
	 "3qxyz8abcd-1"},
	{"OpenSMTPD", "2.0.0 6a1f9c3e Message accepted for delivery", "6a1f9c3e"},
	{"OpenSMTPD before 6.6", "2.0.0: 6a1f9c3e Message accepted for delivery", "6a1f9c3e"},
	/* Others */
	{"Amazon SES", "Ok 0100018b1f2e3d4c-5a6b7c8d-1234-4abc-9def-0123456789ab-000000",
	 "0100018b1f2e3d4c-5a6b7c8d-1234-4abc-9def-0123456789ab-000000"},
	{"Courier", "Ok. 5FBA3F21.00003D5C", "5FBA3F21.00003D5C"},
	{"qmail", "ok 1700000000 qp 12345", "12345"},
	{"Haraka", "Message Queued (A1B2C3D4-E5F6-4789-ABCD-EF0123456789.1)",
	 "A1B2C3D4-E5F6-4789-ABCD-EF0123456789.1"},
	{"Queued!", "Queued! (1700000000-42abc).", "1700000000-42abc"},
	{"fallback ID:", "2.0.0 Message received, ID:AB12CD34", "AB12CD34"},
	{"fallback id", "Accepted, id 5A7B9C0D, thanks", "5A7B9C0D"},
	{"fallback id#", "accepted (id#77f1e2)", "77f1e2"},
	{"multi-line reply", "Ok: queued as 4Xk2Lm0Z3Yz9\nthank you", "4Xk2Lm0Z3Yz9"},
	{"trailing full stop", "2.0.0 Ok: queued as 9A8B7C6D5E.", "9A8B7C6D5E"},
	/* No id given */
	{"Yahoo", "ok dirdel", NULL},
	{"Mailgun", "Great success", NULL},
	{"plain Ok", "2.0.0 Ok", NULL},
	{"OK thanks", "OK thanks", NULL},
	{"okay", "2.0.0 okay 12345", NULL},
	{"Sendmail without id", "2.0.0 Message accepted for delivery", NULL},
	{"queued without id", "Ok: queued as", NULL},
	{"Zoho", "Message received", NULL},
	{"RFC 5321 text", "Requested mail action okay, completed", NULL},
	{"Haraka timing is no id", "Message Queued (0.5 seconds)", NULL},
	{"idle is no id", "idle 12345", NULL},
	{"empty", "", NULL},
	/* Junk */
	{"control byte (as the parser leaves it)", "Ok: queued as AB?CD12", NULL},
	{"quote inside", "Ok: queued as AB\"CD12", NULL},
	{"8-bit", "Ok: queued as AB\xc3\xa9" "CD12", NULL},
	{"too long",
	 "Ok: queued as "
	 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1",
	 NULL},
	{"html", "Ok: queued as <script>", NULL},
};

/* Every row of the table. */
static void
test_table(void **state)
{
	char out[MTA_QUEUE_ID_MAX];

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		int found;

		print_message("%s: %s\n", rows[i].server, rows[i].text);
		memset(out, 'Z', sizeof(out));
		found = mta_remote_queue_id(rows[i].text, out, sizeof(out));
		assert_int_equal(found, rows[i].id != NULL);
		assert_string_equal(out, rows[i].id ? rows[i].id : "");
	}
}

/* The longest id that fits is taken; one more byte, or a small
 * output buffer, gives nothing rather than a truncated id. */
static void
test_lengths(void **state)
{
	char text[MTA_QUEUE_ID_MAX + 32], id[MTA_QUEUE_ID_MAX + 1], out[MTA_QUEUE_ID_MAX];
	char small[8];

	(void)state;
	memset(id, 'a', MTA_QUEUE_ID_MAX - 1);
	id[MTA_QUEUE_ID_MAX - 1] = '\0';
	snprintf(text, sizeof(text), "Ok: queued as %s", id);
	assert_int_equal(mta_remote_queue_id(text, out, sizeof(out)), 1);
	assert_string_equal(out, id);

	memset(id, 'a', MTA_QUEUE_ID_MAX);
	id[MTA_QUEUE_ID_MAX] = '\0';
	snprintf(text, sizeof(text), "Ok: queued as %s", id);
	assert_int_equal(mta_remote_queue_id(text, out, sizeof(out)), 0);

	assert_int_equal(mta_remote_queue_id("Ok: queued as 0123456789", small, sizeof(small)), 0);
	assert_string_equal(small, "");
	assert_int_equal(mta_remote_queue_id("Ok: queued as 0123456", small, sizeof(small)), 1);
	assert_string_equal(small, "0123456");
	assert_int_equal(mta_remote_queue_id(NULL, out, sizeof(out)), 0);
	assert_int_equal(mta_remote_queue_id("Ok: queued as X1", out, 0), 0);
}

/* Replies made of markers and nothing else: no id, and (with the
 * scans bounded) no time quadratic in the reply's length. */
static void
test_marker_floods(void **state)
{
	static const char *const units[] = {"id=(", "queued (", "ok ", "x - gsmtp",
					    "queued on ", "qp ", "(#"};
	static char text[MTA_REPLY_TEXT_MAX];
	char out[MTA_QUEUE_ID_MAX];

	(void)state;
	for (size_t u = 0; u < PH_ARRAY_LEN(units); u++) {
		size_t ul = strlen(units[u]), n = 0;

		while (n + ul < sizeof(text)) {
			memcpy(text + n, units[u], ul);
			n += ul;
		}
		text[n] = '\0';
		assert_int_equal(mta_remote_queue_id(text, out, sizeof(out)), 0);
		assert_string_equal(out, "");
	}
	/* A host name too long to skip is no reason to take its tail. */
	memset(text, 'h', 600);
	memcpy(text, "Ok: queued on ", 14);
	memcpy(text + 600, " 1700000000-AbC", 16);
	assert_int_equal(mta_remote_queue_id(text, out, sizeof(out)), 0);
}

/* Run the tests above. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_marker_floods),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
