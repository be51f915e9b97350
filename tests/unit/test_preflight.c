#include <stdbool.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "preflight.h"
#include "unit.h"

/* Runs preflight_check on text as the up (or down) part of "m/0001_x.sql"; stderr, where its
 * errors go, into err. Returns its result. */
static int check(const char *text, const struct config *cfg, enum lock_mode mode, bool down,
		 struct preflight *out, char *err, size_t size)
{
	struct migration m = { .version = (char *)"1", .file = (char *)"0001_x.sql",
			       .path = (char *)"m/0001_x.sql", .line_offset = down ? 2 : 0 };
	struct buf sql;
	int rc;

	buf_init(&sql);
	buf_puts(&sql, text);
	unit_capture_stderr();
	rc = preflight_check(&m, &sql, cfg, mode, down, out);
	unit_captured_stderr(err, size);
	buf_release(&sql);
	return rc;
}

static void check_counts(const struct config *c)
{
	struct config cfg = *c;
	struct preflight pl;
	char err[1024];

	CHECK(check("CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n", &cfg, LOCK_SESSION, false,
		    &pl, err, sizeof(err)) == 0);
	CHECK(pl.count == 2 && !pl.no_transaction && !pl.wrapped);
	CHECK(check("BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n", &cfg, LOCK_SESSION, false, &pl, err,
		    sizeof(err)) == 0);
	CHECK(pl.wrapped && pl.count == 3);
	CHECK(check("-- only a comment\n", &cfg, LOCK_SESSION, false, &pl, err, sizeof(err)) == 0);
	CHECK(pl.count == 0);
}

/* the directive: first line only; anywhere else it is refused, not taken for a comment */
static void check_directives(const struct config *c)
{
	struct config cfg = *c;
	struct preflight pl;
	char err[1024];

	CHECK(check("-- pgboot:no-transaction\nVACUUM;\n", &cfg, LOCK_SESSION, false, &pl, err,
		    sizeof(err)) == 0);
	CHECK(pl.no_transaction && pl.count == 1);
	CHECK(check("-- about\n  --pgboot:no-transaction\nVACUUM;\n", &cfg, LOCK_SESSION, false, &pl,
		    err, sizeof(err)) < 0);
	CHECK(strstr(err, "m/0001_x.sql:2: \"-- pgboot:no-transaction\" is not on the first line") != NULL);
	CHECK(check("SELECT 1;\n-- pgboot:whatever\n", &cfg, LOCK_SESSION, true, &pl, err,
		    sizeof(err)) < 0);
	CHECK(strstr(err, "m/0001_x.sql:4: \"-- pgboot:whatever\"") != NULL); /* down: lines before */
	CHECK(check("-- pgboot:no-transactoin\nVACUUM;\n", &cfg, LOCK_SESSION, false, &pl, err,
		    sizeof(err)) < 0);
	CHECK(strstr(err, "unknown directive \"pgboot:no-transactoin\"") != NULL);
	/* a mention inside a line is a comment like any other */
	CHECK(check("SELECT 1; -- see pgboot:no-transaction\n", &cfg, LOCK_SESSION, false, &pl, err,
		    sizeof(err)) == 0);
}

/* transaction control, meta-commands, and the settings a no-transaction file cannot run under */
static void check_rules(const struct config *c)
{
	struct config cfg = *c;
	struct preflight pl;
	char err[1024];

	CHECK(check("CREATE TABLE a (id int);\nCOMMIT;\n", &cfg, LOCK_SESSION, false, &pl, err,
		    sizeof(err)) < 0);
	CHECK(strstr(err, "m/0001_x.sql:2:1: COMMIT is not allowed here") != NULL);
	CHECK(check("SELECT 1;\n\\connect other\n", &cfg, LOCK_SESSION, false, &pl, err,
		    sizeof(err)) < 0);
	CHECK(strstr(err, "meta-command") != NULL);
	CHECK(check("-- pgboot:no-transaction\nVACUUM;\n", &cfg, LOCK_TRANSACTION, false, &pl, err,
		    sizeof(err)) < 0);
	CHECK(strstr(err, "migrate.lock = transaction cannot protect") != NULL);
	CHECK(check("-- pgboot:no-transaction\nVACUUM;\n", &cfg, LOCK_TRANSACTION, true, &pl, err,
		    sizeof(err)) < 0);
	CHECK(strstr(err, "the down part of \"m/0001_x.sql\"") != NULL);
	cfg.one_transaction = true;
	CHECK(check("-- pgboot:no-transaction\nVACUUM;\n", &cfg, LOCK_SESSION, false, &pl, err,
		    sizeof(err)) < 0);
	CHECK(strstr(err, "cannot join the one transaction of migrate.transaction = all") != NULL);
	CHECK(check("-- pgboot:no-transaction\nVACUUM;\n", &cfg, LOCK_SESSION, true, &pl, err,
		    sizeof(err)) == 0); /* a down part never joins it */
}

void test_preflight(void)
{
	struct config cfg;

	memset(&cfg, 0, sizeof(cfg));
	check_counts(&cfg);
	check_directives(&cfg);
	check_rules(&cfg);
}
