/*
 * NAME
 *	test_mta_classify - bounce categories from real-world replies
 * DESCRIPTION
 *	Rows of {code, enhanced code, text} as the reply parser leaves them
 *	(enhanced code split off, lines joined by "\n"), written after what
 *	Gmail, Microsoft 365/Outlook, Yahoo, Postfix, Exim, qmail, Mimecast,
 *	Proofpoint, Barracuda and others send, with the category and hard
 *	flag a postmaster would give each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mta/mta_pure.h"

struct cl_row {
	const char *source;
	int code;
	const char *enhanced;
	const char *text;
	enum mta_bounce_category cat;
	int hard;
};

#define GSMTP " a1si1234567qkb.12 - gsmtp"

static const struct cl_row rows[] = {
	/* Gmail / Google Workspace */
	{"gmail no such user", 550, "5.1.1",
	 "The email account that you tried to reach does not exist. Please try\n"
	 "double-checking the recipient's email address for typos or\n"
	 "unnecessary spaces. For more information, go to\n"
	 " https://support.google.com/mail/?p=NoSuchUser" GSMTP,
	 MTA_CAT_UNKNOWN_USER, 1},
	{"gmail disabled", 550, "5.2.1",
	 "The email account that you tried to reach is disabled. Learn more at\n"
	 " https://support.google.com/mail/?p=DisabledUser" GSMTP,
	 MTA_CAT_UNKNOWN_USER, 1},
	{"gmail over quota, permanent", 552, "5.2.2",
	 "The recipient's inbox is out of storage space. Please direct the\n"
	 "recipient to\n https://support.google.com/mail/?p=OverQuotaPerm" GSMTP,
	 MTA_CAT_MAILBOX_FULL, 0},
	{"gmail over quota, temporary", 452, "4.2.2",
	 "The email account that you tried to reach is over quota. Please direct\n"
	 "the recipient to\n https://support.google.com/mail/?p=OverQuotaTemp" GSMTP,
	 MTA_CAT_MAILBOX_FULL, 0},
	{"gmail spam", 550, "5.7.1",
	 "Our system has detected that this message is\nlikely unsolicited mail. To reduce the "
	 "amount of spam sent to Gmail,\nthis message has been blocked. For more information, "
	 "go to\n https://support.google.com/mail/?p=UnsolicitedMessageError" GSMTP,
	 MTA_CAT_POLICY, 0},
	{"gmail rate", 421, "4.7.28",
	 "Our system has detected an unusual rate of\nunsolicited mail originating from your IP "
	 "address. To protect our\nusers from spam, mail sent from your IP address has been\n"
	 "temporarily rate limited." GSMTP,
	 MTA_CAT_RATE_LIMIT, 0},
	{"gmail unauthenticated", 550, "5.7.26",
	 "This mail has been blocked because the sender\nis unauthenticated. Gmail requires all "
	 "senders to authenticate with\neither SPF or DKIM." GSMTP,
	 MTA_CAT_POLICY, 0},
	{"gmail PTR", 550, "5.7.25",
	 "The IP address sending this message does not\nhave a PTR record setup, or the "
	 "corresponding forward DNS entry does\nnot point to the sending IP." GSMTP,
	 MTA_CAT_POLICY, 0},
	{"gmail try again", 421, "4.7.0", "Try again later, closing connection. (EHLO)" GSMTP,
	 MTA_CAT_GREYLIST, 0},
	{"gmail STARTTLS", 530, "5.7.0", "Must issue a STARTTLS command first." GSMTP,
	 MTA_CAT_TLS, 0},
	{"gmail dangerous content", 552, "5.7.0",
	 "This message was blocked because its content presents a potential\nsecurity issue. "
	 "Please visit\n https://support.google.com/mail/?p=BlockedMessage" GSMTP,
	 MTA_CAT_CONTENT, 0},
	{"gmail too big", 552, "5.3.4",
	 "Your message exceeded Google's message size limits." GSMTP, MTA_CAT_CONTENT, 0},
	/* Microsoft 365 / Outlook.com / Exchange */
	{"m365 recipient not found", 550, "5.1.10",
	 "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
	 MTA_CAT_UNKNOWN_USER, 1},
	{"m365 directory-based edge blocking", 550, "5.4.1",
	 "Recipient address rejected: Access denied. AS(201806281) "
	 "[DB5EUR03FT012.eop-EUR03.prod.protection.outlook.com]",
	 MTA_CAT_UNKNOWN_USER, 1},
	{"m365 banned IP", 550, "5.7.606",
	 "Access denied, banned sending IP [203.0.113.5]. To request removal from this list "
	 "please visit https://sender.office.com/ and follow the directions. AS(1430)",
	 MTA_CAT_REPUTATION, 0},
	{"outlook.com block list", 550, "5.7.1",
	 "Unfortunately, messages from [203.0.113.5] weren't sent. Please contact your Internet "
	 "service provider since part of their network is on our block list (S3150).",
	 MTA_CAT_REPUTATION, 0},
	{"m365 busy", 451, "4.7.500",
	 "Server busy. Please try again later from [203.0.113.5]. (S77714) "
	 "[AM0PR01MB1234.eurprd01.prod.exchangelabs.com]",
	 MTA_CAT_RATE_LIMIT, 0},
	{"m365 anonymous", 530, "5.7.57",
	 "Client not authenticated to send mail. Error: 535 5.7.139 Authentication "
	 "unsuccessful",
	 MTA_CAT_POLICY, 0},
	{"m365 mailbox full", 554, "5.2.2",
	 "mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException", MTA_CAT_MAILBOX_FULL,
	 0},
	{"m365 DMARC", 550, "5.7.509",
	 "Access denied, sending domain example.com does not pass DMARC verification and has a "
	 "DMARC policy of reject.",
	 MTA_CAT_POLICY, 0},
	{"exchange loop", 554, "5.4.14", "Hop count exceeded - possible mail loop ATTR34",
	 MTA_CAT_DNS, 0},
	{"exchange no domain", 550, "5.4.4", "SMTPSEND.DNS.NonExistentDomain; nonexistent domain",
	 MTA_CAT_DNS, 1},
	/* Yahoo / AOL */
	{"yahoo no account", 554, "",
	 "delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] "
	 "- mta1234.mail.ne1.yahoo.com",
	 MTA_CAT_UNKNOWN_USER, 1},
	{"yahoo disabled", 554, "",
	 "delivery error: dd Sorry your message to someone@yahoo.com cannot be delivered. This "
	 "mailbox is disabled (554.30). - mta1234.mail.ne1.yahoo.com",
	 MTA_CAT_UNKNOWN_USER, 1},
	{"yahoo TSS04", 421, "4.7.0",
	 "[TSS04] Messages from 203.0.113.5 temporarily deferred due to unexpected volume or "
	 "user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
	 MTA_CAT_REPUTATION, 0},
	{"yahoo spamhaus", 553, "5.7.1",
	 "[BL21] Connections will not be accepted from 203.0.113.5, because the ip is in "
	 "Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
	 MTA_CAT_REPUTATION, 0},
	/* Postfix */
	{"postfix user unknown", 550, "5.1.1",
	 "<bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
	 MTA_CAT_UNKNOWN_USER, 1},
	{"postfix RBL", 554, "5.7.1",
	 "Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org; "
	 "https://www.spamhaus.org/query/ip/203.0.113.5",
	 MTA_CAT_REPUTATION, 0},
	{"postgrey", 450, "4.2.0",
	 "<bob@example.com>: Recipient address rejected: Greylisted, see "
	 "http://postgrey.schweikert.ch/help/example.com.html",
	 MTA_CAT_GREYLIST, 0},
	{"postfix size", 552, "5.3.4", "Message size exceeds fixed limit", MTA_CAT_CONTENT, 0},
	{"postfix reverse hostname", 450, "4.7.1",
	 "Client host rejected: cannot find your reverse hostname, [203.0.113.5]",
	 MTA_CAT_POLICY, 0},
	{"postfix relay", 454, "4.7.1", "<bob@example.com>: Relay access denied", MTA_CAT_POLICY,
	 0},
	{"postfix NXDOMAIN", 550, "5.4.4",
	 "Host or domain name not found. Name service error for name=example.invalid type=A: "
	 "Host not found",
	 MTA_CAT_DNS, 1},
	{"postfix recipient domain, temporary", 450, "4.1.2",
	 "<bob@nonexistent.example>: Recipient address rejected: Domain not found", MTA_CAT_DNS,
	 0},
	{"postfix recipient domain", 550, "5.1.2",
	 "<bob@nonexistent.example>: Recipient address rejected: Domain not found", MTA_CAT_DNS, 1},
	{"postfix sender domain", 553, "5.1.8",
	 "<noreply@sender.example>: Sender address rejected: Domain not found", MTA_CAT_POLICY,
	 0},
	{"postfix sender domain, no code", 450, "",
	 "<noreply@sender.example>: Sender address rejected: Domain not found", MTA_CAT_POLICY,
	 0},
	{"too many recipients", 452, "4.5.3", "Error: too many recipients", MTA_CAT_RATE_LIMIT, 0},
	{"null MX", 556, "5.1.10", "Recipient address has null MX", MTA_CAT_DNS, 1},
	/* Exim */
	{"exim unrouteable", 550, "", "Unrouteable address", MTA_CAT_DNS, 1},
	{"exim no such user", 550, "", "No Such User Here", MTA_CAT_UNKNOWN_USER, 1},
	{"exim local problem", 451, "", "Temporary local problem - please try later",
	 MTA_CAT_OTHER, 0},
	{"exim sender verify", 550, "",
	 "Verification failed for <noreply@sender.example>\nUnrouteable address\n"
	 "Sender verify failed",
	 MTA_CAT_POLICY, 0},
	{"exim too many connections", 421, "",
	 "Too many concurrent SMTP connections from this IP address; please try again later.",
	 MTA_CAT_RATE_LIMIT, 0},
	/* Mimecast */
	{"mimecast invalid recipient", 550, "",
	 "Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 [AbCdEf.uk123]",
	 MTA_CAT_UNKNOWN_USER, 1},
	{"mimecast anti-spoofing", 550, "",
	 "Rejected by header based Anti-Spoofing policy: bob@example.com - "
	 "https://community.mimecast.com/docs/DOC-1369#550 [x]",
	 MTA_CAT_POLICY, 0},
	{"mimecast security policies", 554, "",
	 "Email rejected due to security policies - "
	 "https://community.mimecast.com/docs/DOC-1369#554",
	 MTA_CAT_POLICY, 0},
	{"mimecast internal", 451, "",
	 "Internal resource temporarily unavailable - "
	 "https://community.mimecast.com/docs/DOC-1369#451",
	 MTA_CAT_OTHER, 0},
	/* Proofpoint, Barracuda */
	{"proofpoint blocked", 554, "5.7.1",
	 "Service unavailable; client [203.0.113.5] blocked using prs.proofpoint.com Blocked - "
	 "see https://ipcheck.proofpoint.com/?ip=203.0.113.5",
	 MTA_CAT_REPUTATION, 0},
	{"proofpoint spam", 550, "5.7.1", "Message rejected as spam by Content Filtering.",
	 MTA_CAT_POLICY, 0},
	{"barracuda reputation", 554, "",
	 "Service unavailable; Client host [203.0.113.5] blocked using Barracuda Reputation; "
	 "http://www.barracudanetworks.com/reputation/?pr=1&ip=203.0.113.5",
	 MTA_CAT_REPUTATION, 0},
	{"virus", 550, "5.7.1", "Message contains a virus (Eicar-Test-Signature)",
	 MTA_CAT_CONTENT, 0},
	/* qmail, Lotus Domino, RFC 5321 texts */
	{"qmail rcpthosts", 553, "", "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
	 MTA_CAT_POLICY, 0},
	{"qmail no mailbox", 550, "", "sorry, no mailbox here by that name. (#5.1.1)",
	 MTA_CAT_UNKNOWN_USER, 1},
	{"domino", 550, "", "User not listed in public Name & Address Book", MTA_CAT_UNKNOWN_USER,
	 1},
	{"rfc 5321 550", 550, "", "Requested action not taken: mailbox unavailable",
	 MTA_CAT_UNKNOWN_USER, 1},
	{"550 boilerplate with a policy code stays policy", 550, "5.7.1",
	 "Requested action not taken: mailbox unavailable", MTA_CAT_POLICY, 0},
	{"rfc 5321 551", 551, "", "User not local; please try <forward-path>",
	 MTA_CAT_UNKNOWN_USER, 1},
	{"rfc 5321 552", 552, "", "Requested mail action aborted: exceeded storage allocation",
	 MTA_CAT_MAILBOX_FULL, 0},
	{"rfc 5321 452", 452, "", "Requested action not taken: insufficient system storage",
	 MTA_CAT_MAILBOX_FULL, 0},
	{"milter-greylist", 451, "4.7.1", "Greylisting in action, please come back in 00:05:00",
	 MTA_CAT_GREYLIST, 0},
	{"try again later is greylisting only in 4xx", 550, "",
	 "Rejected, try again later", MTA_CAT_OTHER, 0},
	{"encryption needed", 530, "5.7.10", "Encryption needed", MTA_CAT_TLS, 0},
	{"mailbox moved (RFC 7293)", 550, "5.7.17", "Mailbox owner has changed",
	 MTA_CAT_UNKNOWN_USER, 1},
	{"unknown user, temporary", 450, "4.1.1", "<bob@example.com>: Recipient address "
						 "rejected: unverified address",
	 MTA_CAT_UNKNOWN_USER, 0},
	{"expired", 0, "4.4.7", "delivery time expired", MTA_CAT_OTHER, 0},
	{"class mismatch: enhanced ignored", 550, "4.2.2", "Mailbox full", MTA_CAT_MAILBOX_FULL,
	 0},
	{"no text at all", 550, "", "", MTA_CAT_OTHER, 0},
	{"tls as a word only", 550, "", "Mailbox is in bottlestls storage", MTA_CAT_OTHER, 0},
};

/* Every row of the table. */
static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct mta_classification c = {-1, MTA_CAT_OTHER};

		print_message("%s\n", rows[i].source);
		mta_classify(rows[i].code, rows[i].enhanced, rows[i].text, &c);
		assert_string_equal(mta_bounce_category_str(c.category),
				    mta_bounce_category_str(rows[i].cat));
		assert_int_equal(c.hard, rows[i].hard);
	}
}

/* NULL arguments are an empty code and text; names cover the enum. */
static void
test_edges(void **state)
{
	struct mta_classification c;

	(void)state;
	mta_classify(550, NULL, NULL, &c);
	assert_int_equal(c.category, MTA_CAT_OTHER);
	assert_int_equal(c.hard, 0);
	mta_classify(550, "5.1.1", NULL, &c);
	assert_int_equal(c.category, MTA_CAT_UNKNOWN_USER);
	assert_int_equal(c.hard, 1);
	mta_classify(550, "garbage", "user unknown", &c);
	assert_int_equal(c.category, MTA_CAT_UNKNOWN_USER);
	for (int k = MTA_CAT_UNKNOWN_USER; k <= MTA_CAT_OTHER; k++)
		assert_string_not_equal(mta_bounce_category_str((enum mta_bounce_category)k), "?");
	assert_string_equal(mta_bounce_category_str((enum mta_bounce_category)99), "?");
	assert_string_equal(mta_bounce_category_str(MTA_CAT_RATE_LIMIT), "rate_limit");
}

/* Run the tests above. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
