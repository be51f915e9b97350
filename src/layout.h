/*
 * layout: other tools' migration layouts (migrate.format), read as the tools read them:
 * which files are migrations, in what order, what their versions are, which part of a
 * file runs on the way up and which is its down part. pgboot's own layout is migfile.c's.
 */
#ifndef PGBOOT_LAYOUT_H
#define PGBOOT_LAYOUT_H

#include "migfile.h"
#include "status.h"
#include "util.h"

/* The format a migrate.format value names. Returns 0, or -1 for an unknown name. */
int layout_format(const char *name, enum mig_format *out);
/* The migrate.format value of f: "pgboot", "dbmate", "golang-migrate", ... */
const char *layout_name(enum mig_format f);
/*
 * Whether name is one of Flyway's: its prefix ('V', 'U', 'B' or 'R'), or 0; *version
 * (canonical, malloc'd; NULL for R__ files) for the caller to free.
 */
char layout_flyway_name(const char *name, char **version);

/* Checksums of files by name, in name order (layout_detect). */
struct layout_sums {
	char **names;
	char (*sums)[65];
	size_t n, cap;
};

/*
 * Detects dir's layout: the one layout its entries (and the markers in its files) match.
 * An empty directory, or one without .sql files, is pgboot's. Returns ST_OK, ST_CONFIG
 * when it cannot be read, or ST_MIGRATION (logged, naming what it saw) when it matches
 * two layouts, or none while it holds .sql files. With sums, the checksums of the files it
 * read whole and found without markers (mig_whole_checksum) are kept there, so that
 * pgboot's layout does not read them again to check them against the history.
 */
enum status layout_detect(const char *dir, enum mig_format *out, struct layout_sums *sums);
/* Gives the files of list that sums holds their checksum (sum_ahead), and frees sums. */
void layout_sums_take(struct layout_sums *sums, struct mig_list *list);
/*
 * Lists dir's migrations in format f (not pgboot's, not auto) into out, sorted: versions
 * by mig_version_cmp, then repeatable files in their tool's order. Returns ST_OK,
 * ST_CONFIG (unreadable directory or journal) or ST_MIGRATION (another layout's files,
 * a bad journal, two files of one version, a migration pgboot cannot run), logged.
 */
enum status layout_scan(const char *dir, enum mig_format f, struct mig_list *out);

/*
 * m's up part as pgboot runs it, into sql (initialised by the caller): the lines of the
 * tool's up section, each line before it left empty so that line numbers stay the file's;
 * with the tool's "no transaction" option, the first line is "-- pgboot:no-transaction".
 * A marker of another tool (or pgboot's "-- pgboot:down") is refused. Returns 0, or -1
 * (logged).
 */
int layout_read_up(const struct migration *m, struct buf *sql);
/* m's down part, as mig_read_down: 1 with it in sql, 0 when there is none, -1 (logged). */
int layout_read_down(const struct migration *m, struct buf *sql, char **where, int *line_offset);

#endif
