#include "lint.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "split.h"

/* --- the rules ------------------------------------------------------------------------ */

enum rule_id {
	R_DROP_TABLE,
	R_DROP_SCHEMA,
	R_DROP_DATABASE,
	R_DROP_MATVIEW,
	R_DROP_COLUMN,
	R_TRUNCATE,
	R_DELETE_ALL,
	R_UPDATE_ALL,
	R_ALTER_TYPE,
	R_CREATE_INDEX,
	R_DROP_INDEX,
	R_REINDEX,
	R_ADD_FOREIGN_KEY,
	R_ADD_CHECK,
	R_SET_NOT_NULL,
	R_ADD_PRIMARY_KEY,
	R_ADD_UNIQUE,
	R_VOLATILE_DEFAULT,
	R_VACUUM_FULL,
	R_CLUSTER,
	R_LOCK_TABLE,
	R_RENAME_TABLE,
	R_RENAME_COLUMN,
	R_DROP_COLUMN_IN_USE,
	R_ADD_NOT_NULL_COLUMN,
	R_ALLOW_COMMENT,
	R_COUNT
};

struct rule {
	const char *name;
	enum lint_category category;
	const char *hint;
};

#define NO_TXN "in a file whose first line is \"-- pgboot:no-transaction\""

static const struct rule rules[R_COUNT] = {
	[R_DROP_TABLE] = { "drop-table", LINT_DESTRUCTIVE,
			   "save the data first, and drop the table in a release after the one "
			   "that stopped using it" },
	[R_DROP_SCHEMA] = { "drop-schema", LINT_DESTRUCTIVE,
			    "drop what the schema holds one table at a time, after its data is "
			    "saved" },
	[R_DROP_DATABASE] = { "drop-database", LINT_DESTRUCTIVE,
			      "drop databases outside migrations (pgboot drop)" },
	[R_DROP_MATVIEW] = { "drop-materialized-view", LINT_DESTRUCTIVE,
			     "create the new view under another name and drop the old one once "
			     "nothing reads it" },
	[R_DROP_COLUMN] = { "drop-column", LINT_DESTRUCTIVE,
			    "save the column's data first, and drop it in a release after the one "
			    "that stopped using it" },
	[R_TRUNCATE] = { "truncate", LINT_DESTRUCTIVE,
			 "DELETE the rows that must go with a WHERE clause, or allow it if the "
			 "data is disposable" },
	[R_DELETE_ALL] = { "delete-without-where", LINT_DESTRUCTIVE,
			   "name the rows with a WHERE clause (WHERE true if every row must go)" },
	[R_UPDATE_ALL] = { "update-without-where", LINT_DESTRUCTIVE,
			   "name the rows with a WHERE clause (WHERE true if every row must "
			   "change)" },
	[R_ALTER_TYPE] = { "alter-column-type", LINT_DESTRUCTIVE,
			   "add a column of the new type, backfill it in batches, move the "
			   "application to it, then drop the old one" },
	[R_CREATE_INDEX] = { "create-index", LINT_LOCKING,
			     "CREATE INDEX CONCURRENTLY " NO_TXN },
	[R_DROP_INDEX] = { "drop-index", LINT_LOCKING, "DROP INDEX CONCURRENTLY " NO_TXN },
	[R_REINDEX] = { "reindex", LINT_LOCKING, "REINDEX ... CONCURRENTLY " NO_TXN },
	[R_ADD_FOREIGN_KEY] = { "add-foreign-key", LINT_LOCKING,
				"add it NOT VALID, then VALIDATE CONSTRAINT in a later migration "
				"(that takes a lock that lets writes through)" },
	[R_ADD_CHECK] = { "add-check", LINT_LOCKING,
			  "add it NOT VALID, then VALIDATE CONSTRAINT in a later migration (that "
			  "takes a lock that lets writes through)" },
	[R_SET_NOT_NULL] = { "set-not-null", LINT_LOCKING,
			     "add CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT it in a "
			     "later migration, then SET NOT NULL there (PostgreSQL 12+ skips the "
			     "scan)" },
	[R_ADD_PRIMARY_KEY] = { "add-primary-key", LINT_LOCKING,
				"CREATE UNIQUE INDEX CONCURRENTLY " NO_TXN
				", then ADD PRIMARY KEY USING INDEX" },
	[R_ADD_UNIQUE] = { "add-unique", LINT_LOCKING,
			   "CREATE UNIQUE INDEX CONCURRENTLY " NO_TXN
			   ", then ADD CONSTRAINT ... UNIQUE USING INDEX" },
	[R_VOLATILE_DEFAULT] = { "add-column-volatile-default", LINT_LOCKING,
				 "add the column with no default or a constant one, then fill "
				 "existing rows in batches" },
	[R_VACUUM_FULL] = { "vacuum-full", LINT_LOCKING,
			    "plain VACUUM; to give space back online, pg_repack outside "
			    "migrations" },
	[R_CLUSTER] = { "cluster", LINT_LOCKING,
			"rebuild in a maintenance window outside migrations, or with pg_repack" },
	[R_LOCK_TABLE] = { "lock-table", LINT_LOCKING,
			   "let each statement take the lock it needs; migrate.lock_timeout bounds "
			   "the wait" },
	[R_RENAME_TABLE] = { "rename-table", LINT_COMPATIBILITY,
			     "create the new table or a view beside the old name, move the "
			     "application, then rename or drop in a later release" },
	[R_RENAME_COLUMN] = { "rename-column", LINT_COMPATIBILITY,
			      "add the new column, write both, backfill, move reads, then drop the "
			      "old one in a later release" },
	[R_DROP_COLUMN_IN_USE] = { "drop-column-in-use", LINT_COMPATIBILITY,
				   "first release an application version that no longer reads the "
				   "column, then drop it in the release after" },
	[R_ADD_NOT_NULL_COLUMN] = { "add-column-not-null", LINT_COMPATIBILITY,
				    "give the column a DEFAULT, or add it nullable, backfill, then "
				    "SET NOT NULL in a later migration" },
	[R_ALLOW_COMMENT] = { "allow-comment", LINT_DIRECTIVE,
			      "write \"-- pgboot:allow RULE[, RULE...]\" on its own line directly "
			      "above the statement (or before the first statement, for the whole "
			      "file), with rule or category names from README.md" },
};

static const char *const category_names[] = { "destructive", "locking", "compatibility",
					       "directive" };

const char *lint_category_name(enum lint_category category)
{
	return category_names[category];
}

const char *lint_severity_name(enum lint_severity severity)
{
	static const char *const names[] = { "info", "warning", "error" };

	return names[severity];
}

/* --- a tokenizer over one statement's text -------------------------------------------- */

enum tok_type { T_END, T_WORD, T_QUOTED, T_STRING, T_NUMBER, T_OTHER };

struct tok {
	enum tok_type type;
	const char *p;
	size_t len;
	int depth; /* parentheses around it; "(" and ")" count as outside */
};

/* Reads [pos, end) of s; comments, strings and dollar-quoted bodies are single tokens or none. */
struct cursor {
	const char *s;
	size_t pos, end;
	int depth;
};

static bool ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool ident_char(unsigned char c)
{
	return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static size_t skip_block_comment(const char *s, size_t p, size_t end)
{
	int depth = 0;

	while (p + 1 < end) {
		if (s[p] == '/' && s[p + 1] == '*') {
			depth++;
			p += 2;
		} else if (s[p] == '*' && s[p + 1] == '/') {
			p += 2;
			if (--depth == 0)
				return p;
		} else {
			p++;
		}
	}
	return end;
}

/* p is at the opening quote q; a doubled q is part of the text, so is \x when escapes. */
static size_t skip_quoted(const char *s, size_t p, size_t end, char q, bool escapes)
{
	for (p++; p < end; p++) {
		bool escaped = escapes && s[p] == '\\' && p + 1 < end;
		bool doubled = s[p] == q && p + 1 < end && s[p + 1] == q;

		if (escaped || doubled)
			p++;
		else if (s[p] == q)
			return p + 1;
	}
	return end;
}

/* The length of a dollar-quote tag at p ("$$", "$fn$"), 0 when there is none ($1). */
static size_t dollar_tag(const char *s, size_t p, size_t end)
{
	size_t i = p + 1;

	if (i < end && s[i] != '$') {
		if (!ident_start((unsigned char)s[i]))
			return 0;
		while (i < end && ident_char((unsigned char)s[i]) && s[i] != '$')
			i++;
	}
	return i < end && s[i] == '$' ? i + 1 - p : 0;
}

static size_t skip_dollar_quote(const char *s, size_t p, size_t end, size_t tag)
{
	for (size_t i = p + tag; i + tag <= end; i++)
		if (s[i] == '$' && memcmp(s + i, s + p, tag) == 0)
			return i + tag;
	return end;
}

static size_t line_end(const char *s, size_t p, size_t end)
{
	const char *nl = memchr(s + p, '\n', end - p);

	return nl ? (size_t)(nl - s) : end;
}

static void cursor_init(struct cursor *c, const char *s, size_t start, size_t end)
{
	c->s = s;
	c->pos = start;
	c->end = end;
	c->depth = 0;
}

static void skip_blanks(struct cursor *c)
{
	const char *s = c->s;

	while (c->pos < c->end) {
		if (is_blank(s[c->pos]))
			c->pos++;
		else if (s[c->pos] == '-' && c->pos + 1 < c->end && s[c->pos + 1] == '-')
			c->pos = line_end(s, c->pos, c->end);
		else if (s[c->pos] == '/' && c->pos + 1 < c->end && s[c->pos + 1] == '*')
			c->pos = skip_block_comment(s, c->pos, c->end);
		else
			break;
	}
}

/* A word at p, or a string with a one-letter prefix (E'', B'', X'', N'', U&'', U&""). */
static size_t scan_word(const struct cursor *c, size_t p, enum tok_type *type)
{
	const char *s = c->s;
	size_t e = p;

	while (e < c->end && ident_char((unsigned char)s[e]))
		e++;
	*type = T_WORD;
	if (e - p == 1 && e < c->end && s[e] == '\'' && strchr("eEbBxXnN", s[p])) {
		*type = T_STRING;
		return skip_quoted(s, e, c->end, '\'', s[p] == 'e' || s[p] == 'E');
	}
	if (e - p == 1 && (s[p] == 'u' || s[p] == 'U') && e + 1 < c->end && s[e] == '&' &&
	    (s[e + 1] == '\'' || s[e + 1] == '"')) {
		*type = s[e + 1] == '"' ? T_QUOTED : T_STRING;
		return skip_quoted(s, e + 1, c->end, s[e + 1], false);
	}
	return e;
}

static void cursor_next(struct cursor *c, struct tok *t)
{
	const char *s = c->s;
	size_t p, tag;
	unsigned char ch;

	skip_blanks(c);
	p = c->pos;
	t->p = s + p;
	t->depth = c->depth;
	t->type = T_OTHER;
	if (p >= c->end) {
		t->type = T_END;
		t->len = 0;
		return;
	}
	ch = (unsigned char)s[p];
	if (ch == '\'') {
		t->type = T_STRING;
		c->pos = skip_quoted(s, p, c->end, '\'', false);
	} else if (ch == '"') {
		t->type = T_QUOTED;
		c->pos = skip_quoted(s, p, c->end, '"', false);
	} else if (ch == '$' && (tag = dollar_tag(s, p, c->end))) {
		t->type = T_STRING;
		c->pos = skip_dollar_quote(s, p, c->end, tag);
	} else if (ident_start(ch)) {
		c->pos = scan_word(c, p, &t->type);
	} else if (ch >= '0' && ch <= '9') {
		t->type = T_NUMBER;
		for (c->pos = p; c->pos < c->end && ident_char((unsigned char)s[c->pos]);)
			c->pos++;
	} else {
		c->pos = p + 1;
		c->depth += ch == '(';
		if (ch == ')' && c->depth > 0)
			t->depth = --c->depth;
	}
	t->len = c->pos - p;
}

static void cursor_peek(const struct cursor *c, struct tok *t)
{
	struct cursor copy = *c;

	cursor_next(&copy, t);
}

static bool is_kw(const struct tok *t, const char *kw)
{
	return t->type == T_WORD && t->len == strlen(kw) && strncasecmp(t->p, kw, t->len) == 0;
}

static bool is_char(const struct tok *t, char ch)
{
	return t->type == T_OTHER && t->p[0] == ch;
}

static bool is_name(const struct tok *t)
{
	return t->type == T_WORD || t->type == T_QUOTED;
}

/* Moves past "IF EXISTS" or "IF NOT EXISTS" when t is IF; t is then the token after it. */
static void skip_if_exists(struct cursor *c, struct tok *t)
{
	if (!is_kw(t, "if"))
		return;
	cursor_next(c, t);
	if (is_kw(t, "not"))
		cursor_next(c, t);
	cursor_next(c, t);
}

/* Reads tokens until a word kw at depth, or the end: true when found. */
static bool find_kw(struct cursor *c, const char *kw, int depth)
{
	struct tok t;

	for (cursor_next(c, &t); t.type != T_END && t.depth >= depth; cursor_next(c, &t))
		if (t.depth == depth && is_kw(&t, kw))
			return true;
	return false;
}

/* Reads tokens until "NOT VALID" at depth, or the end. */
static bool find_not_valid(struct cursor *c, int depth)
{
	struct tok t;

	while (find_kw(c, "not", depth)) {
		cursor_peek(c, &t);
		if (is_kw(&t, "valid"))
			return true;
	}
	return false;
}

/* --- names, as PostgreSQL folds them ---------------------------------------------------- */

#define NAME_MAX_BYTES 63 /* NAMEDATALEN - 1: longer identifiers are truncated */

struct qname {
	char *schema; /* NULL when not qualified */
	char *name;
};

/* An identifier as the server sees it: unquoted ASCII letters lowered, "" undoubled, cut. */
static char *fold(const struct tok *t)
{
	char *out = xmalloc(t->len + 1);
	size_t n = 0;

	if (t->type == T_QUOTED) {
		size_t from = t->p[0] == '"' ? 1 : 3; /* "x" or U&"x" */

		for (size_t i = from; i < t->len && !(t->p[i] == '"' && i + 1 == t->len); i++) {
			out[n++] = t->p[i];
			i += t->p[i] == '"';
		}
	} else {
		for (size_t i = 0; i < t->len; i++) {
			char ch = t->p[i];

			out[n++] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 'a' - 'A') : ch;
		}
	}
	if (n > NAME_MAX_BYTES) {
		n = NAME_MAX_BYTES;
		while (n > 0 && ((unsigned char)out[n] & 0xc0) == 0x80)
			n--;
	}
	out[n] = '\0';
	return out;
}

static void qname_release(struct qname *q)
{
	free(q->schema);
	free(q->name);
	q->schema = q->name = NULL;
}

/*
 * Reads a name that starts at t ([catalog.]schema.name, or name) into q. Returns false,
 * reading nothing more, when t is no identifier. The cursor is left after the name.
 */
static bool read_qname(struct cursor *c, const struct tok *t, struct qname *q)
{
	struct tok dot, part;
	struct cursor after;

	q->schema = NULL;
	q->name = NULL;
	if (!is_name(t))
		return false;
	q->name = fold(t);
	for (;;) {
		cursor_peek(c, &dot);
		if (!is_char(&dot, '.'))
			break;
		after = *c;
		cursor_next(&after, &dot);
		cursor_next(&after, &part);
		if (!is_name(&part))
			break;
		*c = after;
		free(q->schema);
		q->schema = q->name;
		q->name = fold(&part);
	}
	return true;
}

#define SHOW_SIZE (2 * NAME_MAX_BYTES + 2)

/* The name as messages show it, in buf. */
static const char *show(const struct qname *q, char buf[SHOW_SIZE])
{
	snprintf(buf, SHOW_SIZE, "%s%s%s", q->schema ? q->schema : "", q->schema ? "." : "",
		 q->name);
	return buf;
}

/* --- what the set created -------------------------------------------------------------- */

enum object_kind { OBJ_TABLE, OBJ_SCHEMA, OBJ_INDEX, OBJ_COLUMN, OBJ_VALIDATED };

struct lint_object {
	enum object_kind kind;
	char *schema, *name; /* the table, schema or index */
	char *column;        /* OBJ_COLUMN */
};

static void object_add(struct lint *l, enum object_kind kind, const struct qname *q,
		       const char *column)
{
	struct lint_object *o;

	if (l->nobjects == l->capobjects) {
		l->capobjects = l->capobjects ? 2 * l->capobjects : 16;
		l->objects = xrealloc(l->objects, l->capobjects * sizeof(*l->objects));
	}
	o = &l->objects[l->nobjects++];
	o->kind = kind;
	o->schema = q->schema ? xstrdup(q->schema) : NULL;
	o->name = xstrdup(q->name);
	o->column = column ? xstrdup(column) : NULL;
}

/* An unqualified name matches any schema: search_path is the server's to know. */
static bool object_has(const struct lint *l, enum object_kind kind, const struct qname *q,
		       const char *column)
{
	for (size_t i = 0; i < l->nobjects; i++) {
		const struct lint_object *o = &l->objects[i];

		if (o->kind == kind && strcmp(o->name, q->name) == 0 &&
		    (!o->schema || !q->schema || strcmp(o->schema, q->schema) == 0) &&
		    (!column || (o->column && strcmp(o->column, column) == 0)))
			return true;
	}
	return false;
}

/* Created in the set, or in a schema created in the set. */
static bool table_is_new(const struct lint *l, const struct qname *q)
{
	struct qname schema = { NULL, q->schema };

	return object_has(l, OBJ_TABLE, q, NULL) ||
	       (q->schema && object_has(l, OBJ_SCHEMA, &schema, NULL));
}

/* --- findings ------------------------------------------------------------------------- */

/* Per rule, the line of the allow comment that allows it, or 0. */
struct allow {
	int line[R_COUNT];
};

/* One statement being linted. */
struct ctx {
	struct lint *l;
	const char *file;
	const char *sql;
	const struct stmt *st;
	const struct allow *file_allow, *stmt_allow;
};

static enum lint_severity severity_of(const struct lint *l, enum rule_id r, int allowed_by)
{
	if (allowed_by)
		return LINT_INFO;
	if (rules[r].category == LINT_DIRECTIVE)
		return LINT_ERROR;
	if (rules[r].category == LINT_COMPATIBILITY)
		return LINT_WARNING;
	return l->strict ? LINT_ERROR : LINT_WARNING;
}

static void PRINTF_LIKE(7, 0) add_finding(struct lint *l, const char *file, int line,
					 int column, enum rule_id r, int allowed_by,
					 const char *fmt, va_list ap)
{
	struct lint_finding *f;
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->findings = xrealloc(l->findings, l->cap * sizeof(*l->findings));
	}
	f = &l->findings[l->n++];
	f->file = xstrdup(file);
	f->line = line;
	f->column = column;
	f->rule = rules[r].name;
	f->category = rules[r].category;
	f->hint = rules[r].hint;
	f->allowed_by = allowed_by;
	f->severity = severity_of(l, r, allowed_by);
	f->message = xstrdup(msg);
}

static void PRINTF_LIKE(6, 7) finding_at(struct lint *l, const char *file, int line, int column,
					 enum rule_id r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_finding(l, file, line, column, r, 0, fmt, ap);
	va_end(ap);
}

/* The line and column of at, an offset within statement st of sql. */
static void stmt_place(const char *sql, const struct stmt *st, size_t at, int *line, int *column)
{
	*line = st->line;
	*column = st->column;
	for (size_t i = st->start; i < at; i++) {
		if (sql[i] == '\n') {
			(*line)++;
			*column = 1;
		} else if (((unsigned char)sql[i] & 0xc0) != 0x80) {
			(*column)++;
		}
	}
}

/* A finding of the statement, placed at the token at (NULL: the statement's start). */
static void PRINTF_LIKE(4, 5) report(struct ctx *c, enum rule_id r, const struct tok *at,
				     const char *fmt, ...)
{
	int line, column, allowed_by = c->stmt_allow->line[r];
	va_list ap;

	if (!allowed_by)
		allowed_by = c->file_allow->line[r];
	stmt_place(c->sql, c->st, at ? (size_t)(at->p - c->sql) : c->st->start, &line, &column);
	va_start(ap, fmt);
	add_finding(c->l, c->file, line, column, r, allowed_by, fmt, ap);
	va_end(ap);
}

/* --- CREATE, DROP --------------------------------------------------------------------- */

/* CREATE ... TABLE | MATERIALIZED VIEW | SCHEMA [IF NOT EXISTS] name: remembered as new. */
static void on_created(struct ctx *c, struct cursor *cur, enum object_kind kind)
{
	struct qname q;
	struct tok t;

	cursor_next(cur, &t);
	skip_if_exists(cur, &t);
	if (kind == OBJ_SCHEMA && is_kw(&t, "authorization"))
		cursor_next(cur, &t); /* CREATE SCHEMA AUTHORIZATION role: named for the role */
	if (!read_qname(cur, &t, &q))
		return;
	object_add(c->l, kind, &q, NULL);
	qname_release(&q);
}

/* CREATE [UNIQUE] INDEX [CONCURRENTLY] [[IF NOT EXISTS] name] ON [ONLY] table */
static void on_create_index(struct ctx *c, struct cursor *cur)
{
	struct qname index = { NULL, NULL }, table = { NULL, NULL };
	char shown[SHOW_SIZE];
	struct tok t;
	bool only, concurrently;

	cursor_next(cur, &t);
	concurrently = is_kw(&t, "concurrently");
	if (concurrently)
		cursor_next(cur, &t);
	skip_if_exists(cur, &t);
	if (!is_kw(&t, "on")) {
		read_qname(cur, &t, &index);
		cursor_next(cur, &t);
	}
	if (!is_kw(&t, "on"))
		goto out;
	cursor_next(cur, &t);
	only = is_kw(&t, "only"); /* a partitioned table's own index: nothing is built */
	if (only)
		cursor_next(cur, &t);
	if (!read_qname(cur, &t, &table))
		goto out;
	if (only || table_is_new(c->l, &table)) {
		if (index.name)
			object_add(c->l, OBJ_INDEX, &index, NULL);
		goto out;
	}
	if (!concurrently)
		report(c, R_CREATE_INDEX, NULL, "creating an index on \"%s\" without CONCURRENTLY "
		       "blocks writes to the table while it builds", show(&table, shown));
out:
	qname_release(&index);
	qname_release(&table);
}

static void on_create(struct ctx *c, struct cursor *cur)
{
	struct tok t;

	cursor_next(cur, &t);
	if (is_kw(&t, "or")) {
		cursor_next(cur, &t);
		cursor_next(cur, &t);
	}
	if (is_kw(&t, "unique"))
		cursor_next(cur, &t);
	while (is_kw(&t, "global") || is_kw(&t, "local") || is_kw(&t, "temporary") ||
	       is_kw(&t, "temp") || is_kw(&t, "unlogged") || is_kw(&t, "foreign"))
		cursor_next(cur, &t);
	if (is_kw(&t, "index")) {
		on_create_index(c, cur);
	} else if (is_kw(&t, "table")) {
		on_created(c, cur, OBJ_TABLE);
	} else if (is_kw(&t, "schema")) {
		on_created(c, cur, OBJ_SCHEMA);
	} else if (is_kw(&t, "materialized")) {
		cursor_next(cur, &t);
		on_created(c, cur, OBJ_TABLE);
	}
}

/*
 * The names of DROP TABLE | MATERIALIZED VIEW | INDEX | SCHEMA [IF EXISTS] a, b ...: one
 * finding per name the set did not create.
 */
static void on_drop_names(struct ctx *c, struct cursor *cur, enum rule_id r, enum object_kind kind)
{
	static const char *const what[][2] = {
		[R_DROP_TABLE] = { "table", "deletes its data" },
		[R_DROP_MATVIEW] = { "materialized view", "deletes it for every reader" },
		[R_DROP_SCHEMA] = { "schema", "deletes everything in it" },
		[R_DROP_INDEX] = { "index", "without CONCURRENTLY blocks reads and writes of its "
				   "table" },
	};
	char shown[SHOW_SIZE];
	struct qname q;
	struct tok t;

	cursor_next(cur, &t);
	if (r == R_DROP_INDEX && is_kw(&t, "concurrently"))
		return;
	skip_if_exists(cur, &t);
	while (read_qname(cur, &t, &q)) {
		bool created = kind == OBJ_TABLE ? table_is_new(c->l, &q)
						 : object_has(c->l, kind, &q, NULL);

		if (!created)
			report(c, r, &t, "dropping %s \"%s\" %s", what[r][0], show(&q, shown),
			       what[r][1]);
		qname_release(&q);
		cursor_next(cur, &t);
		if (!is_char(&t, ','))
			break;
		cursor_next(cur, &t);
	}
}

static void on_drop_database(struct ctx *c, struct cursor *cur)
{
	char shown[SHOW_SIZE];
	struct qname q;
	struct tok t;

	cursor_next(cur, &t);
	skip_if_exists(cur, &t);
	if (!read_qname(cur, &t, &q))
		return;
	report(c, R_DROP_DATABASE, NULL, "dropping database \"%s\" deletes all its data",
	       show(&q, shown));
	qname_release(&q);
}

static void on_drop(struct ctx *c, struct cursor *cur)
{
	struct tok t;

	cursor_next(cur, &t);
	if (is_kw(&t, "table")) {
		on_drop_names(c, cur, R_DROP_TABLE, OBJ_TABLE);
	} else if (is_kw(&t, "materialized")) {
		cursor_next(cur, &t);
		on_drop_names(c, cur, R_DROP_MATVIEW, OBJ_TABLE);
	} else if (is_kw(&t, "schema")) {
		on_drop_names(c, cur, R_DROP_SCHEMA, OBJ_SCHEMA);
	} else if (is_kw(&t, "index")) {
		on_drop_names(c, cur, R_DROP_INDEX, OBJ_INDEX);
	} else if (is_kw(&t, "database")) {
		on_drop_database(c, cur);
	}
}

/* --- ALTER TABLE ---------------------------------------------------------------------- */

/* The table an ALTER TABLE changes. */
struct altered {
	struct ctx *c;
	struct qname table;
	bool is_new;
	char shown[SHOW_SIZE];
};

static bool volatile_function(const struct tok *t)
{
	static const char *const names[] = { "random", "gen_random_uuid", "uuid_generate_v1",
					     "uuid_generate_v1mc", "uuid_generate_v4",
					     "clock_timestamp", "timeofday", "nextval" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (is_kw(t, names[i]))
			return true;
	return false;
}

static bool serial_type(const struct tok *t)
{
	static const char *const names[] = { "serial", "serial2", "serial4", "serial8",
					     "smallserial", "bigserial" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (is_kw(t, names[i]))
			return true;
	return false;
}

/* What an ADD COLUMN definition asks for. */
struct column_def {
	bool not_null, has_default;
	bool per_row; /* a value computed for each row: serial, identity, generated, volatile */
	bool primary, unique; /* an index built in the same statement */
};

static void read_column_def(struct cursor *act, struct column_def *d)
{
	struct tok t, next;
	bool after_not = false;

	memset(d, 0, sizeof(*d));
	cursor_next(act, &t);
	d->per_row = serial_type(&t);
	for (; t.type != T_END; cursor_next(act, &t)) {
		if (is_kw(&t, "default"))
			d->has_default = true;
		else if (is_kw(&t, "generated"))
			d->per_row = true;
		else if (after_not && is_kw(&t, "null"))
			d->not_null = true;
		else if (t.depth == 0 && (is_kw(&t, "primary") || is_kw(&t, "unique")))
			*(is_kw(&t, "primary") ? &d->primary : &d->unique) = true;
		else if (d->has_default && volatile_function(&t)) {
			cursor_peek(act, &next);
			d->per_row = d->per_row || is_char(&next, '(');
		}
		after_not = is_kw(&t, "not");
	}
}

/* ADD [COLUMN] [IF NOT EXISTS] name type [constraints] */
static void on_add_column(struct altered *a, struct cursor *act, const struct tok *name,
			  const struct tok *at)
{
	struct column_def d;
	char *column = fold(name);

	read_column_def(act, &d);
	object_add(a->c->l, OBJ_COLUMN, &a->table, column);
	if (!a->is_new && d.per_row)
		report(a->c, R_VOLATILE_DEFAULT, at, "adding column \"%s\" with a value computed "
		       "per row rewrites \"%s\" under an exclusive lock", column, a->shown);
	if (!a->is_new && d.not_null && !d.has_default && !d.per_row)
		report(a->c, R_ADD_NOT_NULL_COLUMN, at, "adding NOT NULL column \"%s\" without a "
		       "default to \"%s\" fails when it has rows, and breaks the previous "
		       "application version's INSERTs", column, a->shown);
	if (!a->is_new && (d.primary || d.unique))
		report(a->c, d.primary ? R_ADD_PRIMARY_KEY : R_ADD_UNIQUE, at, "adding column "
		       "\"%s\" with a %s builds its index while blocking reads and writes of "
		       "\"%s\"", column, d.primary ? "PRIMARY KEY" : "UNIQUE constraint", a->shown);
	free(column);
}

/* ADD [CONSTRAINT name] FOREIGN KEY | CHECK | PRIMARY KEY | UNIQUE ...; t is that word. */
static void on_add_constraint(struct altered *a, struct cursor *act, struct tok *t,
			      const struct tok *at)
{
	bool check = is_kw(t, "check"), primary = is_kw(t, "primary");
	enum rule_id r;

	if (check || is_kw(t, "foreign")) {
		bool not_valid = find_not_valid(act, act->depth);

		if (check && !not_valid)
			object_add(a->c->l, OBJ_VALIDATED, &a->table, NULL);
		if (!not_valid && !a->is_new)
			report(a->c, check ? R_ADD_CHECK : R_ADD_FOREIGN_KEY, at, "adding a %s "
			       "constraint to \"%s\" without NOT VALID blocks %s while every row "
			       "is checked", check ? "CHECK" : "FOREIGN KEY", a->shown,
			       check ? "reads and writes" : "writes");
		return;
	}
	if (!primary && !is_kw(t, "unique"))
		return;
	if (primary)
		cursor_next(act, t); /* KEY */
	cursor_next(act, t);
	if (is_kw(t, "using")) {
		cursor_next(act, t);
		if (is_kw(t, "index"))
			return;
	}
	if (a->is_new)
		return;
	r = primary ? R_ADD_PRIMARY_KEY : R_ADD_UNIQUE;
	report(a->c, r, at, "adding a %s to \"%s\" builds its index while blocking reads and "
	       "writes",
	       primary ? "PRIMARY KEY" : "UNIQUE constraint", a->shown);
}

static void on_add(struct altered *a, struct cursor *act, const struct tok *at)
{
	struct tok t;

	cursor_next(act, &t);
	if (is_kw(&t, "constraint")) {
		cursor_next(act, &t);
		cursor_next(act, &t);
	}
	if (is_kw(&t, "foreign") || is_kw(&t, "check") || is_kw(&t, "primary") ||
	    is_kw(&t, "unique")) {
		on_add_constraint(a, act, &t, at);
		return;
	}
	if (is_kw(&t, "exclude"))
		return;
	if (is_kw(&t, "column"))
		cursor_next(act, &t);
	skip_if_exists(act, &t);
	if (is_name(&t))
		on_add_column(a, act, &t, at);
}

/* DROP [COLUMN] [IF EXISTS] name: a column created in the set may go. */
static void on_drop_column(struct altered *a, struct cursor *act, const struct tok *at)
{
	struct tok t;
	char *column;

	cursor_next(act, &t);
	if (is_kw(&t, "constraint"))
		return;
	if (is_kw(&t, "column"))
		cursor_next(act, &t);
	skip_if_exists(act, &t);
	if (!is_name(&t))
		return;
	column = fold(&t);
	if (!a->is_new && !object_has(a->c->l, OBJ_COLUMN, &a->table, column)) {
		report(a->c, R_DROP_COLUMN, at, "dropping column \"%s\" of \"%s\" deletes its data",
		       column, a->shown);
		report(a->c, R_DROP_COLUMN_IN_USE, at, "the previous application version may still "
		       "read column \"%s\" of \"%s\" while this one rolls out", column, a->shown);
	}
	free(column);
}

/* TYPE text or varchar without a length: every value fits. */
static bool widening_type(struct cursor *act)
{
	struct tok t, next;

	cursor_next(act, &t);
	if (is_kw(&t, "character")) {
		cursor_next(act, &t);
		if (!is_kw(&t, "varying"))
			return false;
	} else if (!is_kw(&t, "text") && !is_kw(&t, "varchar")) {
		return false;
	}
	cursor_next(act, &next);
	return next.type == T_END || is_kw(&next, "collate");
}

/* ALTER [COLUMN] name SET NOT NULL | [SET DATA] TYPE ... */
static void on_alter_column(struct altered *a, struct cursor *act, const struct tok *at)
{
	struct tok t;
	char *column;

	cursor_next(act, &t);
	if (is_kw(&t, "column"))
		cursor_next(act, &t);
	if (!is_name(&t) || is_kw(&t, "constraint"))
		return;
	column = fold(&t);
	cursor_next(act, &t);
	if (is_kw(&t, "set")) {
		cursor_next(act, &t);
		if (is_kw(&t, "data"))
			cursor_next(act, &t);
	}
	if (is_kw(&t, "not") && !a->is_new &&
	    !object_has(a->c->l, OBJ_VALIDATED, &a->table, NULL))
		report(a->c, R_SET_NOT_NULL, at, "SET NOT NULL on column \"%s\" of \"%s\" blocks "
		       "reads and writes while every row is checked", column, a->shown);
	if (is_kw(&t, "type") && !a->is_new && !widening_type(act))
		report(a->c, R_ALTER_TYPE, at, "changing the type of column \"%s\" of \"%s\" can "
		       "rewrite the table under an exclusive lock and lose data in the conversion",
		       column, a->shown);
	free(column);
}

/* RENAME TO name | RENAME [COLUMN] a TO b */
static void on_rename(struct altered *a, struct cursor *act, const struct tok *at)
{
	struct qname renamed;
	struct tok t;

	cursor_next(act, &t);
	if (is_kw(&t, "constraint"))
		return;
	if (is_kw(&t, "to")) {
		cursor_next(act, &t);
		if (a->is_new && is_name(&t)) {
			renamed.schema = a->table.schema;
			renamed.name = fold(&t);
			object_add(a->c->l, OBJ_TABLE, &renamed, NULL);
			free(renamed.name);
		} else if (!a->is_new) {
			report(a->c, R_RENAME_TABLE, at, "renaming table \"%s\" breaks the "
			       "previous application version while this one rolls out", a->shown);
		}
		return;
	}
	if (is_kw(&t, "column"))
		cursor_next(act, &t);
	if (is_name(&t) && !a->is_new) {
		char *column = fold(&t);

		report(a->c, R_RENAME_COLUMN, at, "renaming column \"%s\" of \"%s\" breaks the "
		       "previous application version while this one rolls out", column, a->shown);
		free(column);
	}
}

/*
 * The next comma-separated action of an ALTER TABLE: act reads it alone, cur moves past it.
 * False at the end of the statement.
 */
static bool next_action(struct cursor *cur, struct cursor *act)
{
	int depth = cur->depth;
	struct tok t;

	*act = *cur;
	cursor_next(cur, &t);
	if (t.type == T_END)
		return false;
	while (t.type != T_END && !(is_char(&t, ',') && t.depth == depth))
		cursor_next(cur, &t);
	act->end = t.type == T_END ? cur->end : (size_t)(t.p - cur->s);
	return true;
}

static void on_action(struct altered *a, struct cursor *act)
{
	struct tok t;

	cursor_next(act, &t);
	if (is_kw(&t, "add"))
		on_add(a, act, &t);
	else if (is_kw(&t, "drop"))
		on_drop_column(a, act, &t);
	else if (is_kw(&t, "alter"))
		on_alter_column(a, act, &t);
	else if (is_kw(&t, "rename"))
		on_rename(a, act, &t);
	else if (is_kw(&t, "validate"))
		object_add(a->c->l, OBJ_VALIDATED, &a->table, NULL);
}

/* ALTER TABLE [IF EXISTS] [ONLY] name [*] action [, ...] */
static void on_alter_table(struct ctx *c, struct cursor *cur)
{
	struct altered a = { .c = c };
	struct cursor act;
	struct tok t;

	cursor_next(cur, &t);
	skip_if_exists(cur, &t);
	if (is_kw(&t, "only"))
		cursor_next(cur, &t);
	if (is_kw(&t, "all") || !read_qname(cur, &t, &a.table))
		return; /* ALTER TABLE ALL IN TABLESPACE */
	cursor_peek(cur, &t);
	if (is_char(&t, '*'))
		cursor_next(cur, &t);
	a.is_new = table_is_new(c->l, &a.table);
	show(&a.table, a.shown);
	while (next_action(cur, &act))
		on_action(&a, &act);
	qname_release(&a.table);
}

/* --- DELETE, UPDATE, TRUNCATE --------------------------------------------------------- */

/*
 * DELETE FROM [ONLY] table ... | UPDATE [ONLY] table ...: t is DELETE or UPDATE, at depth d
 * (0, or inside a data-modifying WITH query); the statement must have a WHERE at depth d.
 */
static void on_modify(struct ctx *c, struct cursor *cur, const struct tok *at)
{
	bool delete = is_kw(at, "delete");
	char shown[SHOW_SIZE];
	struct qname q;
	struct tok t;

	cursor_next(cur, &t);
	if (delete && is_kw(&t, "from"))
		cursor_next(cur, &t);
	if (is_kw(&t, "only"))
		cursor_next(cur, &t);
	if (!read_qname(cur, &t, &q))
		return;
	if (!find_kw(cur, "where", at->depth) && !table_is_new(c->l, &q)) {
		if (delete)
			report(c, R_DELETE_ALL, at, "DELETE without WHERE deletes every row of "
			       "\"%s\"", show(&q, shown));
		else
			report(c, R_UPDATE_ALL, at, "UPDATE without WHERE changes every row of "
			       "\"%s\"", show(&q, shown));
	}
	qname_release(&q);
}

/* DELETE, UPDATE, or WITH ...: the main statement and each data-modifying WITH query. */
static void on_dml(struct ctx *c, struct cursor *cur, const struct tok *first)
{
	struct tok t;
	bool after_paren = false;

	if (!is_kw(first, "with")) {
		on_modify(c, cur, first);
		return;
	}
	for (cursor_next(cur, &t); t.type != T_END; cursor_next(cur, &t)) {
		if ((is_kw(&t, "delete") || is_kw(&t, "update")) && (t.depth == 0 || after_paren)) {
			struct cursor rest = *cur;

			on_modify(c, &rest, &t);
		}
		after_paren = is_char(&t, '(');
	}
}

/* TRUNCATE [TABLE] [ONLY] name [*] [, ...] */
static void on_truncate(struct ctx *c, struct cursor *cur)
{
	char shown[SHOW_SIZE];
	struct qname q;
	struct tok t;

	cursor_next(cur, &t);
	if (is_kw(&t, "table"))
		cursor_next(cur, &t);
	for (;;) {
		if (is_kw(&t, "only"))
			cursor_next(cur, &t);
		if (!read_qname(cur, &t, &q))
			return;
		if (!table_is_new(c->l, &q))
			report(c, R_TRUNCATE, &t, "TRUNCATE deletes every row of \"%s\"",
			       show(&q, shown));
		qname_release(&q);
		cursor_next(cur, &t);
		if (is_char(&t, '*'))
			cursor_next(cur, &t);
		if (!is_char(&t, ','))
			return;
		cursor_next(cur, &t);
	}
}

/* --- REINDEX, VACUUM, CLUSTER, LOCK --------------------------------------------------- */

/* A boolean option is off when followed by false, off or 0. */
static bool option_on(struct cursor *cur)
{
	struct tok t;

	cursor_peek(cur, &t);
	return !(is_kw(&t, "false") || is_kw(&t, "off") ||
		 (t.type == T_NUMBER && t.len == 1 && t.p[0] == '0'));
}

/*
 * Skips a parenthesized option list at t, telling whether it holds the option word
 * (switched on). t is left at the token after the list.
 */
static bool read_options(struct cursor *cur, struct tok *t, const char *word)
{
	bool found = false;

	if (!is_char(t, '('))
		return false;
	for (cursor_next(cur, t); t->type != T_END && t->depth > 0; cursor_next(cur, t))
		found = found || (is_kw(t, word) && option_on(cur));
	cursor_next(cur, t);
	return found;
}

/*
 * Reads the tables a statement names, a, b (c1, c2), ...: true when it names none, or one
 * the set did not create; *first is then the first such name (for the message).
 */
static bool names_old_table(struct ctx *c, struct cursor *cur, struct tok *t, struct qname *first)
{
	bool named = false, old = false;
	struct qname q;

	first->schema = first->name = NULL;
	while (t->type != T_END) {
		if (t->depth == 0 && !is_kw(t, "only") && read_qname(cur, t, &q)) {
			named = true;
			if (!old && !table_is_new(c->l, &q)) {
				old = true;
				*first = q;
				q.schema = q.name = NULL;
			}
			qname_release(&q);
		}
		cursor_next(cur, t);
		if (t->depth == 0 && (is_kw(t, "in") || is_kw(t, "using") || is_kw(t, "nowait")))
			break;
	}
	return !named || old;
}

/* REINDEX [(options)] INDEX | TABLE | SCHEMA | DATABASE | SYSTEM [CONCURRENTLY] name */
static void on_reindex(struct ctx *c, struct cursor *cur)
{
	struct qname q;
	struct tok t, what;
	bool created;

	cursor_next(cur, &t);
	if (read_options(cur, &t, "concurrently"))
		return;
	what = t;
	cursor_next(cur, &t);
	if (is_kw(&t, "concurrently") && option_on(cur))
		return;
	if (is_kw(&t, "concurrently"))
		cursor_next(cur, &t);
	if (!read_qname(cur, &t, &q))
		q.name = NULL;
	created = q.name && (is_kw(&what, "index")    ? object_has(c->l, OBJ_INDEX, &q, NULL)
			     : is_kw(&what, "table")  ? table_is_new(c->l, &q)
			     : is_kw(&what, "schema") ? object_has(c->l, OBJ_SCHEMA, &q, NULL)
						      : false);
	if (!created)
		report(c, R_REINDEX, NULL, "REINDEX without CONCURRENTLY blocks writes to the "
		       "tables it rebuilds, and reads that use their indexes");
	qname_release(&q);
}

/* VACUUM FULL [...] [table, ...] | VACUUM (FULL [true], ...) [table, ...] */
static void on_vacuum(struct ctx *c, struct cursor *cur)
{
	char shown[SHOW_SIZE];
	bool full = false;
	struct qname q;
	struct tok t;

	cursor_next(cur, &t);
	if (is_char(&t, '(')) {
		full = read_options(cur, &t, "full");
	} else {
		for (; is_kw(&t, "full") || is_kw(&t, "freeze") || is_kw(&t, "verbose") ||
		       is_kw(&t, "analyze") || is_kw(&t, "analyse");
		     cursor_next(cur, &t))
			full = full || is_kw(&t, "full");
	}
	if (!full || !names_old_table(c, cur, &t, &q))
		return;
	report(c, R_VACUUM_FULL, NULL, "VACUUM FULL rewrites %s%s%s under an exclusive lock",
	       q.name ? "\"" : "every table", q.name ? show(&q, shown) : "", q.name ? "\"" : "");
	qname_release(&q);
}

/* CLUSTER [VERBOSE] [table [USING index]] | CLUSTER index ON table */
static void on_cluster(struct ctx *c, struct cursor *cur)
{
	char shown[SHOW_SIZE];
	struct qname q = { NULL, NULL };
	struct tok t;

	cursor_next(cur, &t);
	read_options(cur, &t, "verbose");
	if (is_kw(&t, "verbose"))
		cursor_next(cur, &t);
	if (read_qname(cur, &t, &q)) {
		cursor_next(cur, &t);
		if (is_kw(&t, "on")) {
			qname_release(&q);
			cursor_next(cur, &t);
			read_qname(cur, &t, &q);
		}
	}
	if (!q.name || !table_is_new(c->l, &q))
		report(c, R_CLUSTER, NULL, "CLUSTER rewrites %s%s%s under an exclusive lock",
		       q.name ? "\"" : "every clustered table", q.name ? show(&q, shown) : "",
		       q.name ? "\"" : "");
	qname_release(&q);
}

/* LOCK [TABLE] [ONLY] name [*] [, ...] [IN mode MODE] [NOWAIT] */
static void on_lock(struct ctx *c, struct cursor *cur)
{
	char shown[SHOW_SIZE];
	struct qname q;
	struct tok t, mode;

	cursor_next(cur, &t);
	if (is_kw(&t, "table"))
		cursor_next(cur, &t);
	if (!names_old_table(c, cur, &t, &q))
		return;
	if (is_kw(&t, "in")) {
		cursor_next(cur, &mode);
		cursor_next(cur, &t);
		/* ACCESS SHARE, ROW SHARE, ROW EXCLUSIVE, SHARE UPDATE EXCLUSIVE block no writes */
		if (is_kw(&mode, "row") || (is_kw(&mode, "access") && is_kw(&t, "share")) ||
		    (is_kw(&mode, "share") && is_kw(&t, "update"))) {
			qname_release(&q);
			return;
		}
	}
	report(c, R_LOCK_TABLE, NULL, "LOCK TABLE \"%s\" holds a lock that blocks writes to it "
	       "until the migration commits", q.name ? show(&q, shown) : "");
	qname_release(&q);
}

/* --- allow comments ------------------------------------------------------------------- */

#define ALLOW_WORD "pgboot:allow"

bool lint_is_allow(const char *text, size_t n)
{
	size_t k = strlen(ALLOW_WORD);

	return n >= k && memcmp(text, ALLOW_WORD, k) == 0 &&
	       (n == k || text[k] == ' ' || text[k] == '\t');
}

/* Reads the comments between two statements (or before the first, or after the last). */
struct gap {
	struct lint *l;
	const char *file, *sql;
	int line;            /* the line of the scan position */
	size_t line_start;   /* where that line starts */
	bool header;         /* before the file's first statement */
	bool line_used;      /* the line holds more than blanks so far */
	struct allow *file_allow; /* what the comments before the first statement allow */
	struct allow pending; /* allow comments waiting for the statement below them */
	int pending_line, pending_column;
};

static int gap_column(const struct gap *g, size_t at)
{
	int column = 1;

	for (size_t i = g->line_start; i < at; i++)
		column += ((unsigned char)g->sql[i] & 0xc0) != 0x80;
	return column;
}

/* Moves the line count from offset from to offset to. */
static void gap_advance(struct gap *g, size_t from, size_t to)
{
	const char *nl;

	while (from < to && (nl = memchr(g->sql + from, '\n', to - from))) {
		g->line++;
		from = (size_t)(nl - g->sql) + 1;
		g->line_start = from;
	}
}

static void PRINTF_LIKE(4, 5) allow_error(struct gap *g, int line, int column, const char *fmt,
					  ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_finding(g->l, g->file, line, column, R_ALLOW_COMMENT, 0, fmt, ap);
	va_end(ap);
}

/* Sets line for the rule or category named by [p, p + n); false when there is none. */
static bool allow_name(const char *p, size_t n, int line, struct allow *into)
{
	bool found = false;

	for (int r = 0; r < R_ALLOW_COMMENT; r++) {
		const char *cat = category_names[rules[r].category];

		if ((strlen(rules[r].name) == n && memcmp(rules[r].name, p, n) == 0) ||
		    (strlen(cat) == n && memcmp(cat, p, n) == 0)) {
			into->line[r] = line;
			found = true;
		}
	}
	return found;
}

/* The names after "pgboot:allow" in [p, end): "RULE[, RULE...]". */
static void allow_parse(struct gap *g, size_t p, size_t end, struct allow *into)
{
	const char *s = g->sql;
	bool any = false;

	for (;;) {
		size_t n = 0;

		while (p < end && (s[p] == ' ' || s[p] == '\t' || s[p] == ','))
			p++;
		if (p >= end)
			break;
		while (p + n < end && s[p + n] != ' ' && s[p + n] != '\t' && s[p + n] != ',')
			n++;
		if (!allow_name(s + p, n, g->line, into))
			allow_error(g, g->line, gap_column(g, p),
				    "unknown rule \"%.*s\" in \"-- %s\"", n > 64 ? 64 : (int)n,
				    s + p, ALLOW_WORD);
		any = true;
		p += n;
	}
	if (!any)
		allow_error(g, g->line, gap_column(g, end), "\"-- %s\" names no rule", ALLOW_WORD);
}

/* A "--" comment at p, to end (the end of its line); own_line: nothing before it. */
static void allow_comment(struct gap *g, size_t p, size_t end, bool own_line)
{
	const char *s = g->sql;
	size_t text = p + 2;

	while (text < end && (s[text] == ' ' || s[text] == '\t'))
		text++;
	while (end > text && (s[end - 1] == '\r' || s[end - 1] == ' ' || s[end - 1] == '\t'))
		end--;
	if (!lint_is_allow(s + text, end - text))
		return;
	if (!own_line) {
		allow_error(g, g->line, gap_column(g, p), "\"-- %s\" must be on a line of its own, "
			    "above the statement it allows", ALLOW_WORD);
		return;
	}
	if (!g->header && !g->pending_line) {
		g->pending_line = g->line;
		g->pending_column = gap_column(g, p);
	}
	allow_parse(g, text + strlen(ALLOW_WORD), end, g->header ? g->file_allow : &g->pending);
}

/* Pending allow comments that no statement directly follows. */
static void allow_orphans(struct gap *g, const char *why)
{
	if (g->pending_line)
		allow_error(g, g->pending_line, g->pending_column, "\"-- %s\" applies to no "
			    "statement: %s", ALLOW_WORD, why);
	memset(&g->pending, 0, sizeof(g->pending));
	g->pending_line = 0;
}

/* Reads [from, to): blanks and comments only, as the splitter leaves between statements. */
static void scan_gap(struct gap *g, size_t from, size_t to)
{
	const char *s = g->sql;
	size_t p = from;

	g->line_used = from > g->line_start;
	while (p < to) {
		if (s[p] == '\n') {
			if (!g->line_used && !g->header)
				allow_orphans(g, "a blank line separates it from the statement");
			g->line++;
			g->line_start = ++p;
			g->line_used = false;
		} else if (s[p] == '-' && p + 1 < to && s[p + 1] == '-') {
			size_t e = line_end(s, p, to);

			allow_comment(g, p, e, !g->line_used);
			g->line_used = true;
			p = e;
		} else if (s[p] == '/' && p + 1 < to && s[p + 1] == '*') {
			size_t e = skip_block_comment(s, p, to);

			gap_advance(g, p, e);
			g->line_used = true;
			p = e;
		} else {
			g->line_used = g->line_used || !is_blank(s[p]);
			p++;
		}
	}
}

/*
 * An allow comment inside a statement (between its lines) would silently allow nothing:
 * an error. Strings and dollar-quoted bodies are not comments.
 */
static void allow_inside(struct ctx *c)
{
	const char *s = c->sql;
	size_t p = c->st->start, end = c->st->end, tag;

	if (!memmem(s + p, end - p, ALLOW_WORD, strlen(ALLOW_WORD)))
		return;
	while (p < end) {
		if (s[p] == '-' && p + 1 < end && s[p + 1] == '-') {
			size_t e = line_end(s, p, end), text = p + 2;
			int line, column;

			while (text < e && (s[text] == ' ' || s[text] == '\t'))
				text++;
			stmt_place(s, c->st, p, &line, &column);
			if (lint_is_allow(s + text, e - text))
				finding_at(c->l, c->file, line, column, R_ALLOW_COMMENT,
					   "\"-- %s\" inside a statement applies to nothing: put "
					   "it on the line above the statement", ALLOW_WORD);
			p = e;
		} else if (s[p] == '/' && p + 1 < end && s[p + 1] == '*') {
			p = skip_block_comment(s, p, end);
		} else if (s[p] == '\'' || s[p] == '"') {
			bool escapes = p > 0 && (s[p - 1] == 'e' || s[p - 1] == 'E');

			p = skip_quoted(s, p, end, s[p], escapes);
		} else if (s[p] == '$' && (tag = dollar_tag(s, p, end))) {
			p = skip_dollar_quote(s, p, end, tag);
		} else {
			p++;
		}
	}
}

/* --- statements and files ------------------------------------------------------------- */

static void lint_statement(struct ctx *c)
{
	struct cursor cur;
	struct tok t;

	allow_inside(c);
	cursor_init(&cur, c->sql, c->st->start, c->st->end);
	if (cur.end > cur.pos && c->sql[cur.end - 1] == ';')
		cur.end--;
	cursor_next(&cur, &t);
	if (is_kw(&t, "create")) {
		on_create(c, &cur);
	} else if (is_kw(&t, "drop")) {
		on_drop(c, &cur);
	} else if (is_kw(&t, "alter")) {
		cursor_next(&cur, &t);
		if (is_kw(&t, "table"))
			on_alter_table(c, &cur);
	} else if (is_kw(&t, "delete") || is_kw(&t, "update") || is_kw(&t, "with")) {
		on_dml(c, &cur, &t);
	} else if (is_kw(&t, "truncate")) {
		on_truncate(c, &cur);
	} else if (is_kw(&t, "reindex")) {
		on_reindex(c, &cur);
	} else if (is_kw(&t, "vacuum")) {
		on_vacuum(c, &cur);
	} else if (is_kw(&t, "cluster")) {
		on_cluster(c, &cur);
	} else if (is_kw(&t, "lock")) {
		on_lock(c, &cur);
	}
}

void lint_init(struct lint *l, bool strict)
{
	memset(l, 0, sizeof(*l));
	l->strict = strict;
}

void lint_release(struct lint *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->findings[i].file);
		free(l->findings[i].message);
	}
	for (size_t i = 0; i < l->nobjects; i++) {
		free(l->objects[i].schema);
		free(l->objects[i].name);
		free(l->objects[i].column);
	}
	free(l->findings);
	free(l->objects);
	memset(l, 0, sizeof(*l));
}

int lint_file(struct lint *l, const char *file, const char *sql, size_t len)
{
	struct allow file_allow = { { 0 } }, stmt_allow;
	struct gap g = { .l = l, .file = file, .sql = sql, .line = 1, .header = true,
			 .file_allow = &file_allow };
	struct ctx c = { .l = l, .file = file, .sql = sql, .file_allow = &file_allow,
			 .stmt_allow = &stmt_allow };
	struct splitter sp;
	struct stmt st;
	size_t prev_end = 0;
	int rc;

	l->files++;
	split_init(&sp, sql, len);
	while ((rc = split_next(&sp, &st)) == 1) {
		scan_gap(&g, prev_end, st.start);
		stmt_allow = g.pending;
		memset(&g.pending, 0, sizeof(g.pending));
		g.pending_line = 0;
		g.header = false;
		c.st = &st;
		if (st.kind == STMT_SQL)
			lint_statement(&c);
		gap_advance(&g, st.start, sp.pos);
		prev_end = sp.pos;
	}
	if (rc < 0) {
		snprintf(l->error, sizeof(l->error), "%s:%d: %s", file, sp.error_line, sp.error);
		return -1;
	}
	scan_gap(&g, prev_end, len);
	allow_orphans(&g, "no statement follows it");
	return 0;
}

int lint_migration(struct lint *l, const struct migration *m)
{
	struct buf sql;
	int rc = -1;

	buf_init(&sql);
	if (mig_read(m, &sql) < 0)
		goto out;
	rc = lint_file(l, m->path, sql.data ? sql.data : "", sql.len);
	if (rc < 0)
		log_error("%s", l->error);
out:
	buf_release(&sql);
	return rc;
}

/* --- output --------------------------------------------------------------------------- */

size_t lint_count(const struct lint *l, enum lint_severity severity)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += l->findings[i].severity == severity;
	return n;
}

void lint_print_text(const struct lint *l, FILE *out)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct lint_finding *f = &l->findings[i];

		fprintf(out, "%s:%d:%d: %s: %s: %s\n", f->file, f->line, f->column,
			lint_severity_name(f->severity), f->rule, f->message);
		if (f->allowed_by)
			fprintf(out, "  allowed by \"-- %s\" on line %d\n", ALLOW_WORD,
				f->allowed_by);
		else
			fprintf(out, "  hint: %s\n", f->hint);
	}
}

static void json_finding(const struct lint_finding *f, struct buf *out)
{
	buf_puts(out, "{\"file\":");
	buf_json_string(out, f->file);
	buf_printf(out, ",\"line\":%d,\"column\":%d,\"severity\":\"%s\",\"rule\":\"%s\","
		   "\"category\":\"%s\",\"message\":", f->line, f->column,
		   lint_severity_name(f->severity), f->rule, lint_category_name(f->category));
	buf_json_string(out, f->message);
	buf_puts(out, ",\"hint\":");
	buf_json_string(out, f->hint);
	buf_printf(out, ",\"allowed\":%s", f->allowed_by ? "true" : "false");
	if (f->allowed_by)
		buf_printf(out, ",\"allowed_by\":%d", f->allowed_by);
	buf_puts(out, "}");
}

void lint_print_json(const struct lint *l, struct buf *out)
{
	buf_puts(out, "{\"findings\":[");
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			buf_puts(out, ",");
		json_finding(&l->findings[i], out);
	}
	buf_printf(out, "],\"files\":%zu,\"errors\":%zu,\"warnings\":%zu,\"allowed\":%zu}\n",
		   l->files, lint_count(l, LINT_ERROR), lint_count(l, LINT_WARNING),
		   lint_count(l, LINT_INFO));
}

void lint_log(const struct lint *l)
{
	static const enum log_level levels[] = { LOG_INFO, LOG_WARN, LOG_ERROR };

	for (size_t i = 0; i < l->n; i++) {
		const struct lint_finding *f = &l->findings[i];
		char line[16], column[16], allowed[80] = "";
		const struct log_field fields[] = {
			{ "file", f->file }, { "line", line }, { "column", column },
			{ "rule", f->rule }, { "category", lint_category_name(f->category) },
			{ "hint", f->allowed_by ? NULL : f->hint }, { NULL, NULL },
		};

		snprintf(line, sizeof(line), "%d", f->line);
		snprintf(column, sizeof(column), "%d", f->column);
		if (f->allowed_by)
			snprintf(allowed, sizeof(allowed), " (allowed by \"-- %s\" on line %d)",
				 ALLOW_WORD, f->allowed_by);
		log_event(levels[f->severity], fields, "%s:%d:%d: %s: %s%s", f->file, f->line,
			  f->column, f->rule, f->message, allowed);
	}
}
