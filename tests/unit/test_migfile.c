#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "migfile.h"
#include "unit.h"
#include "util.h"

static void test_markers(void);

static void check_position(const char *sql, int pos, int want_line, int want_col)
{
	int line, col;

	mig_position(sql, strlen(sql), pos, &line, &col);
	if (line != want_line || col != want_col) {
		fprintf(stderr, "  position %d in \"%s\": got %d:%d, want %d:%d\n", pos, sql, line, col,
			want_line, want_col);
		unit_failures++;
	}
}

/* mig_read of a file holding len bytes of data: its return, and the SQL in sql. */
static int read_migration(const char *data, size_t len, struct buf *sql)
{
	char path[] = "/tmp/pgboot-unit-XXXXXX";
	struct migration m = { .version = (char *)"1", .file = path, .path = path };
	int fd = mkstemp(path), rc = -1;

	CHECK(fd >= 0);
	if (fd < 0)
		return -1;
	CHECK(write(fd, data, len) == (ssize_t)len);
	close(fd);
	rc = mig_read(&m, sql);
	unlink(path);
	return rc;
}

/* Empty files are empty migrations: the SQL is "", terminated, whatever the heap held. */
static void check_read(void)
{
	struct buf sql;

	buf_init(&sql);
	CHECK(read_migration("", 0, &sql) == 0);
	CHECK(sql.data && sql.len == 0 && sql.data[0] == '\0');
	buf_release(&sql);
	CHECK(read_migration("\xef\xbb\xbf", 3, &sql) == 0);
	CHECK(sql.data && sql.len == 0 && sql.data[0] == '\0');
	buf_release(&sql);
	CHECK(read_migration("-- pgboot:down\nDROP TABLE t;\n", 29, &sql) == 0);
	CHECK(sql.data && sql.len == 0 && sql.data[0] == '\0');
	buf_release(&sql);
	CHECK(read_migration("SELECT 1;\n", 10, &sql) == 0);
	CHECK_STR(sql.data, "SELECT 1;\n");
	buf_release(&sql);
	fprintf(stderr, "  (a NUL byte is refused with an error:)\n");
	CHECK(read_migration("SELECT 1;\0", 10, &sql) < 0);
	buf_release(&sql);
}

static void check_name(const char *file, const char *want)
{
	char *v = NULL;
	int rc = mig_parse_name(file, &v);

	CHECK(rc == (want != NULL));
	if (want && rc == 1)
		CHECK_STR(v, want);
	free(v);
}

static void check_canon(const char *text, const char *want)
{
	char *v = mig_version_canon(text, strlen(text));

	if (!want)
		CHECK(v == NULL);
	else
		CHECK_STR(v, want);
	free(v);
}

void test_migfile(void)
{
	char a[65], b[65];

	check_name("0001_init.sql", "1");
	check_name("20250101120000_add_users.sql", "20250101120000");
	check_name("10_x.sql", "10");
	check_name("0000_zero.sql", "0");
	check_name("99999999999999999999_big.sql", "99999999999999999999"); /* no length limit */
	check_name("1_.sql", NULL);          /* no name */
	check_name("_init.sql", NULL);
	check_name("0001init.sql", NULL);
	check_name("0001_init.txt", NULL);
	check_name("0001_init.sql~", NULL);
	check_name("README.md", NULL);
	check_name("0001_init.down.sql", NULL);

	check_canon("0001", "1");
	check_canon("1_2", "1.2");
	check_canon("1.0", "1");
	check_canon("1.0.0", "1");
	check_canon("0", "0");
	check_canon("0.0", "0");
	check_canon("1.0.2", "1.0.2");
	check_canon("2024.01.15", "2024.1.15");
	check_canon("010_002", "10.2");
	check_canon("", NULL);
	check_canon("1.", NULL);
	check_canon(".1", NULL);
	check_canon("1..2", NULL);
	check_canon("1a", NULL);
	check_canon("-1", NULL);

	CHECK(mig_version_cmp("1.9", "1.10") < 0);
	CHECK(mig_version_cmp("1.10", "1.9") > 0);
	CHECK(mig_version_cmp("2", "10") < 0);
	CHECK(mig_version_cmp("1", "1.0") == 0);
	CHECK(mig_version_cmp("1.0.1", "1") > 0);
	CHECK(mig_version_cmp("0001", "1") == 0);
	CHECK(mig_version_cmp("99999999999999999999", "100000000000000000000") < 0);
	CHECK(mig_version_cmp("20250101120000", "20250101120001") < 0);
	CHECK(mig_version_cmp("1.2", "1.2") == 0);
	CHECK(mig_version_cmp("999", "R__views.sql") < 0); /* repeatables' keys come last */
	CHECK(mig_version_cmp("R__a.sql", "R__b.sql") < 0);
	/* Flyway orders repeatable files by description, where '_' is a space */
	CHECK(mig_version_cmp("R__v_1.sql", "R__v1.sql") < 0);
	CHECK(mig_version_cmp("R__a_x.sql", "R__aB.sql") < 0);
	CHECK(mig_version_cmp("R__a_b.sql", "R__a b.sql") > 0);
	CHECK(mig_version_cmp("R__a.sql", NULL) < 0);
	CHECK(mig_version_cmp(NULL, NULL) == 0);

	/* CRLF line ends hash like LF; a lone CR does not. */
	mig_checksum("a\nb\n", 4, a);
	mig_checksum("a\r\nb\r\n", 6, b);
	CHECK_STR(a, b);
	mig_checksum("a\rb\n", 4, b);
	CHECK(strcmp(a, b) != 0);
	mig_checksum("", 0, a);
	CHECK_STR(a, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	mig_checksum("abc", 3, a);
	CHECK_STR(a, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	check_position("SELECT x", 8, 1, 8);
	check_position("SELECT 1;\nSELEC 2;", 11, 2, 1);
	check_position("a\nb\nSELECT  1 FROM nowhere;", 20, 3, 16);
	/* Positions count characters: "é" is two bytes but one column. */
	check_position("-- é\nSELECT é FROM t", 13, 2, 8);
	check_position("é€x", 3, 1, 3);
	/* CRLF: the CR is not a column of its own. */
	check_position("SELECT 1;\r\nBAD", 12, 2, 1);
	check_position("x", 99, 1, 1);
	check_position("", 1, 1, 1);
	check_read();
	test_markers();
}

/* Expects sql to hold tool's marker doc on line (and a down marker on down_line, 0: none). */
static void check_marker(const char *sql, const char *tool, const char *doc, int line, int down_line)
{
	struct mig_marker mk;
	int found = mig_find_marker(sql, strlen(sql), &mk);

	if (!tool) {
		if (found) {
			fprintf(stderr, "  markers: \"%s\" taken for %s's \"%s\" (line %d)\n", sql, mk.tool,
				mk.marker, mk.line);
			unit_failures++;
		}
		return;
	}
	if (!found || strcmp(mk.tool, tool) != 0 || strcmp(mk.marker, doc) != 0 || mk.line != line ||
	    mk.down_line != down_line) {
		fprintf(stderr, "  markers: \"%s\": got %s \"%s\" line %d down %d, want %s \"%s\" line %d "
			"down %d\n", sql, found ? mk.tool : "none", found ? mk.marker : "", found ? mk.line : 0,
			found ? mk.down_line : 0, tool, doc, line, down_line);
		unit_failures++;
	}
}

static void test_markers(void)
{
	/* dbmate: as `dbmate new` writes it, options, spacing, CRLF */
	check_marker("-- migrate:up\n\n\n-- migrate:down\n\n", "dbmate", "-- migrate:up", 1, 4);
	check_marker("-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (x);\n",
		     "dbmate", "-- migrate:up", 1, 0);
	check_marker("--migrate:up\r\nSELECT 1;\r\n--\tmigrate:down\r\n", "dbmate", "-- migrate:up", 1, 3);
	check_marker("-- a comment\nSELECT 1;\n-- migrate:down transaction:false\n", "dbmate",
		     "-- migrate:down", 3, 3);
	/* ... and what dbmate does not take for a marker */
	check_marker("-- migrate: note on this file\nSELECT 1;\n", NULL, NULL, 0, 0);
	check_marker("-- migrate:upgrade the schema\n-- migrate:downtime none\n", NULL, NULL, 0, 0);
	check_marker("-- Migrate:Up\n", NULL, NULL, 0, 0);
	check_marker("SELECT '-- migrate:up';\n  -- migrate:down\n", NULL, NULL, 0, 0);
	check_marker("-- see migrate:up in the dbmate docs\n", NULL, NULL, 0, 0);

	/* goose: any case, "--" anywhere removed, surrounding white space */
	check_marker("-- +goose Up\nCREATE TABLE t (id int);\n-- +goose Down\nDROP TABLE t;\n",
		     "goose", "-- +goose Up", 1, 3);
	check_marker("-- +goose up\n-- +goose statementbegin\nSELECT 1;\n-- +goose statementend\n",
		     "goose", "-- +goose Up", 1, 0);
	check_marker("--+goose   UP \t\n", "goose", "-- +goose Up", 1, 0);
	check_marker("---- +goose DOWN --\n", "goose", "-- +goose Down", 1, 1);
	check_marker("-- +goose NO TRANSACTION\n", "goose", "-- +goose NO TRANSACTION", 1, 0);
	check_marker("-- +goose envsub on\n", "goose", "-- +goose ENVSUB ON", 1, 0);
	check_marker("-- +goose StatementBegin\r\n", "goose", "-- +goose StatementBegin", 1, 0);
	check_marker("SELECT 1;\n-- +goose StatementEnd\n", "goose", "-- +goose StatementEnd", 2, 0);
	/* ... and what goose rejects or ignores: indented, unknown words, two +goose, +GOOSE */
	check_marker("  -- +goose Up\n\t-- +goose Down\n", NULL, NULL, 0, 0);
	check_marker("-- +goose rocks\n-- +goose\n-- +goose +goose up\n", NULL, NULL, 0, 0);
	check_marker("-- +GOOSE Up\n-- goose up\n-- +goose no  transaction\n", NULL, NULL, 0, 0);
	check_marker("SELECT 1; -- +goose Down\n", NULL, NULL, 0, 0);

	/* node-pg-migrate: as `create --migration-file-language sql` writes it, any case, indented */
	check_marker("-- Up Migration\n\n-- Down Migration", "node-pg-migrate", "-- Up Migration", 1, 3);
	check_marker("  ---  up   MIGRATION\nSELECT 1;\n", "node-pg-migrate", "-- Up Migration", 1, 0);
	check_marker("SELECT 1;\n--down migrations follow\n", "node-pg-migrate", "-- Down Migration", 2, 2);
	/* a lone CR starts a line for node-pg-migrate (and for PostgreSQL's comments) */
	check_marker("SELECT 1;\r-- Down Migration\rDROP TABLE t;\n", "node-pg-migrate",
		     "-- Down Migration", 1, 1);
	/* ... not these */
	check_marker("-- upmigration\n-- up-migration\n-- the down migration\n", NULL, NULL, 0, 0);
	check_marker("SELECT 1; -- Down Migration\n", NULL, NULL, 0, 0);
	check_marker("/*\n-- comment */ -- Up Migration\n", NULL, NULL, 0, 0);

	/* drizzle-kit's breakpoints and pgboot's own directives are no other tool's markers */
	check_marker("CREATE TABLE a (id int);\n--> statement-breakpoint\nCREATE TABLE b (id int);\n",
		     NULL, NULL, 0, 0);
	check_marker("-- pgboot:no-transaction\nSELECT 1;\n-- pgboot:down\nSELECT 2;\n", NULL, NULL, 0, 0);
	/* only the up part counts: markers after "-- pgboot:down" are part of the down part */
	check_marker("CREATE TABLE t (id int);\n-- pgboot:down\n-- migrate:down\nDROP TABLE t;\n",
		     NULL, NULL, 0, 0);
	check_marker("-- Up Migration\nCREATE TABLE t (id int);\n-- pgboot:down\n-- Down Migration\n",
		     "node-pg-migrate", "-- Up Migration", 1, 0);
	/* two tools: the first marker, the first down marker */
	check_marker("-- +goose Up\n-- migrate:down\n", "goose", "-- +goose Up", 1, 2);
	check_marker("", NULL, NULL, 0, 0);
	check_marker("--", NULL, NULL, 0, 0);
	check_marker("\n\r\r\n-", NULL, NULL, 0, 0);

	CHECK_STR(mig_layout_of_name("V1__init.sql"), "Flyway");
	CHECK_STR(mig_layout_of_name("V1_2__x.sql"), "Flyway");
	CHECK_STR(mig_layout_of_name("V2024.01.15__x.sql"), "Flyway");
	CHECK_STR(mig_layout_of_name("R__views.sql"), "Flyway");
	CHECK_STR(mig_layout_of_name("U1__undo.sql"), "Flyway");
	CHECK_STR(mig_layout_of_name("B1__base.sql"), "Flyway");
	CHECK_STR(mig_layout_of_name("V1__.sql"), "Flyway");
	CHECK(mig_layout_of_name("V__x.sql") == NULL);
	CHECK(mig_layout_of_name("V1_x.sql") == NULL);
	CHECK(mig_layout_of_name("V1..2__x.sql") == NULL);
	CHECK(mig_layout_of_name("V1__x.txt") == NULL);
	CHECK(mig_layout_of_name("v1__x.sql") == NULL);
	CHECK(mig_layout_of_name("Views.sql") == NULL);
	CHECK_STR(mig_layout_of_name("0001_init.up.sql"), "golang-migrate");
	CHECK_STR(mig_layout_of_name("20250101120000_add_users.up.sql"), "golang-migrate");
	CHECK(mig_layout_of_name("0001_init.down.sql") == NULL);
	CHECK(mig_layout_of_name("0001_init.sql") == NULL);
	CHECK(mig_layout_of_name("setup.up.sql") == NULL);
	CHECK(mig_layout_of_name("README.md") == NULL);
}
