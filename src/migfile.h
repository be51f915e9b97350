/* migfile: finding, reading and hashing migration files; mapping server positions to them. */
#ifndef PGBOOT_MIGFILE_H
#define PGBOOT_MIGFILE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "util.h"

/*
 * The layouts pgboot reads (migrate.format; src/layout.c). PGBOOT is 0, so a zeroed
 * struct migration is one of pgboot's own files.
 */
enum mig_format {
	MIG_FORMAT_PGBOOT,
	MIG_FORMAT_DBMATE,
	MIG_FORMAT_GOLANG_MIGRATE,
	MIG_FORMAT_GOOSE,
	MIG_FORMAT_FLYWAY,
	MIG_FORMAT_NODE_PG_MIGRATE,
	MIG_FORMAT_DRIZZLE,
	MIG_FORMAT_AUTO, /* a setting only: detect it from the directory */
};

/*
 * A migration file. Versions are text in canonical form (mig_version_canon): "1" for
 * 0001_x.sql, "1.2" for Flyway's V1_2__x.sql, "20250101120000" for a timestamp, with no
 * length limit. Compare them with mig_version_cmp, never as numbers.
 */
struct migration {
	char *version;      /* canonical; NULL for a repeatable file (Flyway's R__x.sql) */
	char *file;         /* "0001_init.sql" */
	char *path;         /* the directory joined with file, as shown in messages */
	int line_offset;    /* lines of the file before the SQL at hand: nonzero for a down section */
	int64_t created_ms; /* drizzle-kit's journal "when" (ms since 1970), 0 when none */
	enum mig_format format;
	char *down_path;    /* the file of its down part: golang-migrate's .down.sql, Flyway's
			       U<version>__ file; NULL otherwise (pgboot's is looked up on reading) */
	const char *sum_ahead; /* its checksum when prehash.c computed it already, or NULL */
};

struct mig_list {
	struct migration *items;
	size_t n;
	char (*sums)[65]; /* the checksums the items' sum_ahead point to when the layout's
			   * detection read the files whole (mig_scan), or NULL */
};

void mig_list_init(struct mig_list *list);
/* Logs that dir holds .sql files (stray names one) of which pgboot would run none. */
void mig_log_stray(const char *dir, const char *stray);
void mig_list_release(struct mig_list *list);

/*
 * Lists dir's migrations in format (a migrate.format value: "auto" detects it, see
 * layout.h), sorted by version, repeatable files (version NULL) last in the order their
 * tool applies them. For pgboot's own layout: <version>_<name>.sql, version = leading
 * digits; anything else is skipped with a debug line. Returns ST_OK, ST_CONFIG when the
 * directory cannot be read, or ST_MIGRATION for two files with the same version (both
 * named), for another layout than format's (mig_layout_of_name, drizzle-kit's
 * meta/_journal.json, a folder per migration holding migration.sql), or for .sql files
 * of which pgboot would run none. Errors are logged.
 */
enum status mig_scan(const char *dir, const char *format, struct mig_list *out);
/* pgboot's own layout: mig_scan once the format is known to be pgboot. */
enum status mig_scan_pgboot(const char *dir, struct mig_list *out);
/*
 * Returns 1 and the version (canonical, malloc'd: the caller frees it) when file is a
 * migration's name, <version>_<name>.sql, else 0.
 */
int mig_parse_name(const char *file, char **version);

/*
 * The canonical text of the version in text[0, len), malloc'd, or NULL when it is not a
 * version: one or more runs of digits separated by single '.' or '_' (Flyway reads
 * V1_2__x.sql as 1.2). Each run loses its leading zeros ("0" stays), and trailing zero
 * segments go, as Flyway's MigrationVersion drops them (1.0 and 1 are one version):
 * "0001" -> "1", "1_2" -> "1.2", "1.0.0" -> "1", "2024.01.15" -> "2024.1.15".
 */
char *mig_version_canon(const char *text, size_t len);
/*
 * Orders two versions as Flyway does: segment by segment, numerically (digit strings of
 * any length: by length without leading zeros, then by bytes), a missing segment read as
 * 0. For whole numbers this is numeric order. A key that does not start with a digit (a
 * repeatable's history key, mig_history_key) comes after every version, in Flyway's order
 * of repeatable files (by description: '_' read as a space, then by bytes); NULL after
 * everything. Returns <0, 0 or >0.
 */
int mig_version_cmp(const char *a, const char *b);
/*
 * The key of m's row in pgboot's history (its version column): the version, or for a
 * repeatable file its file name ("R__views.sql"), which never starts with a digit.
 */
const char *mig_history_key(const struct migration *m);
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
/* What a marker line says, for the layouts that read them (src/layout.c). */
enum mig_mark { MARK_UP, MARK_DOWN, MARK_NO_TRANSACTION, MARK_ENVSUB_ON, MARK_OTHER };
struct mig_line_mark {
	const char *tool; /* "dbmate", "goose" or "node-pg-migrate" */
	const char *doc;  /* the marker as the tool documents it */
	enum mig_mark what;
};
/*
 * Whether the line [p, e) (no newline; a CR before it is fine) is a marker of dbmate,
 * goose or node-pg-migrate, exactly as that tool reads it: 1 and *out filled, else 0.
 */
int mig_line_marker(const char *p, const char *e, struct mig_line_mark *out);
/* Whether the line [p, p + n) is "-- pgboot:down" (trailing blanks and CR allowed). */
bool mig_is_pgboot_down(const char *p, size_t n);

/*
 * Finds the first line of sql[0, len) that dbmate, goose or node-pg-migrate reads as one of
 * its markers, looking only at the up part (before a line "-- pgboot:down"). Returns 1 and
 * fills *found, or 0 when there is none. One pass; the lines it accepts are exactly those
 * the tools accept (see migfile.c).
 */
int mig_find_marker(const char *sql, size_t len, struct mig_marker *found);
/*
 * Reads a migration's up part into sql (initialised by the caller): the file without a
 * leading UTF-8 byte order mark, up to a line "-- pgboot:down" if it has one (other
 * layouts: layout_read_up). That part is what runs and what the checksum covers. Returns
 * 0, or -1 after logging (unreadable, a NUL byte, or another tool's marker in the up
 * part: pgboot would run its down part).
 */
int mig_read(const struct migration *m, struct buf *sql);
/* Reads the file at path whole into sql, without a leading BOM. Returns 0, or -1 (logged). */
int mig_read_whole(const char *path, struct buf *sql);
/*
 * Reads the down part: what follows "-- pgboot:down" in the file, else the companion
 * file <version>_<name>.down.sql (other layouts: layout_read_down). Returns 1 with it in
 * sql, 0 when there is none, -1 after logging. *where is set to the file it came from
 * (the caller frees it) and *line_offset to the number of lines before it there.
 */
int mig_read_down(const struct migration *m, struct buf *sql, char **where, int *line_offset);
/* Helpers the layouts share (layout.c): a name's ending, a regular file, duplicates. */
bool mig_ends_with(const char *s, const char *suffix);
bool mig_is_regular(const char *path);
/* Two items of the sorted list with one version: ST_MIGRATION naming both (logged). */
enum status mig_check_duplicates(const struct mig_list *list);

/* Lowercase hex SHA-256 of data with every CRLF read as LF. */
void mig_checksum(const char *data, size_t len, char out[65]);
/*
 * pgboot's checksum of m, as its history records it: mig_checksum of the part that runs
 * (mig_read). Returns 0, or -1 when the file cannot be read or is refused (logged).
 */
int mig_file_checksum(const struct migration *m, char out[65]);
/*
 * The checksum of a pgboot-layout file's whole text as mig_read would give its up part
 * (a byte order mark skipped), into out; -1 when that takes more than the whole text: a
 * NUL byte, more than MIG_WHOLE_MAX_BYTES, a down part or another tool's markers.
 */
#define MIG_WHOLE_MAX_BYTES ((size_t)1024 * 1024)
int mig_whole_checksum(const char *text, size_t len, char out[65]);
/*
 * Lowercase hex SHA-256 of the file at path exactly as stored (no BOM removed, CRLF
 * kept): what drizzle's migrator records as a migration's hash. Returns 0, or -1 (logged).
 */
int mig_raw_checksum(const char *path, char out[65]);
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
