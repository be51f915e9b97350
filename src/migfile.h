/* migfile: finding, reading and hashing migration files; mapping server positions to them. */
#ifndef PGBOOT_MIGFILE_H
#define PGBOOT_MIGFILE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "util.h"

struct migration {
	int64_t version;
	char *file;      /* "0001_init.sql" */
	char *path;      /* the directory joined with file, as shown in messages */
	int line_offset; /* lines of the file before the SQL at hand: nonzero for a down section */
	const char *sum_ahead; /* its checksum when prehash.c computed it already, or NULL */
};

struct mig_list {
	struct migration *items;
	size_t n;
};

void mig_list_init(struct mig_list *list);
void mig_list_release(struct mig_list *list);

/*
 * Lists dir's migrations (<version>_<name>.sql, version = leading digits), sorted by
 * version. Anything else is skipped with a debug line. Returns ST_OK, ST_CONFIG when the
 * directory cannot be read, or ST_MIGRATION for two files with the same version (both
 * named), for another tool's layout (mig_layout_of_name, drizzle-kit's meta/_journal.json,
 * a folder per migration holding migration.sql), or for .sql files of which pgboot would
 * run none. Errors are logged.
 */
enum status mig_scan(const char *dir, struct mig_list *out);
/*
 * Returns 1 and the version when file is a migration's name, 0 when it is not one, -1
 * when it looks like one but its version does not fit in 63 bits.
 */
int mig_parse_name(const char *file, int64_t *version);
/*
 * The name of the tool whose layout file (a name in a migrations directory) follows, or
 * NULL: "Flyway" for V<version>__<x>.sql, U<version>__, B<version>__ and R__<x>.sql;
 * "golang-migrate" for <version>_<name>.up.sql. pgboot reads neither yet.
 */
const char *mig_layout_of_name(const char *file);

/* A line of a migration that another tool reads as its marker (mig_find_marker). */
struct mig_marker {
	const char *tool;   /* "dbmate", "goose" or "node-pg-migrate" */
	const char *marker; /* the marker as the tool documents it: "-- migrate:up" */
	int line;           /* its line, 1-based */
	int down_line;      /* the line of the first down marker (any tool), 0 when none */
	const char *down;   /* that marker, as documented */
};
/*
 * Finds the first line of sql[0, len) that dbmate, goose or node-pg-migrate reads as one of
 * its markers, looking only at the up part (before a line "-- pgboot:down"). Returns 1 and
 * fills *found, or 0 when there is none. One pass; the lines it accepts are exactly those
 * the tools accept (see migfile.c).
 */
int mig_find_marker(const char *sql, size_t len, struct mig_marker *found);
/*
 * Reads a migration's up part into sql (initialised by the caller): the file without a
 * leading UTF-8 byte order mark, up to a line "-- pgboot:down" if it has one. That part
 * is what runs and what the checksum covers. Returns 0, or -1 after logging (unreadable,
 * a NUL byte, or another tool's marker in the up part: pgboot would run its down part).
 */
int mig_read(const struct migration *m, struct buf *sql);
/*
 * Reads the down part: what follows "-- pgboot:down" in the file, else the companion
 * file <version>_<name>.down.sql. Returns 1 with it in sql, 0 when there is none, -1
 * after logging. *where is set to the file it came from (the caller frees it) and
 * *line_offset to the number of lines before it there.
 */
int mig_read_down(const struct migration *m, struct buf *sql, char **where, int *line_offset);
/* Lowercase hex SHA-256 of data with every CRLF read as LF. */
void mig_checksum(const char *data, size_t len, char out[65]);
/*
 * Converts the server's error position (1-based, in characters) within sql into a 1-based
 * line and column (in characters). Positions past the end map to the last character.
 */
void mig_position(const char *sql, size_t len, int position, int *line, int *column);

/*
 * Writes the next migration file for name in dir (created when missing) and prints its
 * path: numbered like the newest file ("0007" after "0006"), or a UTC timestamp
 * (YYYYmmddHHMMSS) when the directory uses timestamps. name becomes lower case
 * [a-z0-9_]. Returns ST_OK, ST_CONFIG for a bad name or directory (logged).
 */
enum status mig_new(const char *dir, const char *name);

#endif
