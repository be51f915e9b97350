#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "migfile.h"
#include "unit.h"
#include "util.h"

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
	struct migration m = { 1, path, path, 0 };
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

void test_migfile(void)
{
	int64_t v;
	char a[65], b[65];

	CHECK(mig_parse_name("0001_init.sql", &v) == 1 && v == 1);
	CHECK(mig_parse_name("20250101120000_add_users.sql", &v) == 1 && v == 20250101120000);
	CHECK(mig_parse_name("10_x.sql", &v) == 1 && v == 10);
	CHECK(mig_parse_name("1_.sql", &v) == 0);          /* no name */
	CHECK(mig_parse_name("_init.sql", &v) == 0);
	CHECK(mig_parse_name("0001init.sql", &v) == 0);
	CHECK(mig_parse_name("0001_init.txt", &v) == 0);
	CHECK(mig_parse_name("0001_init.sql~", &v) == 0);
	CHECK(mig_parse_name("README.md", &v) == 0);
	CHECK(mig_parse_name("0001_init.down.sql", &v) == 0);
	CHECK(mig_parse_name("99999999999999999999_big.sql", &v) == -1);

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
}
