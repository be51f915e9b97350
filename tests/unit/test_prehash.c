#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "migfile.h"
#include "prehash.h"
#include "unit.h"
#include "util.h"

/* One file's case: its bytes, and whether prehash takes it (else the usual path does). */
struct prehash_case {
	const char *data;
	size_t len;
	bool taken;
	enum mig_format format; /* the layout the file is read in */
};

/*
 * prehash gives a file the checksum mig_read and mig_checksum give its up part, or leaves
 * it (NULL) when that needs more than the whole file: a NUL byte, a down part, another
 * tool's markers, an unreadable file, a file in another tool's layout.
 */
void test_prehash(void)
{
	static const struct prehash_case cases[] = {
		{ "CREATE TABLE t (id int);\n", 25, true, MIG_FORMAT_PGBOOT },
		{ "\xef\xbb\xbfSELECT 1;\r\nSELECT 2;\r\n", 25, true, MIG_FORMAT_PGBOOT },
		{ "", 0, true, MIG_FORMAT_PGBOOT },
		{ "SELECT 1;\n-- pgboot:down\nSELECT 2;\n", 35, false, MIG_FORMAT_PGBOOT },
		{ "-- migrate:up\nSELECT 1;\n", 24, false, MIG_FORMAT_PGBOOT },
		{ "SELECT\0 1;\n", 11, false, MIG_FORMAT_PGBOOT },
		/* a drizzle piece without its ";": layout.c's checksum adds one */
		{ "SELECT 1\n", 9, false, MIG_FORMAT_DRIZZLE },
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	struct mig_list list = { .items = xcalloc(n + 1, sizeof(struct migration)), .n = n + 1 };
	struct prehash p;
	size_t steps = 0;

	for (size_t i = 0; i < n; i++) {
		char *path = xstrdup("/tmp/pgboot-unit-XXXXXX");
		int fd = mkstemp(path);

		CHECK(fd >= 0 && write(fd, cases[i].data, cases[i].len) == (ssize_t)cases[i].len);
		close(fd);
		list.items[i] = (struct migration){ .version = (char *)"1", .file = path, .path = path,
						   .format = cases[i].format };
	}
	list.items[n] = (struct migration){ .version = (char *)"2", .file = (char *)"gone",
					     .path = (char *)"/nonexistent/x.sql" };
	prehash_init(&p, &list);
	while (prehash_step(&p))
		steps++;
	CHECK(steps == n + 1);
	for (size_t i = 0; i < n; i++) {
		const struct migration *m = &list.items[i];
		struct buf sql;
		char want[65];

		CHECK((m->sum_ahead != NULL) == cases[i].taken);
		buf_init(&sql);
		if (m->sum_ahead && mig_read(m, &sql) == 0) {
			mig_checksum(sql.data, sql.len, want);
			CHECK_STR(m->sum_ahead, want);
		}
		buf_release(&sql);
	}
	CHECK(list.items[n].sum_ahead == NULL);
	prehash_release(&p);
	for (size_t i = 0; i < n; i++) {
		CHECK(list.items[i].sum_ahead == NULL);
		unlink(list.items[i].path);
		free(list.items[i].path);
	}
	free(list.items);
}

/* Writes text into dir/name. */
static void put(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
	free(path);
}

/*
 * The layout's detection reads every <version>_<name>.sql file whole: mig_scan keeps the
 * checksum of each it can take whole, the same as mig_read and mig_checksum give, so that
 * prehash and the history check do not read it again; a file with a down part keeps none.
 */
void test_detect_sums(void)
{
	char dir[] = "/tmp/pgboot-unit-dir-XXXXXX";
	struct mig_list list;
	struct prehash p;

	CHECK(mkdtemp(dir) != NULL);
	put(dir, "0001_a.sql", "CREATE TABLE a (id int);\n");
	put(dir, "0002_b.sql", "CREATE TABLE b (id int);\n-- pgboot:down\nDROP TABLE b;\n");
	put(dir, "0003_c.sql", "\xef\xbb\xbfSELECT 1;\r\n");
	mig_list_init(&list);
	CHECK(mig_scan(dir, "auto", &list) == ST_OK);
	CHECK(list.n == 3);
	for (size_t i = 0; i < list.n; i++) {
		struct buf sql;
		char want[65];

		CHECK((list.items[i].sum_ahead != NULL) == (i != 1));
		buf_init(&sql);
		if (list.items[i].sum_ahead && mig_read(&list.items[i], &sql) == 0) {
			mig_checksum(sql.data, sql.len, want);
			CHECK_STR(list.items[i].sum_ahead, want);
		}
		buf_release(&sql);
	}
	/* prehash leaves the sums it did not make, and makes none for a file already hashed */
	prehash_init(&p, &list);
	while (prehash_step(&p))
		;
	prehash_release(&p);
	CHECK(list.items[0].sum_ahead != NULL && list.items[1].sum_ahead == NULL);
	for (size_t i = 0; i < list.n; i++) {
		unlink(list.items[i].path);
	}
	mig_list_release(&list);
	CHECK(rmdir(dir) == 0);
}
