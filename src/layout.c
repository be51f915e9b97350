#include "layout.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "split.h"

static const char *const format_names[] = {
	[MIG_FORMAT_PGBOOT] = "pgboot",
	[MIG_FORMAT_DBMATE] = "dbmate",
	[MIG_FORMAT_GOLANG_MIGRATE] = "golang-migrate",
	[MIG_FORMAT_GOOSE] = "goose",
	[MIG_FORMAT_FLYWAY] = "flyway",
	[MIG_FORMAT_NODE_PG_MIGRATE] = "node-pg-migrate",
	[MIG_FORMAT_DRIZZLE] = "drizzle",
	[MIG_FORMAT_AUTO] = "auto",
};

int layout_format(const char *name, enum mig_format *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(format_names); i++) {
		if (strcmp(name, format_names[i]) == 0) {
			*out = (enum mig_format)i;
			return 0;
		}
	}
	return -1;
}

const char *layout_name(enum mig_format f)
{
	return format_names[f];
}


/* ------------------------------------------------------------------------------------ */
/* Reading a file's parts                                                                */

/* The marker lines of one file, as line numbers (1-based; 0: none). */
struct sections {
	int up, down;          /* the tool's up and down markers */
	int first_statement;   /* the first line that is neither blank nor a "--" comment */
	int lines;             /* lines in the file */
	bool up_no_transaction, down_no_transaction;
};

/* dbmate's options after "migrate:up": "transaction:false" among them (its migration.go). */
static bool dbmate_no_transaction(const char *p, const char *e)
{
	const char *opt = "transaction:false";
	size_t n = strlen(opt);

	for (const char *q = p; q + n <= e; q++)
		if (memcmp(q, opt, n) == 0 && (q == p || q[-1] == ' ' || q[-1] == '\t') &&
		    (q + n == e || q[n] == ' ' || q[n] == '\t' || q[n] == '\r'))
			return true;
	return false;
}

static void refuse_foreign(const struct migration *m, int line, const char *marker,
			   const char *tool)
{
	const struct log_field fields[] = {
		{ "hint", "set migrate.format to the file's layout (auto detects it), or delete the "
			  "line" },
		{ NULL, NULL },
	};

	log_event(LOG_ERROR, fields, "%s:%d: \"%s\" is a %s marker, but migrate.format is %s",
		  m->path, line, marker, tool, layout_name(m->format));
}

/* Whether [p, e) is blank or a "--" comment. */
static bool is_comment_or_blank(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v'))
		p++;
	return p == e || (e - p >= 2 && p[0] == '-' && p[1] == '-');
}

/* Notes one line's marker in s. Returns 0, or -1 for a marker m's format does not read. */
static int note_line(const struct migration *m, const char *p, const char *e, int line,
		     struct sections *s)
{
	const char *tool = layout_name(m->format);
	struct mig_line_mark mk;

	if (mig_is_pgboot_down(p, (size_t)(e - p))) {
		refuse_foreign(m, line, "-- pgboot:down", "pgboot");
		return -1;
	}
	if (!mig_line_marker(p, e, &mk)) {
		if (!s->first_statement && !is_comment_or_blank(p, e))
			s->first_statement = line;
		return 0;
	}
	if (strcmp(mk.tool, tool) != 0) {
		refuse_foreign(m, line, mk.doc, mk.tool);
		return -1;
	}
	if (mk.what == MARK_ENVSUB_ON) {
		log_error("%s:%d: \"%s\": pgboot does not substitute environment variables in "
			  "migrations", m->path, line, mk.doc);
		return -1;
	}
	if (mk.what == MARK_UP && !s->up) {
		s->up = line;
		if (m->format == MIG_FORMAT_DBMATE)
			s->up_no_transaction = dbmate_no_transaction(p, e);
	} else if (mk.what == MARK_DOWN && !s->down) {
		s->down = line;
		if (m->format == MIG_FORMAT_DBMATE)
			s->down_no_transaction = dbmate_no_transaction(p, e);
	} else if (mk.what == MARK_NO_TRANSACTION) {
		s->up_no_transaction = s->down_no_transaction = true; /* goose: the whole file */
	}
	return 0;
}

/* Reads the markers of sql[0, len) into s, refusing those of other tools. */
static int find_sections(const struct migration *m, const char *sql, size_t len,
			 struct sections *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t p = 0; p < len;) {
		const char *nl = memchr(sql + p, '\n', len - p);
		size_t end = nl ? (size_t)(nl - sql) : len;

		if (note_line(m, sql + p, sql + end, ++s->lines, s) < 0)
			return -1;
		p = end + 1;
	}
	return 0;
}

/*
 * The rules of the tools that need an up marker: dbmate (pkg/dbmate/migration.go: an up
 * block is required, before the down block, with nothing but comments before it) and
 * goose (internal/sqlparser/parser.go: statements start after "-- +goose Up").
 */
static int check_sections(const struct migration *m, const struct sections *s)
{
	const char *up = m->format == MIG_FORMAT_DBMATE ? "-- migrate:up" : "-- +goose Up";

	if (m->format != MIG_FORMAT_DBMATE && m->format != MIG_FORMAT_GOOSE)
		return 0;
	if (!s->up) {
		log_error("migration \"%s\" has no \"%s\" line, which %s requires", m->path, up,
			  layout_name(m->format));
		return -1;
	}
	if (s->down && s->down < s->up) {
		log_error("%s:%d: the down part comes before \"%s\" (line %d), which %s refuses",
			  m->path, s->down, up, s->up, layout_name(m->format));
		return -1;
	}
	if (s->first_statement && s->first_statement < s->up) {
		log_error("%s:%d: a statement before \"%s\" (line %d), which %s refuses", m->path,
			  s->first_statement, up, s->up, layout_name(m->format));
		return -1;
	}
	return 0;
}

/* The offset of line (1-based) in sql[0, len), or len past the last line. */
static size_t line_start(const char *sql, size_t len, int line)
{
	size_t p = 0;

	for (int i = 1; i < line && p < len; i++) {
		const char *nl = memchr(sql + p, '\n', len - p);

		p = nl ? (size_t)(nl - sql) + 1 : len;
	}
	return p;
}

/*
 * Replaces sql with lines [from, to) of it (1-based; to may be past the end): the lines
 * before from become empty lines when blank_before, else are dropped. With no_txn, the
 * first line written is pgboot's directive instead of what was there.
 */
static void keep_lines(struct buf *sql, int from, int to, bool blank_before, bool no_txn)
{
	size_t start = line_start(sql->data, sql->len, from);
	size_t end = line_start(sql->data, sql->len, to);
	struct buf out;
	int first = 1;

	buf_init(&out);
	if (no_txn) {
		buf_puts(&out, "-- pgboot:no-transaction\n");
		if (blank_before || from == to) {
			first = 2;
		} else { /* the directive takes the place of the first line kept */
			const char *nl = memchr(sql->data + start, '\n', end - start);

			start = nl ? (size_t)(nl - sql->data) + 1 : end;
		}
	}
	for (int i = first; blank_before && i < from; i++)
		buf_append(&out, "\n", 1);
	buf_append(&out, sql->data + start, end - start);
	buf_release(sql);
	*sql = out;
}

/* The lines of the up part: [from, to). node-pg-migrate's src/sqlMigration.ts takes the
 * text from the up marker (or the start) to the down marker when it follows, else to
 * the end; dbmate and goose from their up marker to their down marker. */
static void up_lines(const struct sections *s, int *from, int *to)
{
	*from = s->up ? s->up + 1 : 1;
	*to = s->down > s->up ? s->down : s->lines + 1;
}

/* Whether text[0, n) ends in a statement without its semicolon. */
static bool unterminated(const char *text, size_t n)
{
	struct splitter sp;
	struct stmt st, last = { 0 };
	int rc;

	split_init(&sp, text, n);
	while ((rc = split_next(&sp, &st)) == 1)
		last = st;
	return rc == 0 && last.end > last.start && text[last.end - 1] != ';';
}

/*
 * drizzle-orm's migrator splits a file at every "--> statement-breakpoint" and sends each
 * piece as one query. pgboot cuts statements at semicolons, so a piece whose last
 * statement has none gets one where the breakpoint starts (no line moves).
 */
static void drizzle_breakpoints(struct buf *sql)
{
	static const char mark[] = "--> statement-breakpoint";
	struct buf out;
	size_t p = 0;

	if (!memmem(sql->data, sql->len, mark, strlen(mark)))
		return;
	buf_init(&out);
	for (;;) {
		const char *at = memmem(sql->data + p, sql->len - p, mark, strlen(mark));
		size_t end = at ? (size_t)(at - sql->data) : sql->len;

		buf_append(&out, sql->data + p, end - p);
		if (!at)
			break;
		if (unterminated(sql->data + p, end - p))
			buf_append(&out, ";", 1);
		buf_puts(&out, mark);
		p = end + strlen(mark);
	}
	buf_release(sql);
	*sql = out;
}

int layout_read_up(const struct migration *m, struct buf *sql)
{
	struct sections s;
	int from, to;

	if (mig_read_whole(m->path, sql) < 0 || find_sections(m, sql->data, sql->len, &s) < 0 ||
	    check_sections(m, &s) < 0)
		return -1;
	up_lines(&s, &from, &to);
	if (from != 1 || to <= s.lines)
		keep_lines(sql, from, to, true, s.up_no_transaction);
	if (m->format == MIG_FORMAT_DRIZZLE)
		drizzle_breakpoints(sql);
	return 0;
}

/* A whole file that is a down part (golang-migrate's .down.sql, Flyway's U file). */
static int read_down_file(const struct migration *m, struct buf *sql, char **where)
{
	struct migration view = *m;
	struct sections s;

	view.path = m->down_path;
	*where = xstrdup(m->down_path);
	if (mig_read_whole(m->down_path, sql) < 0 || find_sections(&view, sql->data, sql->len, &s) < 0)
		return -1;
	return 1;
}

int layout_read_down(const struct migration *m, struct buf *sql, char **where, int *line_offset)
{
	struct sections s;
	int to;

	*where = NULL;
	*line_offset = 0;
	if (m->down_path)
		return read_down_file(m, sql, where);
	if (m->format != MIG_FORMAT_DBMATE && m->format != MIG_FORMAT_GOOSE &&
	    m->format != MIG_FORMAT_NODE_PG_MIGRATE)
		return 0; /* drizzle has no down parts; golang-migrate and Flyway keep them apart */
	if (mig_read_whole(m->path, sql) < 0 || find_sections(m, sql->data, sql->len, &s) < 0 ||
	    check_sections(m, &s) < 0)
		return -1;
	if (!s.down)
		return 0;
	/* node-pg-migrate: a down part before the up marker ends there */
	to = s.up > s.down ? s.up : s.lines + 1;
	keep_lines(sql, s.down, to, false, s.down_no_transaction);
	if (!s.down_no_transaction) { /* the marker line itself: an empty line */
		const char *nl = memchr(sql->data, '\n', sql->len);
		size_t cut = nl ? (size_t)(nl - sql->data) : sql->len;

		memmove(sql->data, sql->data + cut, sql->len - cut + 1);
		sql->len -= cut;
	}
	*line_offset = s.down - 1;
	*where = xstrdup(m->path);
	return 1;
}

/* ------------------------------------------------------------------------------------ */
/* Listing a directory                                                                   */

/* A directory's entries, sorted by name (dot files left out). */
struct entry {
	char *name;
	bool dir; /* a directory, or a link or an entry of unknown type (looked at later) */
};
struct entries {
	struct entry *items;
	size_t n;
};

static void entries_release(struct entries *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->items[i].name);
	free(e->items);
	memset(e, 0, sizeof(*e));
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static enum status entries_read(const char *dir, struct entries *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;

	memset(e, 0, sizeof(*e));
	if (!d) {
		log_error("could not open migrations directory \"%s\": %s", dir, strerror(errno));
		return ST_CONFIG;
	}
	while ((errno = 0, de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (e->n == cap) {
			cap = cap ? cap * 2 : 32;
			e->items = xrealloc(e->items, cap * sizeof(*e->items));
		}
		e->items[e->n].dir = de->d_type == DT_DIR || de->d_type == DT_LNK ||
				     de->d_type == DT_UNKNOWN;
		e->items[e->n++].name = xstrdup(de->d_name);
	}
	closedir(d);
	if (errno) {
		log_error("could not read migrations directory \"%s\": %s", dir, strerror(errno));
		entries_release(e);
		return ST_CONFIG;
	}
	if (e->n)
		qsort(e->items, e->n, sizeof(*e->items), by_name);
	return ST_OK;
}

/* What a directory entry is, by its name. */
enum kind {
	K_OTHER,       /* not a migration of any layout */
	K_SQL,         /* a .sql file of no layout */
	K_NAMED,       /* <version>_<name>.sql: pgboot, dbmate, goose, node-pg-migrate */
	K_GOLANG_UP,   /* <version>_<name>.up.sql */
	K_GOLANG_DOWN, /* <version>_<name>.down.sql (also pgboot's companion files) */
	K_FLYWAY_V,    /* V<version>__<description>.sql */
	K_FLYWAY_U,
	K_FLYWAY_B,
	K_FLYWAY_R,    /* R__<description>.sql */
	K_CODE,        /* <version>_<name>.go, .js, .ts...: a migration written in code */
	K_DIR,         /* a folder (or a link, or an entry of unknown type) */
};

/*
 * Flyway's names (its docs, "Naming"; MigrationVersion.java): a prefix V, U or B, a version
 * of digits separated by single '.' or '_', "__", a description, ".sql"; or R__ and a
 * description. Returns the prefix, or 0 when name is not one; *version (canonical) is
 * malloc'd for V, U and B.
 */
char layout_flyway_name(const char *name, char **version)
{
	const char *p = name + 1, *start = p;

	*version = NULL;
	if (name[0] == 'R')
		return strncmp(p, "__", 2) == 0 && mig_ends_with(p + 2, ".sql") ? 'R' : 0;
	if ((name[0] != 'V' && name[0] != 'U' && name[0] != 'B') || *p < '0' || *p > '9')
		return 0;
	for (;;) {
		while (*p >= '0' && *p <= '9')
			p++;
		if (p[0] == '_' && p[1] == '_')
			break;
		if ((*p != '.' && *p != '_') || p[1] < '0' || p[1] > '9')
			return 0;
		p++;
	}
	if (!mig_ends_with(p + 2, ".sql"))
		return 0;
	*version = mig_version_canon(start, (size_t)(p - start));
	return name[0];
}

/* The kind of entry; *version (malloc'd, canonical) for the kinds that have one. */
static enum kind classify(const struct entry *e, char **version)
{
	size_t digits = strspn(e->name, "0123456789");
	const char *rest = e->name + digits;
	static const char *const code[] = { ".go", ".js", ".ts", ".cjs", ".mjs" };
	char prefix = layout_flyway_name(e->name, version);

	if (prefix)
		return prefix == 'V' ? K_FLYWAY_V : prefix == 'U' ? K_FLYWAY_U
		       : prefix == 'B' ? K_FLYWAY_B : K_FLYWAY_R;
	if (digits && rest[0] == '_' && rest[1]) {
		for (size_t i = 0; i < ARRAY_SIZE(code); i++)
			if (mig_ends_with(rest, code[i]))
				return K_CODE;
		if (mig_ends_with(rest, ".sql") && strlen(rest) > 4) {
			*version = mig_version_canon(e->name, digits);
			return mig_ends_with(rest, ".up.sql") ? K_GOLANG_UP
			       : mig_ends_with(rest, ".down.sql") ? K_GOLANG_DOWN : K_NAMED;
		}
	}
	if (mig_ends_with(e->name, ".sql"))
		return K_SQL;
	return e->dir ? K_DIR : K_OTHER;
}

/* For a folder: drizzle-kit's meta/_journal.json, or a folder per migration (migration.sql). */
static bool drizzle_folder(const char *dir, const char *name, bool *journal)
{
	char *path;
	bool found;

	*journal = strcmp(name, "meta") == 0;
	path = xasprintf("%s/%s/%s", dir, name, *journal ? "_journal.json" : "migration.sql");
	found = access(path, F_OK) == 0;
	free(path);
	return found;
}

/* ------------------------------------------------------------------------------------ */
/* Detecting the layout                                                                  */

/* What a directory showed: the first entry (in name order) that shows each layout. */
struct detect {
	const char *example[MIG_FORMAT_AUTO];
	const char *why[MIG_FORMAT_AUTO];
	const char *plain; /* a <version>_<name>.sql file without any marker */
	const char *stray; /* a .sql file of no layout */
	struct layout_sums *sums; /* or NULL */
};

/* Keeps the checksum of a file read whole; names come in name order. */
static void sums_add(struct layout_sums *s, const char *name, const struct buf *sql)
{
	char sum[65];

	if (mig_whole_checksum(sql->data ? sql->data : "", sql->len, sum) < 0)
		return;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->names = xrealloc(s->names, s->cap * sizeof(*s->names));
		s->sums = xrealloc(s->sums, s->cap * sizeof(*s->sums));
	}
	s->names[s->n] = xstrdup(name);
	memcpy(s->sums[s->n++], sum, 65);
}

static int by_string(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

void layout_sums_take(struct layout_sums *sums, struct mig_list *list)
{
	if (sums->n && list->n && !list->sums) {
		list->sums = xcalloc(list->n, sizeof(*list->sums));
		for (size_t i = 0; i < list->n; i++) {
			struct migration *m = &list->items[i];
			char **at = bsearch(m->file, sums->names, sums->n, sizeof(*sums->names), by_string);

			if (at && m->format == MIG_FORMAT_PGBOOT) {
				memcpy(list->sums[i], sums->sums[at - sums->names], 65);
				m->sum_ahead = list->sums[i];
			}
		}
	}
	for (size_t i = 0; i < sums->n; i++)
		free(sums->names[i]);
	free(sums->names);
	free(sums->sums);
	memset(sums, 0, sizeof(*sums));
}

static void saw(struct detect *d, enum mig_format f, const char *name, const char *why)
{
	if (!d->example[f]) {
		d->example[f] = name;
		d->why[f] = why;
	}
}


/*
 * Notes the tool whose markers a <version>_<name>.sql file holds, read whole. A file that
 * cannot be read (or is a pipe, or a link to nowhere) shows nothing: it is refused, with
 * its reason, where it is listed or read to run, as in pgboot's own layout.
 */
static void file_markers(const char *dir, const char *name, struct detect *d)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct buf sql;
	struct mig_line_mark mk;
	enum mig_format f = MIG_FORMAT_AUTO;
	size_t p = 0;
	bool readable;

	buf_init(&sql);
	readable = mig_is_regular(path) && read_file(path, &sql) == 0;
	if (readable && sql.len >= 3 && memcmp(sql.data, "\xef\xbb\xbf", 3) == 0)
		p = 3; /* a byte order mark, as mig_read skips it */
	while (readable && p < sql.len && f == MIG_FORMAT_AUTO) {
		const char *nl = memchr(sql.data + p, '\n', sql.len - p);
		size_t end = nl ? (size_t)(nl - sql.data) : sql.len;

		if (mig_is_pgboot_down(sql.data + p, end - p))
			f = MIG_FORMAT_PGBOOT;
		else if (mig_line_marker(sql.data + p, sql.data + end, &mk))
			layout_format(mk.tool, &f);
		p = end + 1;
	}
	if (readable && f == MIG_FORMAT_AUTO && d->sums)
		sums_add(d->sums, name, &sql);
	if (readable && f == MIG_FORMAT_AUTO && !d->plain)
		d->plain = name;
	else if (f != MIG_FORMAT_AUTO)
		saw(d, f, name, f == MIG_FORMAT_PGBOOT ? "a \"-- pgboot:down\" line" : "its markers");
	buf_release(&sql);
	free(path);
}

/* Notes what entry e shows. */
static void detect_entry(const char *dir, const struct entry *e, struct detect *d)
{
	char *version = NULL;
	enum kind k = classify(e, &version);
	bool journal;

	free(version);
	if (k == K_NAMED)
		file_markers(dir, e->name, d);
	else if (k == K_GOLANG_UP)
		saw(d, MIG_FORMAT_GOLANG_MIGRATE, e->name, "<version>_<name>.up.sql files");
	else if (k >= K_FLYWAY_V && k <= K_FLYWAY_R)
		saw(d, MIG_FORMAT_FLYWAY, e->name, "V<version>__<description>.sql, U, B and R__ files");
	else if (k == K_DIR && drizzle_folder(dir, e->name, &journal))
		saw(d, MIG_FORMAT_DRIZZLE, e->name, journal ? "a migration journal, meta/_journal.json"
						: "a folder per migration holding migration.sql");
	else if (k == K_SQL && !d->stray)
		d->stray = e->name;
}

static void log_two_layouts(const char *dir, const struct detect *d, int a, int b)
{
	const struct log_field fields[] = {
		{ "hint", "set migrate.format to the layout to read" },
		{ NULL, NULL },
	};

	log_event(LOG_ERROR, fields, "migrations directory \"%s\" matches two layouts: %s (%s: "
		  "\"%s\") and %s (%s: \"%s\")", dir, format_names[a], d->why[a], d->example[a],
		  format_names[b], d->why[b], d->example[b]);
}

/* The layout d shows: 0 and *out, or -1 (logged) for two layouts or none. */
static int detect_verdict(const char *dir, struct detect *d, enum mig_format *out)
{
	int n = 0;

	/* A file without markers is a node-pg-migrate file in its folder, and a drizzle-kit
	 * journal names its own files; elsewhere it is pgboot's. */
	if (d->plain && !d->example[MIG_FORMAT_NODE_PG_MIGRATE] && !d->example[MIG_FORMAT_DRIZZLE])
		saw(d, MIG_FORMAT_PGBOOT, d->plain, "<version>_<name>.sql files without markers");
	*out = MIG_FORMAT_PGBOOT;
	for (int f = 0; f < MIG_FORMAT_AUTO; f++) {
		if (d->example[f] && ++n == 1) {
			*out = (enum mig_format)f;
		} else if (d->example[f] && n == 2) {
			log_two_layouts(dir, d, (int)*out, f);
			return -1;
		}
	}
	if (n == 0 && d->stray) {
		mig_log_stray(dir, d->stray);
		return -1;
	}
	return 0;
}

enum status layout_detect(const char *dir, enum mig_format *out, struct layout_sums *sums)
{
	struct entries e;
	struct detect d = { .sums = sums };
	enum status st = entries_read(dir, &e);

	for (size_t i = 0; st == ST_OK && i < e.n; i++)
		detect_entry(dir, &e.items[i], &d);
	if (st == ST_OK && detect_verdict(dir, &d, out) < 0)
		st = ST_MIGRATION;
	if (st == ST_OK)
		log_debug("migrations directory \"%s\": %s's layout", dir, format_names[*out]);
	entries_release(&e);
	return st;
}

/* ------------------------------------------------------------------------------------ */
/* Listing a layout's migrations                                                         */

static void add(struct mig_list *out, size_t *cap, struct migration m)
{
	if (out->n == *cap) {
		*cap = *cap ? *cap * 2 : 32;
		out->items = xrealloc(out->items, *cap * sizeof(*out->items));
	}
	out->items[out->n++] = m;
}

/* Versions, then repeatable files in Flyway's order (mig_version_cmp of their keys). */
static int by_version(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;
	int c = mig_version_cmp(mig_history_key(x), mig_history_key(y));

	return c ? c : strcmp(x->file, y->file);
}


/* The layout an entry shows besides f, when it is one of another tool's. */
static enum mig_format foreign(const char *dir, const struct entry *e, enum kind k,
			       enum mig_format f)
{
	bool journal;
	enum mig_format g = MIG_FORMAT_AUTO;

	if (k == K_GOLANG_UP)
		g = MIG_FORMAT_GOLANG_MIGRATE;
	else if (k >= K_FLYWAY_V && k <= K_FLYWAY_R)
		g = MIG_FORMAT_FLYWAY;
	else if (k == K_DIR && drizzle_folder(dir, e->name, &journal))
		g = MIG_FORMAT_DRIZZLE;
	return g == f ? MIG_FORMAT_AUTO : g;
}

/* One entry of a directory in layout f, added to out when it is a migration. */
static enum status scan_entry(const char *dir, const struct entry *e, enum mig_format f,
			      struct mig_list *out, size_t *cap)
{
	char *version = NULL;
	enum kind k = classify(e, &version);
	enum mig_format g = foreign(dir, e, k, f);
	bool named = f == MIG_FORMAT_DBMATE || f == MIG_FORMAT_GOOSE || f == MIG_FORMAT_NODE_PG_MIGRATE;
	struct migration m = { .version = version, .format = f };

	if (g != MIG_FORMAT_AUTO) {
		log_error("migrations directory \"%s\" holds \"%s\", a file of %s's layout, but "
			  "migrate.format is %s", dir, e->name, format_names[g], format_names[f]);
		free(version);
		return ST_MIGRATION;
	}
	if (k == K_CODE && (f == MIG_FORMAT_GOOSE || f == MIG_FORMAT_NODE_PG_MIGRATE)) {
		log_error("migration \"%s/%s\" is written in code: pgboot runs SQL migrations only",
			  dir, e->name);
		free(version);
		return ST_MIGRATION;
	}
	if ((named && k == K_NAMED) || (f == MIG_FORMAT_GOLANG_MIGRATE && k == K_GOLANG_UP) ||
	    (f == MIG_FORMAT_FLYWAY && (k == K_FLYWAY_V || k == K_FLYWAY_R))) {
		m.file = xstrdup(e->name);
		m.path = xasprintf("%s/%s", dir, e->name);
		add(out, cap, m);
		return ST_OK;
	}
	if (k == K_FLYWAY_B)
		log_info("ignoring \"%s/%s\": pgboot runs the versioned files it stands for", dir,
			 e->name);
	else if (k == K_SQL || k == K_NAMED)
		log_warn("ignoring \"%s/%s\": not a migration of %s's layout", dir, e->name,
			 format_names[f]);
	free(version);
	return ST_OK;
}

/* golang-migrate's and Flyway's down parts: a .down.sql or U file of the same version. */
static void attach_downs(const char *dir, const struct entries *e, enum mig_format f,
			 struct mig_list *out)
{
	for (size_t i = 0; i < e->n; i++) {
		char *version = NULL;
		enum kind k = classify(&e->items[i], &version);
		bool down = (f == MIG_FORMAT_GOLANG_MIGRATE && k == K_GOLANG_DOWN) ||
			    (f == MIG_FORMAT_FLYWAY && k == K_FLYWAY_U);
		bool used = false;

		for (size_t j = 0; down && j < out->n && !used; j++) {
			struct migration *m = &out->items[j];

			if (m->version && !m->down_path && mig_version_cmp(m->version, version) == 0) {
				m->down_path = xasprintf("%s/%s", dir, e->items[i].name);
				used = true;
			}
		}
		if (down && !used)
			log_warn("ignoring \"%s/%s\": a down part without its migration", dir,
				 e->items[i].name);
		free(version);
	}
}

/* ------------------------------------------------------------------------------------ */
/* drizzle-kit's journal                                                                 */

/*
 * drizzle-orm's migrator (src/migrator.ts, readMigrationFiles) reads meta/_journal.json's
 * entries in order; each names <tag>.sql, split at "--> statement-breakpoint", and its
 * "when" is the created_at it records. Each entry's "idx" (growing) is its version here.
 */
static int journal_entries(const char *dir, const char *text, struct mig_list *out, size_t *cap)
{
	cJSON *root = cJSON_Parse(text);
	const cJSON *entries = cJSON_GetObjectItemCaseSensitive(root, "entries"), *entry;
	double last = -1;
	int rc = cJSON_IsArray(entries) ? 0 : -1;

	cJSON_ArrayForEach(entry, entries) {
		const cJSON *tag = cJSON_GetObjectItemCaseSensitive(entry, "tag");
		const cJSON *idx = cJSON_GetObjectItemCaseSensitive(entry, "idx");
		const cJSON *when = cJSON_GetObjectItemCaseSensitive(entry, "when");

		if (rc < 0 || !cJSON_IsString(tag) || !*tag->valuestring || strchr(tag->valuestring, '/') ||
		    !cJSON_IsNumber(idx) || idx->valuedouble <= last || idx->valuedouble > 1e15 ||
		    idx->valuedouble != (double)(int64_t)idx->valuedouble) {
			rc = -1;
			break;
		}
		last = idx->valuedouble;
		add(out, cap, (struct migration){ .version = xasprintf("%lld", (long long)last),
						  .file = xasprintf("%s.sql", tag->valuestring),
						  .path = xasprintf("%s/%s.sql", dir, tag->valuestring),
						  .created_ms = cJSON_IsNumber(when) ? (int64_t)when->valuedouble : 0,
						  .format = MIG_FORMAT_DRIZZLE });
	}
	cJSON_Delete(root);
	return rc;
}

static enum status scan_journal(const char *dir, struct mig_list *out, size_t *cap)
{
	char *path = xasprintf("%s/meta/_journal.json", dir);
	struct buf text;
	enum status st = ST_OK;

	buf_init(&text);
	if (read_file(path, &text) < 0) {
		log_error("could not read drizzle-kit's journal \"%s\": %s", path, strerror(errno));
		st = ST_CONFIG;
	} else if (journal_entries(dir, text.data, out, cap) < 0) {
		log_error("drizzle-kit's journal \"%s\" is not what drizzle-kit writes: an object "
			  "with \"entries\", each with \"idx\" (growing), \"when\" and \"tag\"", path);
		st = ST_MIGRATION;
	}
	free(path);
	buf_release(&text);
	return st;
}

/* drizzle-kit's newer layout: <timestamp>_<name>/migration.sql, in name order. */
static enum status scan_folders(const char *dir, const struct entries *e, struct mig_list *out,
				size_t *cap)
{
	for (size_t i = 0; i < e->n; i++) {
		const char *name = e->items[i].name;
		size_t digits = strspn(name, "0123456789");
		bool journal;

		if (!e->items[i].dir || !drizzle_folder(dir, name, &journal) || journal)
			continue;
		if (digits == 0) {
			log_error("migration folder \"%s/%s\" does not start with its timestamp, as "
				  "drizzle-kit names them", dir, name);
			return ST_MIGRATION;
		}
		add(out, cap, (struct migration){ .version = mig_version_canon(name, digits),
						  .file = xasprintf("%s/migration.sql", name),
						  .path = xasprintf("%s/%s/migration.sql", dir, name),
						  .format = MIG_FORMAT_DRIZZLE });
	}
	return ST_OK;
}

static bool listed(const struct mig_list *list, const char *file)
{
	for (size_t i = 0; i < list->n; i++)
		if (strcmp(list->items[i].file, file) == 0)
			return true;
	return false;
}

static enum status scan_drizzle(const char *dir, const struct entries *e, struct mig_list *out,
				size_t *cap)
{
	char *journal = xasprintf("%s/meta/_journal.json", dir);
	bool has_journal = access(journal, F_OK) == 0;
	enum status st;

	free(journal);
	st = has_journal ? scan_journal(dir, out, cap) : scan_folders(dir, e, out, cap);
	for (size_t i = 0; st == ST_OK && i < e->n; i++) {
		char *version = NULL;
		enum kind k = classify(&e->items[i], &version);
		enum mig_format g = foreign(dir, &e->items[i], k, MIG_FORMAT_DRIZZLE);

		free(version);
		if (g != MIG_FORMAT_AUTO) {
			log_error("migrations directory \"%s\" holds \"%s\", a file of %s's layout, but "
				  "migrate.format is drizzle", dir, e->items[i].name, format_names[g]);
			st = ST_MIGRATION;
		} else if ((k == K_SQL || k == K_NAMED) && !listed(out, e->items[i].name)) {
			log_warn("ignoring \"%s/%s\": not in drizzle-kit's journal", dir,
				 e->items[i].name);
		}
	}
	return st;
}

/* Each migration must be a regular file (a dangling link would read as empty). */
static enum status check_files(const struct mig_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		struct stat st;

		if (stat(list->items[i].path, &st) < 0 || !S_ISREG(st.st_mode)) {
			log_error("migration \"%s\" is not a regular file (missing, a dangling link, a "
				  "directory or a pipe)", list->items[i].path);
			return ST_MIGRATION;
		}
	}
	return ST_OK;
}

enum status layout_scan(const char *dir, enum mig_format f, struct mig_list *out)
{
	struct entries e;
	size_t cap = 0;
	enum status st = entries_read(dir, &e);

	if (st == ST_OK && f == MIG_FORMAT_DRIZZLE)
		st = scan_drizzle(dir, &e, out, &cap);
	for (size_t i = 0; st == ST_OK && f != MIG_FORMAT_DRIZZLE && i < e.n; i++)
		st = scan_entry(dir, &e.items[i], f, out, &cap);
	if (st == ST_OK)
		attach_downs(dir, &e, f, out);
	if (st == ST_OK && out->n)
		qsort(out->items, out->n, sizeof(*out->items), by_version);
	if (st == ST_OK)
		st = check_files(out);
	if (st == ST_OK)
		st = mig_check_duplicates(out);
	entries_release(&e);
	return st;
}
