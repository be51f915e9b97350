#include "migfile.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"
#include "log.h"

void mig_log_stray(const char *dir, const char *stray)
{
	const struct log_field fields[] = {
		{ "hint", "name them <version>_<name>.sql (0001_init.sql, "
			  "20250101120000_add_users.sql), or point migrate.dir at the right directory" },
		{ NULL, NULL },
	};

	log_event(LOG_ERROR, fields, "migrations directory \"%s\" holds .sql files (\"%s\") but "
		  "no migration pgboot would run, in no layout pgboot knows", dir, stray);
}

void mig_list_init(struct mig_list *list)
{
	list->items = NULL;
	list->n = 0;
	list->sums = NULL;
}

void mig_list_release(struct mig_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->items[i].version);
		free(list->items[i].file);
		free(list->items[i].path);
		free(list->items[i].down_path);
	}
	free(list->items);
	free(list->sums);
	mig_list_init(list);
}

bool mig_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

char *mig_version_canon(const char *text, size_t len)
{
	struct buf b;
	size_t i = 0, keep = 0;

	if (len == 0)
		return NULL;
	buf_init(&b);
	while (i < len) {
		size_t start = i;

		while (i < len && is_digit(text[i]))
			i++;
		if (i == start || (i < len && (text[i] != '.' && text[i] != '_')) ||
		    (i < len && i + 1 == len)) {
			buf_release(&b);
			return NULL; /* an empty segment, another character, or a trailing separator */
		}
		while (start + 1 < i && text[start] == '0')
			start++;
		if (b.len)
			buf_append(&b, ".", 1);
		buf_append(&b, text + start, i - start);
		if (keep == 0 || !(i - start == 1 && text[start] == '0'))
			keep = b.len; /* the end of the last segment that is not zero (or the first) */
		i += i < len;
	}
	b.data[b.len = keep] = '\0';
	return buf_detach(&b);
}

/* The next segment of version *p: its digits without leading zeros, as [*s, *s + *n). */
static void next_segment(const char **p, const char **s, size_t *n)
{
	const char *q = *p;

	while (*q == '0' && is_digit(q[1]))
		q++;
	*s = q;
	while (is_digit(*q))
		q++;
	*n = (size_t)(q - *s);
	if (*s + 1 == q && **s == '0')
		*n = 0; /* zero: the same as a missing segment */
	*p = *q ? q + 1 : q; /* past the '.' (or whatever a key not canonical holds there) */
}

/*
 * Repeatable files' keys (their names) in Flyway's order, by description: '_' reads as a
 * space; names that read alike are ordered by their bytes.
 */
static int key_cmp(const char *a, const char *b)
{
	const char *x = a, *y = b;

	for (; *x && *y; x++, y++) {
		unsigned char c = *x == '_' ? ' ' : (unsigned char)*x;
		unsigned char d = *y == '_' ? ' ' : (unsigned char)*y;

		if (c != d)
			return c < d ? -1 : 1;
	}
	if (*x || *y)
		return *x ? 1 : -1;
	return strcmp(a, b);
}

int mig_version_cmp(const char *a, const char *b)
{
	if (!a || !b)
		return (a == NULL) - (b == NULL);
	if (!is_digit(*a) || !is_digit(*b))
		return is_digit(*a) ? -1 : is_digit(*b) ? 1 : key_cmp(a, b);
	while (*a || *b) {
		const char *x, *y;
		size_t nx, ny;
		int c;

		next_segment(&a, &x, &nx);
		next_segment(&b, &y, &ny);
		if (nx != ny)
			return nx < ny ? -1 : 1;
		if ((c = memcmp(x, y, nx)) != 0)
			return c;
	}
	return 0;
}

const char *mig_history_key(const struct migration *m)
{
	return m->version ? m->version : m->file;
}

int mig_parse_name(const char *file, char **version)
{
	size_t digits = strspn(file, "0123456789");
	const char *p = file + digits;

	/* A name after the underscore, a .sql ending, and not a down migration. */
	if (digits == 0 || *p != '_' || p[1] == '\0' || !mig_ends_with(p + 1, ".sql") ||
	    strlen(p + 1) <= 4 || mig_ends_with(p + 1, ".down.sql"))
		return 0;
	*version = mig_version_canon(file, digits);
	return 1;
}

static int by_version(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;
	int c = mig_version_cmp(x->version, y->version);

	return c ? c : strcmp(x->file, y->file);
}

bool mig_is_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

enum status mig_check_duplicates(const struct mig_list *list)
{
	for (size_t i = 1; i < list->n; i++) {
		const char *v = list->items[i].version;

		if (v && mig_version_cmp(v, list->items[i - 1].version) == 0) {
			log_error("migrations \"%s\" and \"%s\" have the same version %s",
				  list->items[i - 1].path, list->items[i].path, v);
			return ST_MIGRATION;
		}
	}
	return ST_OK;
}

const char *mig_layout_of_name(const char *file)
{
	char *version = NULL;
	bool golang;

	if (layout_flyway_name(file, &version)) {
		free(version);
		return "Flyway";
	}
	/* golang-migrate: <version>_<name>.up.sql beside <version>_<name>.down.sql */
	golang = mig_ends_with(file, ".up.sql") && mig_parse_name(file, &version) == 1;
	free(version);
	return golang ? "golang-migrate" : NULL;
}

/* What a directory showed besides pgboot's migrations. */
struct layout_seen {
	const char *tool;   /* another tool's layout, NULL when none was seen */
	const char *what;   /* what showed it, for the message */
	char *example;      /* the entry that showed it (the first in name order) */
	char *stray;        /* the first .sql file (in name order) that pgboot does not run */
};

static void note_name(char **slot, const char *name)
{
	if (!*slot || strcmp(name, *slot) < 0) {
		free(*slot);
		*slot = xstrdup(name);
	}
}

static void note_layout(struct layout_seen *seen, const char *tool, const char *what,
			const char *name)
{
	if (seen->example && strcmp(name, seen->example) >= 0)
		return;
	seen->tool = tool;
	seen->what = what;
	note_name(&seen->example, name);
}

/* A folder in the migrations directory: drizzle-kit's meta/, or a folder per migration. */
static void note_folder(const char *dir, const char *name, struct layout_seen *seen)
{
	bool meta = strcmp(name, "meta") == 0;
	char *entry = xasprintf("%s/%s", name, meta ? "_journal.json" : "migration.sql");
	char *path = xasprintf("%s/%s", dir, entry);

	if (access(path, F_OK) == 0) {
		if (meta)
			note_layout(seen, "drizzle-kit", "a migration journal", entry);
		else
			note_layout(seen, "drizzle-kit or Prisma",
				    "a folder per migration holding migration.sql", entry);
	}
	free(entry);
	free(path);
}

/* Looks at an entry that is not one of pgboot's migrations. */
static void note_other(const char *dir, const struct dirent *de, struct layout_seen *seen)
{
	const char *name = de->d_name, *tool = mig_layout_of_name(name);

	if (name[0] == '.')
		return;
	if (tool) {
		note_layout(seen, tool, strcmp(tool, "Flyway") == 0 ?
			    "V<version>__<name>.sql, U, B and R__ files" :
			    "<version>_<name>.up.sql and .down.sql files", name);
	} else if (mig_ends_with(name, ".sql")) {
		note_name(&seen->stray, name);
		if (!mig_ends_with(name, ".down.sql"))
			log_warn("ignoring \"%s/%s\": not named <version>_<name>.sql", dir, name);
	} else if (de->d_type == DT_DIR || de->d_type == DT_LNK || de->d_type == DT_UNKNOWN) {
		note_folder(dir, name, seen);
	} else {
		log_debug("ignoring \"%s/%s\": not a migration file", dir, name);
	}
}

/*
 * Refuses another tool's layout, and .sql files none of which pgboot would run: either
 * way pgboot would apply nothing (or the wrong thing) and start the application.
 */
static enum status check_layout(const char *dir, const struct mig_list *list,
				const struct layout_seen *seen)
{
	char *hint;

	if (seen->tool) {
		hint = xstrdup("set migrate.format to the tool's layout (or auto, which detects it)");
		const struct log_field fields[] = { { "hint", hint }, { NULL, NULL } };

		log_event(LOG_ERROR, fields, "migrations directory \"%s\" looks like %s's layout "
			  "(%s: \"%s\"), but migrate.format is pgboot", dir, seen->tool, seen->what,
			  seen->example);
		free(hint);
		return ST_MIGRATION;
	}
	if (list->n == 0 && seen->stray) {
		mig_log_stray(dir, seen->stray);
		return ST_MIGRATION;
	}
	return ST_OK;
}

enum status mig_scan(const char *dir, const char *format, struct mig_list *out)
{
	enum mig_format f;
	enum status st;

	if (layout_format(format, &f) < 0) {
		log_error("unknown migrate.format \"%s\"", format);
		return ST_CONFIG;
	}
	struct layout_sums sums = { 0 };

	if (f == MIG_FORMAT_AUTO && (st = layout_detect(dir, &f, &sums)) != ST_OK) {
		layout_sums_take(&sums, out);
		return st;
	}
	if (f == MIG_FORMAT_PGBOOT)
		st = mig_scan_pgboot(dir, out);
	else
		st = layout_scan(dir, f, out);
	/* the files detection read whole are not read again to be checked (prehash.c) */
	layout_sums_take(&sums, out);
	return st;
}

enum status mig_scan_pgboot(const char *dir, struct mig_list *out)
{
	struct layout_seen seen = { 0 };
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;
	enum status st = ST_MIGRATION;

	if (!d) {
		log_error("could not open migrations directory \"%s\": %s", dir, strerror(errno));
		return ST_CONFIG;
	}
	while ((errno = 0, de = readdir(d))) {
		char *version = NULL;
		char *path;
		int rc = mig_parse_name(de->d_name, &version);

		if (rc == 0 || mig_layout_of_name(de->d_name)) {
			free(version);
			note_other(dir, de, &seen);
			continue;
		}
		path = xasprintf("%s/%s", dir, de->d_name);
		/* d_type spares a stat per file; links and unknown types are looked up */
		if (de->d_type != DT_REG && !mig_is_regular(path)) {
			log_error("migration \"%s\" is not a regular file (a dangling link, a directory "
				  "or a pipe)", path);
			free(path);
			free(version);
			goto out;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 32;
			out->items = xrealloc(out->items, cap * sizeof(*out->items));
		}
		out->items[out->n++] = (struct migration){ .version = version,
							   .file = xstrdup(de->d_name), .path = path };
	}
	if (errno) {
		log_error("could not read migrations directory \"%s\": %s", dir, strerror(errno));
		st = ST_CONFIG;
		goto out;
	}
	if (out->n)
		qsort(out->items, out->n, sizeof(*out->items), by_version);
	st = check_layout(dir, out, &seen);
	if (st == ST_OK)
		st = mig_check_duplicates(out);
out:
	closedir(d);
	free(seen.example);
	free(seen.stray);
	return st;
}

/*
 * Other tools' markers. A file that carries one is refused before anything runs: pgboot
 * would run it whole, the tool's down part included. Each matcher takes one line [p, e)
 * and accepts what the tool's own parser accepts, no more (ASCII case and white space):
 * - dbmate (pkg/dbmate/migration.go): "^--\s*migrate:(up|down)" then the end of the line
 *   or white space (options such as "transaction:false"); case-sensitive, in column 1.
 *   "-- migrate: note" is an ordinary comment.
 * - goose (internal/sqlparser/parser.go, extractAnnotation): a line that starts with "--"
 *   and holds "+goose" is an annotation when, with every "--" and then the first "+goose"
 *   removed and white space trimmed, it is up, down, statementbegin, statementend,
 *   no transaction, envsub on or envsub off, in any case. A "+goose" line that goose
 *   rejects (indented, an unknown word) is not one: goose never ran such a file.
 * - node-pg-migrate (src/sqlMigration.ts): "^\s*--[\s-]*(up|down)\s+migration", in any
 *   case; its "^" also follows a lone CR, so a line is cut at CRs for it and the others.
 * drizzle-kit's "--> statement-breakpoint" is left alone: a drizzle file has no down part,
 * the line is an SQL comment and pgboot cuts statements itself; a drizzle folder is refused
 * by its meta/_journal.json (mig_scan).
 */
struct marker_def {
	const char *tool;
	const char *doc; /* as the tool documents it */
	bool down;
	enum mig_mark what;
};

enum { MK_DBMATE_UP, MK_DBMATE_DOWN, MK_NPM_UP, MK_NPM_DOWN, MK_GOOSE };

static const struct marker_def marker_defs[] = {
	[MK_DBMATE_UP] = { "dbmate", "-- migrate:up", false, MARK_UP },
	[MK_DBMATE_DOWN] = { "dbmate", "-- migrate:down", true, MARK_DOWN },
	[MK_NPM_UP] = { "node-pg-migrate", "-- Up Migration", false, MARK_UP },
	[MK_NPM_DOWN] = { "node-pg-migrate", "-- Down Migration", true, MARK_DOWN },
	[MK_GOOSE + 0] = { "goose", "-- +goose Up", false, MARK_UP },
	[MK_GOOSE + 1] = { "goose", "-- +goose Down", true, MARK_DOWN },
	[MK_GOOSE + 2] = { "goose", "-- +goose StatementBegin", false, MARK_OTHER },
	[MK_GOOSE + 3] = { "goose", "-- +goose StatementEnd", false, MARK_OTHER },
	[MK_GOOSE + 4] = { "goose", "-- +goose NO TRANSACTION", false, MARK_NO_TRANSACTION },
	[MK_GOOSE + 5] = { "goose", "-- +goose ENVSUB ON", false, MARK_ENVSUB_ON },
	[MK_GOOSE + 6] = { "goose", "-- +goose ENVSUB OFF", false, MARK_OTHER },
};

static const char *const goose_words[] = { "up", "down", "statementbegin", "statementend",
					   "no transaction", "envsub on", "envsub off" };

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static const char *skip_blanks(const char *p, const char *e)
{
	while (p < e && is_blank(*p))
		p++;
	return p;
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* Whether [p, e) starts with word (lower case), in any ASCII case. */
static bool starts_ci(const char *p, const char *e, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(e - p) < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(p[i]) != word[i])
			return false;
	return true;
}

static int dbmate_marker(const char *p, const char *e)
{
	int kind;

	p = skip_blanks(p + 2, e);
	if ((size_t)(e - p) < 8 || memcmp(p, "migrate:", 8) != 0)
		return -1;
	p += 8;
	if ((size_t)(e - p) >= 4 && memcmp(p, "down", 4) == 0)
		kind = MK_DBMATE_DOWN, p += 4;
	else if ((size_t)(e - p) >= 2 && memcmp(p, "up", 2) == 0)
		kind = MK_DBMATE_UP, p += 2;
	else
		return -1;
	return p == e || is_blank(*p) ? kind : -1;
}

static int goose_marker(const char *p, const char *e)
{
	size_t n = (size_t)(e - p), k = 0, i;
	char *s, *g, *w;
	int kind = -1;

	if (!memmem(p, n, "+goose", 6))
		return -1;
	s = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		if (p[i] == '-' && i + 1 < n && p[i + 1] == '-')
			i++; /* goose removes every "--", left to right */
		else
			s[k++] = p[i];
	}
	g = memmem(s, k, "+goose", 6);
	memmove(g, g + 6, k - (size_t)(g - s) - 6);
	k -= 6;
	if (!memmem(s, k, "+goose", 6)) {
		for (w = s; w < s + k && is_blank(*w); w++)
			;
		while (k && is_blank(s[k - 1]))
			k--;
		for (i = 0; i < sizeof(goose_words) / sizeof(*goose_words) && kind < 0; i++)
			if ((size_t)(s + k - w) == strlen(goose_words[i]) &&
			    starts_ci(w, s + k, goose_words[i]))
				kind = MK_GOOSE + (int)i;
	}
	free(s);
	return kind;
}

static int npm_marker(const char *p, const char *e)
{
	int kind;

	for (p += 2; p < e && (is_blank(*p) || *p == '-'); p++)
		;
	if (starts_ci(p, e, "down"))
		kind = MK_NPM_DOWN, p += 4;
	else if (starts_ci(p, e, "up"))
		kind = MK_NPM_UP, p += 2;
	else
		return -1;
	if (p == e || !is_blank(*p))
		return -1;
	return starts_ci(skip_blanks(p, e), e, "migration") ? kind : -1;
}

/* The marker that [p, e), one line, is (an index in marker_defs), or -1. */
static int line_marker(const char *p, const char *e)
{
	const char *q = skip_blanks(p, e);
	int kind = -1;

	if (e - q < 2 || q[0] != '-' || q[1] != '-')
		return -1; /* the common case: SQL, not a comment */
	if (q == p && (kind = dbmate_marker(p, e)) < 0)
		kind = goose_marker(p, e);
	return kind >= 0 ? kind : npm_marker(q, e);
}

int mig_line_marker(const char *p, const char *e, struct mig_line_mark *out)
{
	int kind = line_marker(p, e);

	if (kind < 0)
		return 0;
	*out = (struct mig_line_mark){ marker_defs[kind].tool, marker_defs[kind].doc,
				       marker_defs[kind].what };
	return 1;
}

/* Notes the marker on this line, if any: the first of all, and the first down one. */
static void note_markers(const char *p, const char *e, int line, struct mig_marker *found)
{
	/* a lone CR ends a line for node-pg-migrate (and for PostgreSQL's "--" comments) */
	for (;;) {
		const char *cr = memchr(p, '\r', (size_t)(e - p));
		int kind = line_marker(p, cr ? cr : e);

		if (kind >= 0 && !found->tool) {
			found->tool = marker_defs[kind].tool;
			found->marker = marker_defs[kind].doc;
			found->line = line;
		}
		if (kind >= 0 && marker_defs[kind].down && !found->down_line) {
			found->down_line = line;
			found->down = marker_defs[kind].doc;
		}
		if (!cr)
			return;
		p = cr + 1;
	}
}

bool mig_is_pgboot_down(const char *p, size_t n)
{
	while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return n == strlen("-- pgboot:down") && memcmp(p, "-- pgboot:down", n) == 0;
}

/*
 * One pass over the lines: returns the offset of the line "-- pgboot:down" (len when the
 * file has none) and notes in *found the other tools' markers before it.
 */
static size_t scan_lines(const char *sql, size_t len, struct mig_marker *found)
{
	int line = 1;

	memset(found, 0, sizeof(*found));
	for (size_t p = 0; p < len; line++) {
		const char *nl = memchr(sql + p, '\n', len - p);
		size_t end = nl ? (size_t)(nl - sql) : len;

		if (mig_is_pgboot_down(sql + p, end - p))
			return p;
		if (!found->down_line)
			note_markers(sql + p, sql + end, line, found);
		p = end + 1;
	}
	return len;
}

int mig_find_marker(const char *sql, size_t len, struct mig_marker *found)
{
	scan_lines(sql, len, found);
	return found->tool != NULL;
}

/* The offset of the line "-- pgboot:down", or len when the file has none. */
static size_t down_marker(const char *sql, size_t len)
{
	struct mig_marker ignored;

	return scan_lines(sql, len, &ignored);
}

static void refuse_marker(const struct migration *m, const struct mig_marker *mk)
{
	char *detail = NULL, *hint;

	if (mk->down_line)
		detail = xasprintf("its down part starts at line %d (\"%s\"), and pgboot would run it "
				   "on the way up", mk->down_line, mk->down);
	hint = xasprintf("set migrate.format = %s (or auto, which detects it) to read the file as "
			 "%s does, or convert it (README \"Other tools' layouts\")", mk->tool, mk->tool);
	{
		const struct log_field fields[] = { { "detail", detail }, { "hint", hint },
						    { NULL, NULL } };

		log_event(LOG_ERROR, fields, "%s:%d: \"%s\" is a %s marker, but migrate.format is "
			  "pgboot", m->path, mk->line, mk->marker, mk->tool);
	}
	free(detail);
	free(hint);
}

int mig_read_whole(const char *path, struct buf *sql)
{
	static const char bom[] = "\xef\xbb\xbf";
	const char *nul;

	if (read_file(path, sql) < 0) {
		log_error("could not read migration \"%s\": %s", path, strerror(errno));
		return -1;
	}
	/* Only the bytes read are looked at: an empty file has none. */
	nul = memchr(sql->data, '\0', sql->len);
	if (nul) {
		log_error("migration \"%s\" contains a NUL byte at offset %zu", path,
			  (size_t)(nul - sql->data));
		return -1;
	}
	if (sql->len >= 3 && memcmp(sql->data, bom, 3) == 0) {
		memmove(sql->data, sql->data + 3, sql->len - 2);
		sql->len -= 3;
	}
	return 0;
}

int mig_read(const struct migration *m, struct buf *sql)
{
	struct mig_marker mk;

	if (m->format != MIG_FORMAT_PGBOOT)
		return layout_read_up(m, sql);
	if (mig_read_whole(m->path, sql) < 0)
		return -1;
	sql->len = scan_lines(sql->data, sql->len, &mk);
	sql->data[sql->len] = '\0';
	if (mk.tool) {
		refuse_marker(m, &mk);
		return -1;
	}
	return 0;
}

int mig_read_down(const struct migration *m, struct buf *sql, char **where, int *line_offset)
{
	size_t marker, n = strlen(m->path) - strlen(".sql");
	char *companion;

	*where = NULL;
	*line_offset = 0;
	if (m->format != MIG_FORMAT_PGBOOT)
		return layout_read_down(m, sql, where, line_offset);
	if (mig_read_whole(m->path, sql) < 0)
		return -1;
	marker = down_marker(sql->data, sql->len);
	if (marker < sql->len) {
		const char *nl = memchr(sql->data + marker, '\n', sql->len - marker);
		size_t start = nl ? (size_t)(nl - sql->data) + 1 : sql->len;

		for (size_t i = 0; i < start; i++)
			*line_offset += sql->data[i] == '\n';
		memmove(sql->data, sql->data + start, sql->len - start + 1);
		sql->len -= start;
		*where = xstrdup(m->path);
		return 1;
	}
	companion = xasprintf("%.*s.down.sql", (int)n, m->path);
	sql->len = 0;
	sql->data[0] = '\0';
	if (access(companion, F_OK) != 0) {
		free(companion);
		return 0;
	}
	*where = companion;
	return mig_read_whole(companion, sql) < 0 ? -1 : 1;
}

void mig_checksum(const char *data, size_t len, char out[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	unsigned int mdlen = 32;
	size_t start = 0;

	if (!ctx || !EVP_DigestInit_ex(ctx, sha256_md(), NULL)) {
		log_error("could not compute a SHA-256 digest");
		exit(70);
	}
	/* Feeds the spans between the CRs that precede an LF. */
	for (size_t i = 0; i + 1 < len; i++) {
		if (data[i] == '\r' && data[i + 1] == '\n') {
			EVP_DigestUpdate(ctx, data + start, i - start);
			start = i + 1;
		}
	}
	EVP_DigestUpdate(ctx, data + start, len - start);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	hex_encode(md, 32, out);
}

int mig_whole_checksum(const char *text, size_t len, char out[65])
{
	static const char bom[] = "\xef\xbb\xbf";
	struct mig_marker mk;
	size_t skip;

	if (len > MIG_WHOLE_MAX_BYTES || memchr(text, '\0', len))
		return -1;
	skip = len >= 3 && memcmp(text, bom, 3) == 0 ? 3 : 0;
	if (memmem(text, len, "pgboot:down", 11) || mig_find_marker(text + skip, len - skip, &mk))
		return -1;
	mig_checksum(text + skip, len - skip, out);
	return 0;
}

int mig_file_checksum(const struct migration *m, char out[65])
{
	struct buf sql;
	int rc;

	if (m->sum_ahead) {
		memcpy(out, m->sum_ahead, 65);
		return 0;
	}
	buf_init(&sql);
	rc = mig_read(m, &sql);
	if (rc == 0)
		mig_checksum(sql.data, sql.len, out);
	buf_release(&sql);
	return rc;
}

int mig_raw_checksum(const char *path, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 32;
	struct buf raw;
	int rc = -1;

	buf_init(&raw);
	if (read_file(path, &raw) < 0) {
		log_error("could not read migration \"%s\": %s", path, strerror(errno));
		goto out;
	}
	if (!EVP_Digest(raw.data, raw.len, md, &mdlen, sha256_md(), NULL)) {
		log_error("could not compute a SHA-256 digest");
		exit(70);
	}
	hex_encode(md, 32, out);
	rc = 0;
out:
	buf_release(&raw);
	return rc;
}

void mig_position(const char *sql, size_t len, int position, int *line, int *column)
{
	int chars = 0, last_line = 1, last_column = 1;

	*line = 1;
	*column = 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)sql[i];

		if ((c & 0xc0) == 0x80)
			continue; /* a UTF-8 continuation byte: not a character of its own */
		if (++chars >= position)
			return;
		last_line = *line;
		last_column = *column;
		if (c == '\n') {
			(*line)++;
			*column = 1;
		} else if (!(c == '\r' && i + 1 < len && sql[i + 1] == '\n')) {
			(*column)++;
		}
	}
	*line = last_line; /* past the end: the last character */
	*column = last_column;
}

/* "Add users!" -> "add_users": lower case, runs of anything else as one underscore. */
static char *slug(const char *name)
{
	struct buf b;

	buf_init(&b);
	for (const char *p = name; *p; p++) {
		char c = *p >= 'A' && *p <= 'Z' ? (char)(*p + 32) : *p;
		bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (keep)
			buf_append(&b, &c, 1);
		else if (b.len && b.data[b.len - 1] != '_')
			buf_append(&b, "_", 1);
	}
	while (b.len && b.data[b.len - 1] == '_')
		b.data[--b.len] = '\0';
	return buf_detach(&b);
}

/* digits + 1, malloc'd: "0099" -> "0100", "99" -> "100". */
static char *increment(const char *digits)
{
	size_t n = strlen(digits);
	char *out = xmalloc(n + 2);
	size_t i = n;

	memcpy(out + 1, digits, n + 1);
	out[0] = '0';
	while (i > 0 && out[i] == '9')
		out[i--] = '0';
	out[i]++;
	if (out[0] == '0')
		memmove(out, out + 1, n + 1);
	return out;
}

/*
 * The next version, malloc'd: a UTC timestamp when the directory uses them (14 digits or
 * more), else the newest plus one, as wide as its file's digits.
 */
static char *next_version(const struct mig_list *list)
{
	const struct migration *newest = NULL;
	char stamp[32], *v;
	int width = 4;

	for (size_t i = list->n; i > 0 && !newest; i--)
		if (list->items[i - 1].version)
			newest = &list->items[i - 1];
	if (newest && strlen(newest->version) >= 14 && !strchr(newest->version, '.')) {
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
		return mig_version_cmp(stamp, newest->version) > 0 ? xstrdup(stamp)
								   : increment(newest->version);
	}
	if (newest)
		width = (int)strspn(newest->file, "0123456789");
	v = increment(newest && !strchr(newest->version, '.') ? newest->version : "0");
	if ((int)strlen(v) < width) {
		char *padded = xasprintf("%0*d%s", width - (int)strlen(v), 0, v);

		free(v);
		v = padded;
	}
	return v;
}

enum status mig_new(const char *dir, const char *name)
{
	char *base = slug(name), *path = NULL, *version = NULL;
	enum mig_format format;
	struct mig_list list;
	enum status st = ST_CONFIG;
	int fd;

	mig_list_init(&list);
	if (!*base) {
		log_error("migration name \"%s\" has no letters or digits", name);
		goto out;
	}
	if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
		log_error("could not create migrations directory \"%s\": %s", dir, strerror(errno));
		goto out;
	}
	if ((st = layout_detect(dir, &format, NULL)) != ST_OK)
		goto out;
	if (format != MIG_FORMAT_PGBOOT) {
		log_error("migrations directory \"%s\" is in %s's layout: create the file with %s; "
			  "pgboot new writes pgboot's layout only", dir, layout_name(format),
			  layout_name(format));
		st = ST_CONFIG;
		goto out;
	}
	if ((st = mig_scan_pgboot(dir, &list)) != ST_OK)
		goto out;
	st = ST_CONFIG;
	version = next_version(&list);
	path = xasprintf("%s/%s_%s.sql", dir, version, base);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0) {
		log_error("could not create \"%s\": %s", path, strerror(errno));
		goto out;
	}
	{
		char *text = xasprintf("-- %s\n-- Runs in one transaction with its history row. Make "
				       "\"-- pgboot:no-transaction\" the first\n-- line to run it statement "
				       "by statement; add a \"-- pgboot:down\" line before\n-- the SQL "
				       "that undoes it.\n", name);
		ssize_t n = write(fd, text, strlen(text));

		free(text);
		if (close(fd) < 0 || n < 0) {
			log_error("could not write \"%s\": %s", path, strerror(errno));
			goto out;
		}
	}
	printf("%s\n", path);
	st = ST_OK;
out:
	mig_list_release(&list);
	free(base);
	free(path);
	free(version);
	return st;
}
