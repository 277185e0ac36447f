/*
 * NAME
 *	test_store - unit tests for the store on a temporary SQLite file
 * DESCRIPTION
 *	Accounts and their secrets (format; only yescrypt hashes at rest,
 *	checked in the table and in the raw database and WAL bytes), SMTP
 *	and API key authentication, trusted networks (store_parse_cidr and
 *	store_trust_match tables), the group-commit insert (all or nothing),
 *	the queued walk, and marking a message whose spool record is lost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"

#define ALNUM "abcdefghijklmnopqrstuvwxyz0123456789"

struct fixture {
	char dir[256];
	char path[300];
	struct store *st;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *t = getenv("TMPDIR");
	char err[512];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/ph_store_XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	if (store_open(f->path, &f->st, err, sizeof(err)) != 0) {
		print_error("store_open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static void
remove_db(const struct fixture *f)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	char p[400];

	for (size_t i = 0; i < PH_ARRAY_LEN(suffixes); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
		unlink(p);
	}
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	remove_db(f);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
create_account(struct store *st, const char *name, const char *const *trust, size_t ntrust,
	       struct store_account_secrets *out)
{
	char err[512] = "";

	if (store_account_create(st, name, trust, ntrust, out, err, sizeof(err)) != 0)
		fail_msg("store_account_create(%s): %s", name, err);
}

/* --- open ---------------------------------------------------------------- */

static void
test_open_bad_path(void **state)
{
	struct store *st = NULL;
	char err[512] = "";

	(void)state;
	assert_int_equal(store_open("/nonexistent-ph-dir/sub/store.db", &st, err, sizeof(err)), -1);
	assert_null(st);
	assert_non_null(strstr(err, "/nonexistent-ph-dir/sub/store.db"));
}

/* Reopening finds what was committed; the schema is set up only once. */
static void
test_reopen(void **state)
{
	struct fixture *f = *state;
	struct store_account_secrets a;
	char err[512];
	int64_t id = 0;

	create_account(f->st, "acme", NULL, 0, &a);
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(store_open(f->path, &f->st, err, sizeof(err)), 0);
	assert_int_equal(store_auth_smtp(f->st, a.smtp_username, a.smtp_password, &id), 0);
	assert_int_equal(id, a.account_id);
}

/* --- accounts and secrets ---------------------------------------------------- */

static void
test_account_secrets_format(void **state)
{
	struct fixture *f = *state;
	struct store_account_secrets a, b;

	create_account(f->st, "acme", NULL, 0, &a);
	assert_true(a.account_id > 0);
	/* api_key: "ph_" + 12 key id chars + "_" + 32 secret chars */
	assert_int_equal(strlen(a.api_key), 3 + 12 + 1 + 32);
	assert_memory_equal(a.api_key, "ph_", 3);
	assert_int_equal(strspn(a.api_key + 3, ALNUM), 12);
	assert_int_equal(a.api_key[15], '_');
	assert_int_equal(strspn(a.api_key + 16, ALNUM), 32);
	/* SMTP username: the account name, "-" and 6 random chars */
	assert_int_equal(strlen(a.smtp_username), 4 + 1 + 6);
	assert_memory_equal(a.smtp_username, "acme-", 5);
	assert_int_equal(strspn(a.smtp_username + 5, ALNUM), 6);
	/* SMTP password: 32 random chars */
	assert_int_equal(strlen(a.smtp_password), 32);
	assert_int_equal(strspn(a.smtp_password, ALNUM), 32);

	create_account(f->st, "other", NULL, 0, &b);
	assert_true(b.account_id != a.account_id);
	assert_string_not_equal(a.api_key, b.api_key);
	assert_string_not_equal(a.smtp_password, b.smtp_password);
}

static void
test_account_duplicate(void **state)
{
	struct fixture *f = *state;
	struct store_account_secrets a, b;
	char err[512] = "";
	int64_t id = 0;

	create_account(f->st, "acme", NULL, 0, &a);
	memset(&b, 0x5a, sizeof(b));
	assert_int_equal(store_account_create(f->st, "acme", NULL, 0, &b, err, sizeof(err)), -1);
	assert_string_equal(err, "account 'acme' already exists");
	/* The refused create left nothing half done: the first still works,
	 * and a new name still can be created (no transaction left open). */
	assert_int_equal(store_auth_smtp(f->st, a.smtp_username, a.smtp_password, &id), 0);
	assert_int_equal(id, a.account_id);
	create_account(f->st, "acme2", NULL, 0, &b);
	/* Names are case-sensitive. */
	create_account(f->st, "ACME", NULL, 0, &b);
}

static void
test_account_bad_names(void **state)
{
	static const struct {
		const char *name;
		int rc;
	} rows[] = {
		{"", -1},
		{"has space", -1},
		{"a/b", -1},
		{"a'b", -1},
		{"a;DROP TABLE accounts", -1},
		{"caf\xc3\xa9", -1},
		{"tab\there", -1},
		{"new\nline", -1},
		{"a@b", -1},
		{"-ok_name.1", 0},
		{"A", 0},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0},   /* 64 */
		{"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", -1}, /* 65 */
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct store_account_secrets a;
		char err[512] = "";
		int rc = store_account_create(f->st, rows[i].name, NULL, 0, &a, err, sizeof(err));

		if (rc != rows[i].rc)
			fail_msg("row %zu \"%s\": rc %d, want %d (%s)", i, rows[i].name, rc, rows[i].rc,
				 err);
		if (rc < 0 && strncmp(err, "bad account name '", 18) != 0)
			fail_msg("row %zu: err \"%s\"", i, err);
	}
}

static void
test_account_trust(void **state)
{
	struct fixture *f = *state;
	static const char *const good[] = {"192.0.2.77/24", "2001:db8::1/32", "198.51.100.7"};
	static const char *const bad[] = {"192.0.2.0/24", "10.0.0.0/33"};
	const char *many[STORE_TRUST_MAX + 1];
	struct store_account_secrets a, b;
	struct store_trust t[8];
	char err[512] = "";
	int n;

	create_account(f->st, "acme", good, PH_ARRAY_LEN(good), &a);
	n = store_trust_list(f->st, t, PH_ARRAY_LEN(t));
	assert_int_equal(n, 3);
	assert_string_equal(t[0].text, "192.0.2.0/24"); /* stored as the network */
	assert_int_equal(t[0].family, AF_INET);
	assert_int_equal(t[0].account_id, a.account_id);
	assert_string_equal(t[1].text, "2001:db8::/32");
	assert_int_equal(t[1].family, AF_INET6);
	assert_string_equal(t[2].text, "198.51.100.7/32");
	/* max bounds what is returned */
	assert_int_equal(store_trust_list(f->st, t, 1), 1);
	assert_string_equal(t[0].text, "192.0.2.0/24");

	/* One bad network refuses the whole account, before anything is written. */
	assert_int_equal(store_account_create(f->st, "bad", bad, 2, &b, err, sizeof(err)), -1);
	assert_string_equal(err, "bad --trust network '10.0.0.0/33' (want e.g. 192.0.2.0/24)");
	for (size_t i = 0; i < PH_ARRAY_LEN(many); i++)
		many[i] = "203.0.113.0/24";
	assert_int_equal(store_account_create(f->st, "many", many, PH_ARRAY_LEN(many), &b, err,
					      sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "too many --trust networks"));
	create_account(f->st, "bad", NULL, 0, &b); /* the name is still free */
	assert_int_equal(store_trust_list(f->st, t, PH_ARRAY_LEN(t)), 3);
}

/* A commit by another handle is visible as a new data_version. */
static void
test_data_version(void **state)
{
	struct fixture *f = *state;
	struct store *other;
	struct store_account_secrets a;
	char err[512];
	int64_t v0, v1;

	assert_int_equal(store_open(f->path, &other, err, sizeof(err)), 0);
	v0 = store_data_version(f->st);
	assert_true(v0 >= 0);
	assert_int_equal(store_data_version(f->st), v0);
	create_account(other, "acme", NULL, 0, &a);
	v1 = store_data_version(f->st);
	assert_true(v1 != v0);
	store_close(other);
}

/* --- authentication ---------------------------------------------------------- */

static void
test_auth_smtp(void **state)
{
	struct fixture *f = *state;
	struct store_account_secrets a, b;
	char a_upper[256], a_last[256], a_long[256], a_short[256];

	create_account(f->st, "acme", NULL, 0, &a);
	create_account(f->st, "beta", NULL, 0, &b);
	snprintf(a_upper, sizeof(a_upper), "ACME%s", a.smtp_username + 4);
	snprintf(a_last, sizeof(a_last), "%s", a.smtp_password);
	a_last[31] = a_last[31] == 'a' ? 'b' : 'a';
	snprintf(a_long, sizeof(a_long), "%sx", a.smtp_password);
	snprintf(a_short, sizeof(a_short), "%.31s", a.smtp_password);
	{
		const struct {
			const char *user, *password;
			int rc;
			int64_t id;
		} rows[] = {
			{a.smtp_username, a.smtp_password, 0, a.account_id},
			{b.smtp_username, b.smtp_password, 0, b.account_id},
			{a.smtp_username, b.smtp_password, -1, 0},
			{b.smtp_username, a.smtp_password, -1, 0},
			{a.smtp_username, "", -1, 0},
			{a.smtp_username, a_last, -1, 0},
			{a.smtp_username, a_long, -1, 0},
			{a.smtp_username, a_short, -1, 0},
			{a.smtp_username, a.api_key, -1, 0},
			{a.smtp_username, a.api_key + 16, -1, 0},
			{a_upper, a.smtp_password, -1, 0},
			{"acme", a.smtp_password, -1, 0},
			{"nobody-000000", a.smtp_password, -1, 0},
			{"", a.smtp_password, -1, 0},
			{"' OR '1'='1", "' OR '1'='1", -1, 0},
		};

		for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
			int64_t id = -77;
			int rc = store_auth_smtp(f->st, rows[i].user, rows[i].password, &id);

			if (rc != rows[i].rc)
				fail_msg("row %zu (%s): rc %d, want %d", i, rows[i].user, rc,
					 rows[i].rc);
			/* The id is written only on success. */
			assert_int_equal(id, rc == 0 ? rows[i].id : -77);
		}
	}
}

static void
test_auth_api_key(void **state)
{
	struct fixture *f = *state;
	struct store_account_secrets a, b;
	char mixed[256], flipped[256], longer[256], shorter[256], prefix[256], nosep[256],
		unknown[256];

	create_account(f->st, "acme", NULL, 0, &a);
	create_account(f->st, "beta", NULL, 0, &b);
	/* a's key id with b's secret */
	snprintf(mixed, sizeof(mixed), "%.16s%s", a.api_key, b.api_key + 16);
	snprintf(flipped, sizeof(flipped), "%s", a.api_key);
	flipped[47] = flipped[47] == 'a' ? 'b' : 'a';
	snprintf(longer, sizeof(longer), "%sx", a.api_key);
	snprintf(shorter, sizeof(shorter), "%.47s", a.api_key);
	snprintf(prefix, sizeof(prefix), "pk_%s", a.api_key + 3);
	snprintf(nosep, sizeof(nosep), "%s", a.api_key);
	nosep[15] = 'x';
	snprintf(unknown, sizeof(unknown), "ph_000000000000_%s", a.api_key + 16);
	{
		const struct {
			const char *key;
			int rc;
			int64_t id;
		} rows[] = {
			{a.api_key, 0, a.account_id},
			{b.api_key, 0, b.account_id},
			{mixed, -1, 0},
			{flipped, -1, 0},
			{longer, -1, 0},
			{shorter, -1, 0},
			{prefix, -1, 0},
			{nosep, -1, 0},
			{unknown, -1, 0},
			{"", -1, 0},
			{"ph_", -1, 0},
			{"ph__", -1, 0},
			{a.smtp_password, -1, 0},
			{"ph_' OR 1=1 --_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", -1, 0},
		};

		for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
			int64_t id = -77;
			int rc = store_auth_api_key(f->st, rows[i].key, &id);

			if (rc != rows[i].rc)
				fail_msg("row %zu (%s): rc %d, want %d", i, rows[i].key, rc, rows[i].rc);
			assert_int_equal(id, rc == 0 ? rows[i].id : -77);
		}
	}
}

/* Does the file hold these bytes anywhere? */
static int
file_contains(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0, r;
	char *data;
	int found;

	if (fp == NULL)
		return 0;
	data = malloc(cap);
	assert_non_null(data);
	while ((r = fread(data + n, 1, cap - n, fp)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			data = realloc(data, cap);
			assert_non_null(data);
		}
	}
	fclose(fp);
	found = memmem(data, n, needle, strlen(needle)) != NULL;
	free(data);
	return found;
}

/* Only yescrypt hashes are at rest: not in the table, not in the files. */
static void
test_no_clear_secrets(void **state)
{
	struct fixture *f = *state;
	static const char *const trust[] = {"192.0.2.0/24"};
	struct store_account_secrets a;
	char keyid[13], path[400];
	const char *api_secret;
	sqlite3 *db;
	sqlite3_stmt *q;
	int rows = 0, hashed = 0;

	create_account(f->st, "acme", trust, 1, &a);
	snprintf(keyid, sizeof(keyid), "%.12s", a.api_key + 3);
	api_secret = a.api_key + 16;

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT kind, lookup, secret_hash FROM credentials"
					    " WHERE account_id = ? ORDER BY id",
					    -1, &q, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(q, 1, a.account_id);
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(q, 0);
		const char *lookup = (const char *)sqlite3_column_text(q, 1);
		const char *hash = (const char *)sqlite3_column_text(q, 2);

		rows++;
		if (strcmp(kind, "trust") == 0) {
			assert_string_equal(lookup, "192.0.2.0/24");
			assert_null(hash);
			continue;
		}
		assert_non_null(hash);
		if (strncmp(hash, "$y$", 3) != 0)
			fail_msg("%s credential is not a yescrypt hash: %.8s...", kind, hash);
		hashed++;
		assert_null(strstr(hash, a.smtp_password));
		assert_null(strstr(hash, api_secret));
		assert_null(strstr(lookup, a.smtp_password));
		assert_null(strstr(lookup, api_secret));
		if (strcmp(kind, "api_key") == 0)
			assert_string_equal(lookup, keyid); /* only the key id is in clear */
		else if (strcmp(kind, "smtp") == 0)
			assert_string_equal(lookup, a.smtp_username);
		else
			fail_msg("unexpected credential kind %s", kind);
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	assert_int_equal(rows, 3);
	assert_int_equal(hashed, 2);

	/* Nor anywhere in the bytes on disk (database and WAL). */
	snprintf(path, sizeof(path), "%s", f->path);
	assert_false(file_contains(path, a.smtp_password));
	assert_false(file_contains(path, api_secret));
	snprintf(path, sizeof(path), "%s-wal", f->path);
	assert_false(file_contains(path, a.smtp_password));
	assert_false(file_contains(path, api_secret));
	/* The scan itself works: the username is there in clear. */
	assert_true(file_contains(f->path, a.smtp_username) || file_contains(path, a.smtp_username));
}

/* --- trusted networks --------------------------------------------------------- */

static void
test_parse_cidr(void **state)
{
	static const struct {
		const char *s;
		int rc;
		int family;
		unsigned prefix;
		const char *text;
	} rows[] = {
		{"192.0.2.0/24", 0, AF_INET, 24, "192.0.2.0/24"},
		{"192.0.2.77/24", 0, AF_INET, 24, "192.0.2.0/24"}, /* host bits cleared */
		{"192.0.2.200/25", 0, AF_INET, 25, "192.0.2.128/25"},
		{"192.0.2.255/31", 0, AF_INET, 31, "192.0.2.254/31"},
		{"10.255.255.255/9", 0, AF_INET, 9, "10.128.0.0/9"},
		{"192.0.2.1", 0, AF_INET, 32, "192.0.2.1/32"},
		{"192.0.2.1/32", 0, AF_INET, 32, "192.0.2.1/32"},
		{"0.0.0.0/0", 0, AF_INET, 0, "0.0.0.0/0"},
		{"10.1.2.3/0", 0, AF_INET, 0, "0.0.0.0/0"},
		{"10.1.2.3/033", -1, 0, 0, ""},
		{"10.1.2.3/33", -1, 0, 0, ""},
		{"10.1.2.3/", -1, 0, 0, ""},
		{"10.1.2.3/-1", -1, 0, 0, ""},
		{"10.1.2.3/8x", -1, 0, 0, ""},
		{"10.1.2.3/ 8", -1, 0, 0, ""},
		{"10.1.2.3/8/8", -1, 0, 0, ""},
		{"/8", -1, 0, 0, ""},
		{"", -1, 0, 0, ""},
		{"10.1.2/8", -1, 0, 0, ""},
		{"256.1.2.3/8", -1, 0, 0, ""},
		{"host.example/8", -1, 0, 0, ""},
		{" 10.1.2.3", -1, 0, 0, ""},
		{"2001:db8::1/32", 0, AF_INET6, 32, "2001:db8::/32"},
		{"2001:db8::ff/127", 0, AF_INET6, 127, "2001:db8::fe/127"},
		{"2001:db8:abcd::/33", 0, AF_INET6, 33, "2001:db8:8000::/33"},
		{"::1", 0, AF_INET6, 128, "::1/128"},
		{"::/0", 0, AF_INET6, 0, "::/0"},
		{"ffff::1/0", 0, AF_INET6, 0, "::/0"},
		{"::ffff:192.0.2.1/128", 0, AF_INET6, 128, "::ffff:192.0.2.1/128"},
		{"2001:db8::/128", 0, AF_INET6, 128, "2001:db8::/128"},
		{"2001:db8::/129", -1, 0, 0, ""},
		{"2001:db8:::1/64", -1, 0, 0, ""},
		{"[2001:db8::1]/64", -1, 0, 0, ""},
		{"1234:5678:9abc:def0:1234:5678:9abc:def0:1/64", -1, 0, 0, ""},
		{"0000:0000:0000:0000:0000:0000:0000:0000:0000/64", -1, 0, 0, ""},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct store_trust t;
		int rc = store_parse_cidr(rows[i].s, &t);

		if (rc != rows[i].rc)
			fail_msg("row %zu \"%s\": rc %d, want %d", i, rows[i].s, rc, rows[i].rc);
		if (rc < 0)
			continue;
		assert_int_equal(t.family, rows[i].family);
		assert_int_equal(t.prefix, rows[i].prefix);
		if (strcmp(t.text, rows[i].text) != 0)
			fail_msg("row %zu \"%s\": text %s, want %s", i, rows[i].s, t.text, rows[i].text);
	}
}

static void
test_trust_match(void **state)
{
	static const struct {
		const char *net, *addr;
		int match;
	} rows[] = {
		{"192.0.2.0/24", "192.0.2.1", 1},
		{"192.0.2.0/24", "192.0.2.255", 1},
		{"192.0.2.0/24", "192.0.3.0", 0},
		{"192.0.2.0/24", "192.0.1.255", 0},
		{"192.0.2.128/25", "192.0.2.127", 0},
		{"192.0.2.128/25", "192.0.2.128", 1},
		{"192.0.2.77/24", "192.0.2.1", 1}, /* parsed with host bits cleared */
		{"10.0.0.0/8", "10.255.255.255", 1},
		{"10.0.0.0/8", "11.0.0.0", 0},
		{"10.0.0.0/9", "10.127.0.1", 1},
		{"10.0.0.0/9", "10.128.0.1", 0},
		{"192.0.2.1/32", "192.0.2.1", 1},
		{"192.0.2.1/32", "192.0.2.2", 0},
		{"192.0.2.1/31", "192.0.2.0", 1},
		{"0.0.0.0/0", "203.0.113.9", 1},
		{"0.0.0.0/0", "255.255.255.255", 1},
		{"0.0.0.0/0", "::1", 0}, /* other family */
		{"192.0.2.0/24", "::ffff:192.0.2.1", 0},
		{"2001:db8::/32", "2001:db8:ffff::1", 1},
		{"2001:db8::/32", "2001:db9::1", 0},
		{"2001:db8::/33", "2001:db8:7fff::1", 1},
		{"2001:db8::/33", "2001:db8:8000::", 0},
		{"::1/128", "::1", 1},
		{"::1/128", "::2", 0},
		{"::/0", "::1", 1},
		{"::/0", "192.0.2.1", 0},
		{"2001:db8::fe/127", "2001:db8::ff", 1},
		{"2001:db8::fe/127", "2001:db8::100", 0},
	};

	(void)state;
	for (size_t i = 0; i < PH_ARRAY_LEN(rows); i++) {
		struct store_trust t;
		unsigned char a[16];
		int family = strchr(rows[i].addr, ':') ? AF_INET6 : AF_INET;

		assert_int_equal(store_parse_cidr(rows[i].net, &t), 0);
		assert_int_equal(inet_pton(family, rows[i].addr, a), 1);
		if (store_trust_match(&t, family, a) != rows[i].match)
			fail_msg("row %zu: %s in %s should be %d", i, rows[i].addr, rows[i].net,
				 rows[i].match);
	}
}

/* --- messages ------------------------------------------------------------------ */

struct seen {
	size_t n, stop_after;
	struct {
		char public_id[32];
		char mail_from[256], rcpt[256], status[16];
		int attempts;
		int64_t received_ms, next_attempt_ms;
		uint32_t seg;
		uint64_t off, len;
	} r[16];
};

static int
collect(void *arg, const struct store_queued *q)
{
	struct seen *s = arg;

	if (s->n < PH_ARRAY_LEN(s->r)) {
		snprintf(s->r[s->n].public_id, 32, "%s", q->public_id);
		snprintf(s->r[s->n].mail_from, 256, "%s", q->mail_from);
		snprintf(s->r[s->n].rcpt, 256, "%s", q->rcpt);
		snprintf(s->r[s->n].status, 16, "%s", q->status);
		s->r[s->n].attempts = q->attempts;
		s->r[s->n].received_ms = q->received_ms;
		s->r[s->n].next_attempt_ms = q->next_attempt_ms;
		s->r[s->n].seg = q->spool_seg;
		s->r[s->n].off = q->spool_off;
		s->r[s->n].len = q->spool_len;
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static char *rcpts1[] = {"x@one.example", "x');DROP TABLE messages;--@two.example"};
static char *rcpts2[] = {"z@three.example"};
static char *rcpts3[] = {"w@four.example"};

static void
fill_msgs(struct store_msg m[2], int64_t account_id)
{
	memset(m, 0, 2 * sizeof(*m));
	snprintf(m[0].public_id, sizeof(m[0].public_id), "%s", "0000000003e8aaaa0001");
	m[0].account_id = account_id;
	m[0].mail_from = "o'brien@example.com";
	m[0].message_id_hdr = "<1@example.com>";
	m[0].subject = "Hello";
	m[0].size = 100;
	m[0].spool_seg = 1;
	m[0].spool_off = 0;
	m[0].spool_len = 100;
	m[0].received_ms = 1000;
	m[0].client_ip = "192.0.2.1";
	m[0].helo = "client.example";
	m[0].auth_user = "acme-abcdef";
	m[0].source = "smtp";
	m[0].nrcpt = PH_ARRAY_LEN(rcpts1);
	m[0].rcpts = rcpts1;

	snprintf(m[1].public_id, sizeof(m[1].public_id), "%s", "0000000007d0bbbb0002");
	m[1].account_id = account_id;
	m[1].mail_from = ""; /* a null sender */
	m[1].size = 2000;
	m[1].spool_seg = 1;
	m[1].spool_off = 164;
	m[1].spool_len = 2000;
	m[1].received_ms = 2000;
	m[1].client_ip = "::1";
	m[1].helo = "h\"elo\x01";
	m[1].tls_version = "TLSv1.3";
	m[1].tls_cipher = "TLS_AES_128_GCM_SHA256";
	m[1].source = "api";
	m[1].nrcpt = PH_ARRAY_LEN(rcpts2);
	m[1].rcpts = rcpts2;
}

/* Run one query that yields one integer. */
static int64_t
query_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

/* Run one query that yields one string, copied into out. */
static void
query_text(const char *path, const char *sql, char *out, size_t outlen)
{
	sqlite3 *db;
	sqlite3_stmt *q;

	out[0] = '\0';
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
		snprintf(out, outlen, "%s", sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	sqlite3_close(db);
}

static void
test_insert_walk(void **state)
{
	struct fixture *f = *state;
	struct store_account_secrets a;
	struct store_msg m[2];
	struct seen s;
	char data[1024];

	create_account(f->st, "acme", NULL, 0, &a);
	assert_int_equal(store_queued_count(f->st), 0);
	fill_msgs(m, a.account_id);
	assert_int_equal(store_insert_messages(f->st, m, 2), 0);
	assert_int_equal(store_queued_count(f->st), 3);

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_queued_walk(f->st, collect, &s), 0);
	assert_int_equal(s.n, 3);
	/* Envelope data comes back verbatim: bound, never SQL text. */
	assert_string_equal(s.r[0].public_id, m[0].public_id);
	assert_string_equal(s.r[0].rcpt, rcpts1[0]);
	assert_string_equal(s.r[0].mail_from, "o'brien@example.com");
	assert_string_equal(s.r[1].public_id, m[0].public_id);
	assert_string_equal(s.r[1].rcpt, rcpts1[1]);
	assert_string_equal(s.r[2].public_id, m[1].public_id);
	assert_string_equal(s.r[2].rcpt, rcpts2[0]);
	assert_string_equal(s.r[2].mail_from, "");
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(s.r[i].status, "queued");
		assert_int_equal(s.r[i].attempts, 0);
	}
	assert_int_equal(s.r[0].received_ms, 1000);
	assert_int_equal(s.r[0].next_attempt_ms, 1000); /* due at once */
	assert_int_equal(s.r[0].seg, 1);
	assert_int_equal(s.r[0].off, 0);
	assert_int_equal(s.r[0].len, 100);
	assert_int_equal(s.r[2].received_ms, 2000);
	assert_int_equal(s.r[2].off, 164);
	assert_int_equal(s.r[2].len, 2000);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM messages"), 2);

	/* A callback that returns non-zero stops the walk; that is not an error. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	assert_int_equal(store_queued_walk(f->st, collect, &s), 0);
	assert_int_equal(s.n, 1);
	/* ... and the statement was reset: a full walk works again. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_queued_walk(f->st, collect, &s), 0);
	assert_int_equal(s.n, 3);

	/* One "received" event per recipient, its data JSON escaped. */
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events WHERE type = 'received'"),
			 3);
	query_text(f->path,
		   "SELECT e.data FROM events e JOIN messages m ON m.id = e.message_id"
		   " WHERE m.public_id = '0000000007d0bbbb0002'",
		   data, sizeof(data));
	assert_string_equal(data, "{\"source\":\"api\",\"client_ip\":\"::1\","
				  "\"helo\":\"h\\\"elo\\u0001\",\"auth_user\":null,"
				  "\"mail_from\":\"\",\"size\":2000,"
				  "\"tls\":{\"version\":\"TLSv1.3\","
				  "\"cipher\":\"TLS_AES_128_GCM_SHA256\"}}");
	query_text(f->path,
		   "SELECT domain FROM recipients WHERE rcpt = 'x@one.example'", data,
		   sizeof(data));
	assert_string_equal(data, "one.example");
}

/* The batch is one transaction: one bad message and none is stored. */
static void
test_insert_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	struct store_account_secrets a;
	struct store_msg m[2], batch[2];
	struct seen s;

	create_account(f->st, "acme", NULL, 0, &a);
	fill_msgs(m, a.account_id);
	assert_int_equal(store_insert_messages(f->st, m, 1), 0);
	batch[0] = m[1];
	batch[1] = m[0]; /* its public id is taken */
	batch[1].rcpts = rcpts3;
	batch[1].nrcpt = 1;
	assert_int_equal(store_insert_messages(f->st, batch, 2), -1);
	assert_int_equal(store_queued_count(f->st), 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_queued_walk(f->st, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.r[0].public_id, m[0].public_id);
	assert_string_equal(s.r[1].public_id, m[0].public_id);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM messages"), 1);
	/* The store is usable afterwards (no transaction left open). */
	assert_int_equal(store_insert_messages(f->st, &m[1], 1), 0);
	assert_int_equal(store_queued_count(f->st), 3);
}

static void
test_spool_lost(void **state)
{
	struct fixture *f = *state;
	struct store_account_secrets a;
	struct store_msg m[2];
	struct seen s;
	char data[1024];

	create_account(f->st, "acme", NULL, 0, &a);
	fill_msgs(m, a.account_id);
	assert_int_equal(store_insert_messages(f->st, m, 2), 0);

	assert_int_equal(store_message_spool_lost(f->st, m[0].public_id, "record \"damaged\""), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_queued_walk(f->st, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.r[0].public_id, m[1].public_id);
	assert_int_equal(store_queued_count(f->st), 1);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM recipients r JOIN messages m"
					    " ON m.id = r.message_id WHERE r.status = 'bounced'"
					    " AND m.public_id = '0000000003e8aaaa0001'"),
			 2);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events WHERE type = 'bounced'"),
			 2);
	query_text(f->path, "SELECT data FROM events WHERE type = 'bounced' LIMIT 1", data,
		   sizeof(data));
	assert_string_equal(data, "{\"smtp_code\":null,\"enhanced_code\":\"4.3.0\","
				  "\"response\":\"record \\\"damaged\\\"\"}");

	/* Again: nothing unfinished is left, so no new events. */
	assert_int_equal(store_message_spool_lost(f->st, m[0].public_id, "again"), 0);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM events WHERE type = 'bounced'"),
			 2);
	/* An unknown id changes nothing. */
	assert_int_equal(store_message_spool_lost(f->st, "no-such-id", "x"), 0);
	assert_int_equal(store_queued_count(f->st), 1);
}

/* 12 hex digits of ms time, then 8 random chars. */
static void
test_public_id(void **state)
{
	char a[32], b[32], hex[13];
	uint64_t ms = 0;
	int64_t now = time_now_ms();

	(void)state;
	store_new_public_id(a);
	store_new_public_id(b);
	assert_int_equal(strlen(a), 20);
	memcpy(hex, a, 12);
	hex[12] = '\0';
	assert_int_equal(strspn(hex, "0123456789abcdef"), 12);
	ms = strtoull(hex, NULL, 16);
	assert_true((int64_t)ms >= now - 60000 && (int64_t)ms <= now + 60000);
	assert_int_equal(strspn(a + 12, ALNUM), 8);
	assert_string_not_equal(a, b);
}

/* Dashboard sessions: the token opens its account's session; a wrong,
 * short or deleted token opens none; idle and lifetime limits end it (and
 * delete it); the stored row holds only the token's hash. */
static void
test_sessions(void **state)
{
	struct fixture *f = *state;
	struct store_account_secrets a;
	struct store_session s, g;
	char token[STORE_TOKEN_LEN + 1], t2[STORE_TOKEN_LEN + 1], wrong[STORE_TOKEN_LEN + 1];
	struct timespec nap = {0, 20 * 1000 * 1000};
	sqlite3 *db;
	sqlite3_stmt *q;

	create_account(f->st, "acme", NULL, 0, &a);
	assert_int_equal(store_session_create(f->st, a.account_id, 60000, "192.0.2.1", token, &s), 0);
	assert_int_equal(strlen(token), STORE_TOKEN_LEN);
	assert_int_equal(strspn(token, "0123456789abcdef"), STORE_TOKEN_LEN);
	assert_string_equal(s.account, "acme");
	assert_int_equal(strlen(s.csrf), STORE_TOKEN_LEN);
	assert_string_not_equal(s.csrf, token);
	assert_int_equal(store_session_get(f->st, token, 60000, &g), 0);
	assert_int_equal(g.account_id, a.account_id);
	assert_string_equal(g.csrf, s.csrf);
	assert_int_equal(g.expires_ms, s.expires_ms);
	memcpy(wrong, token, sizeof(wrong));
	wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
	assert_int_equal(store_session_get(f->st, wrong, 60000, &g), -1);
	assert_int_equal(store_session_get(f->st, "abc", 60000, &g), -1);
	assert_int_equal(store_session_get(f->st, "", 60000, &g), -1);

	/* Only the hash is stored. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM web_sessions WHERE"
						" token_hash = ?1 OR csrf = ?1", -1, &q, NULL), SQLITE_OK);
	sqlite3_bind_text(q, 1, token, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 0);
	sqlite3_finalize(q);
	sqlite3_close(db);

	/* Idle: unused longer than the limit, then gone for good. */
	nanosleep(&nap, NULL);
	assert_int_equal(store_session_get(f->st, token, 10, &g), -1);
	assert_int_equal(store_session_get(f->st, token, 60000, &g), -1);

	/* Lifetime: over even when in use. */
	assert_int_equal(store_session_create(f->st, a.account_id, 10, "192.0.2.1", t2, &s), 0);
	assert_int_equal(store_session_get(f->st, t2, 60000, &g), 0);
	nanosleep(&nap, NULL);
	assert_int_equal(store_session_get(f->st, t2, 60000, &g), -1);

	/* Delete. */
	assert_int_equal(store_session_create(f->st, a.account_id, 60000, "192.0.2.1", t2, &s), 0);
	store_session_delete(f->st, t2);
	assert_int_equal(store_session_get(f->st, t2, 60000, &g), -1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_bad_path),
		T(test_reopen),
		T(test_account_secrets_format),
		T(test_account_duplicate),
		T(test_account_bad_names),
		T(test_account_trust),
		T(test_data_version),
		T(test_auth_smtp),
		T(test_auth_api_key),
		T(test_sessions),
		T(test_no_clear_secrets),
		cmocka_unit_test(test_parse_cidr),
		cmocka_unit_test(test_trust_match),
		T(test_insert_walk),
		T(test_insert_all_or_nothing),
		T(test_spool_lost),
		cmocka_unit_test(test_public_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
