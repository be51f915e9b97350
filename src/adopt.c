/*
 * adopt: another migration tool's history, read and recorded in pgboot's. What each tool
 * writes, checked against its source:
 *   dbmate          pkg/driver/postgres/postgres.go: schema_migrations(version varchar(255)
 *                   primary key), one row per applied version
 *   golang-migrate  database/postgres/postgres.go: schema_migrations(version bigint not null
 *                   primary key, dirty boolean not null), ONE row: every version up to it
 *   goose           internal/dialect/dialectquery/postgres.go: goose_db_version(id serial,
 *                   version_id bigint, is_applied boolean, tstamp timestamp), a row per up
 *                   and per down; the newest row (highest id) of a version decides
 *   Flyway          PostgreSQLDatabase.java (getRawCreateScript): flyway_schema_history,
 *                   a row per run (type SQL, BASELINE, SCHEMA, UNDO_SQL, DELETE...);
 *                   success = false marks a failed run; repeatables have a null version
 *   node-pg-migrate src/runner.ts: pgmigrations(id serial, name varchar(255), run_on
 *                   timestamp), name = the file name without its extension
 *   drizzle         drizzle-orm/src/pg-core/dialect.ts (migrate): drizzle.__drizzle_migrations
 *                   (id serial, hash text, created_at bigint), hash = SHA-256 of the raw
 *                   file, created_at = the journal's when; every entry up to the newest
 *                   created_at counts as applied
 *   alembic         alembic/runtime/migration.py: alembic_version(version_num varchar(32)),
 *                   the head revision only
 * Every tool's table is told apart by its columns, since dbmate and golang-migrate both
 * name theirs schema_migrations.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adopt.h"
#include "db.h"
#include "layout.h"
#include "lock.h"
#include "log.h"
#include "util.h"

enum tool {
	TOOL_DBMATE,
	TOOL_GOLANG_MIGRATE,
	TOOL_GOOSE,
	TOOL_FLYWAY,
	TOOL_NODE_PG_MIGRATE,
	TOOL_DRIZZLE,
	TOOL_ALEMBIC,
	TOOL_COUNT
};

struct tool_spec {
	const char *name;    /* as migrate.format names its layout */
	const char *schema;  /* its default schema; NULL: the first of the search path */
	const char *table;   /* its default table */
	const char *columns; /* its table's columns, sorted, comma-separated */
	/* What it applied, as rows of (key, applied_at, flag, kind, script, checksum): the
	 * query is read, the quoted table, then read_tail. applied_at reads as a timestamptz. */
	const char *read, *read_tail;
};

static const struct tool_spec tools[TOOL_COUNT] = {
	[TOOL_DBMATE] = { "dbmate", NULL, "schema_migrations", "version",
			  "SELECT version, NULL, NULL, NULL, NULL, NULL FROM ", "" },
	[TOOL_GOLANG_MIGRATE] = { "golang-migrate", NULL, "schema_migrations", "dirty,version",
				  "SELECT version::text, NULL, dirty::text, NULL, NULL, NULL FROM ", "" },
	[TOOL_GOOSE] = { "goose", NULL, "goose_db_version", "id,is_applied,tstamp,version_id",
			 "SELECT version_id::text, tstamp::timestamptz::text, NULL, NULL, NULL, NULL "
			 "FROM (SELECT DISTINCT ON (version_id) * FROM ",
			 " ORDER BY version_id, id DESC) t WHERE is_applied AND version_id <> 0" },
	[TOOL_FLYWAY] = { "flyway", NULL, "flyway_schema_history",
			  "checksum,description,execution_time,installed_by,installed_on,"
			  "installed_rank,script,success,type,version",
			  "SELECT version, installed_on::timestamptz::text, success::text, type, script, "
			  "checksum::text FROM ", " ORDER BY installed_rank" },
	[TOOL_NODE_PG_MIGRATE] = { "node-pg-migrate", NULL, "pgmigrations", "id,name,run_on",
				   "SELECT name, run_on::timestamptz::text, NULL, NULL, NULL, NULL "
				   "FROM ", " ORDER BY id" },
	[TOOL_DRIZZLE] = { "drizzle", "drizzle", "__drizzle_migrations", "created_at,hash,id",
			   "SELECT created_at::text, to_timestamp(created_at / 1000.0)::text, NULL, "
			   "NULL, NULL, hash FROM ",
			   " WHERE created_at IS NOT NULL ORDER BY id" },
	[TOOL_ALEMBIC] = { "alembic", NULL, "alembic_version", "version_num",
			   "SELECT version_num, NULL, NULL, NULL, NULL, NULL FROM ", "" },
};

enum { COL_KEY, COL_APPLIED_AT, COL_FLAG, COL_KIND, COL_SCRIPT, COL_CHECKSUM, NCOLS };

/* The other tool's table as found, and its rows. */
struct source {
	enum tool tool;
	char *name;   /* "public"."schema_migrations", quoted */
	PGresult *rows;
};

/* One migration to record: the file, when the tool applied it, and the checksum to record. */
struct adoption {
	const struct migration *m;
	const char *applied_at; /* NULL: now */
	char checksum[80];      /* today's file's, or the tool's own when it shows an edit */
};

struct plan {
	struct adoption *items;
	size_t n, cap;
	const char *dir; /* migrate.dir, for messages */
};

static void plan_release(struct plan *p)
{
	free(p->items);
	memset(p, 0, sizeof(*p));
}

static struct adoption *plan_find(struct plan *p, const struct migration *m)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->items[i].m == m)
			return &p->items[i];
	return NULL;
}

/* Adds m (once; a later row of the same file replaces its time), with today's checksum. */
static int plan_add(struct plan *p, const struct migration *m, const char *applied_at)
{
	struct adoption *a = plan_find(p, m);

	if (!a) {
		if (p->n == p->cap) {
			p->cap = p->cap ? 2 * p->cap : 16;
			p->items = xrealloc(p->items, p->cap * sizeof(*p->items));
		}
		a = &p->items[p->n++];
		a->m = m;
		if (mig_file_checksum(m, a->checksum) < 0)
			return -1;
	}
	a->applied_at = applied_at;
	return 0;
}

static void plan_remove(struct plan *p, const struct migration *m)
{
	struct adoption *a = plan_find(p, m);

	if (a)
		*a = p->items[--p->n];
}

/* The versioned file of version key, or NULL. */
static const struct migration *find_version(const struct mig_list *list, const char *key)
{
	for (size_t i = 0; i < list->n; i++)
		if (list->items[i].version && mig_version_cmp(list->items[i].version, key) == 0)
			return &list->items[i];
	return NULL;
}

/* Adds every versioned file up to bound (a version), when applied_at. */
static int plan_upto(struct plan *p, const struct mig_list *list, const char *bound,
		     const char *applied_at)
{
	for (size_t i = 0; i < list->n; i++) {
		const struct migration *m = &list->items[i];

		if (m->version && mig_version_cmp(m->version, bound) <= 0 && !plan_find(p, m) &&
		    plan_add(p, m, applied_at) < 0)
			return -1;
	}
	return 0;
}

static const char *cell(const struct source *s, int row, int col)
{
	return PQgetisnull(s->rows, row, col) ? NULL : PQgetvalue(s->rows, row, col);
}

/* cell, with "" for NULL: for columns the tool never leaves NULL, in a table made by hand. */
static const char *text_of(const struct source *s, int row, int col)
{
	return PQgetvalue(s->rows, row, col);
}

/* A version the tool applied has no file: refused, since the folder may be the wrong one. */
static enum status refuse_missing(const struct source *s, const char *what, const char *dir)
{
	char *msg = xasprintf("%s applied %s, and no file in \"%s\" has it", tools[s->tool].name,
			      what, dir);
	const struct log_field fields[] = {
		{ "detail", "pgboot records only what it can read: a missing file usually means "
			    "another folder, or another service's database" },
		{ "hint", "restore the file as the tool applied it, or point migrate.dir at the "
			  "folder the tool ran; nothing was recorded" },
		{ NULL, NULL }
	};

	log_event(LOG_ERROR, fields, "%s", msg);
	free(msg);
	return ST_MIGRATION;
}

/* dbmate, goose: one row per applied version. */
static enum status plan_versions(const struct source *s, const struct mig_list *list,
				 struct plan *p)
{
	for (int i = 0; i < PQntuples(s->rows); i++) {
		const char *key = cell(s, i, COL_KEY);
		const struct migration *m = key ? find_version(list, key) : NULL;
		char *what;
		enum status st;

		if (!m) {
			what = xasprintf("version %s", key ? key : "(null)");
			st = refuse_missing(s, what, p->dir);
			free(what);
			return st;
		}
		if (plan_add(p, m, cell(s, i, COL_APPLIED_AT)) < 0)
			return ST_MIGRATION;
	}
	return ST_OK;
}

/* node-pg-migrate: one row per applied file, by its name without the extension. */
static enum status plan_names(const struct source *s, const struct mig_list *list,
			      struct plan *p)
{
	for (int i = 0; i < PQntuples(s->rows); i++) {
		const char *name = cell(s, i, COL_KEY);
		size_t len = name ? strlen(name) : 0;
		const struct migration *m = NULL;

		for (size_t j = 0; name && j < list->n && !m; j++) {
			const char *file = list->items[j].file;

			if (strncmp(file, name, len) == 0 && strcmp(file + len, ".sql") == 0)
				m = &list->items[j];
		}
		if (!m) {
			char *what = xasprintf("\"%s\"", name ? name : "(null)");
			enum status st = refuse_missing(s, what, p->dir);

			free(what);
			return st;
		}
		if (plan_add(p, m, cell(s, i, COL_APPLIED_AT)) < 0)
			return ST_MIGRATION;
	}
	return ST_OK;
}

/* golang-migrate: one row, every version up to it applied; dirty = a run died midway. */
static enum status plan_golang_migrate(const struct source *s, const struct mig_list *list,
				       struct plan *p)
{
	const char *version;

	if (PQntuples(s->rows) == 0)
		return ST_OK;
	version = text_of(s, 0, COL_KEY);
	if (strcmp(text_of(s, 0, COL_FLAG), "true") == 0) {
		char *hint = xasprintf("check what version %s did to the schema (its .up.sql file, "
				       "and the server log), finish or undo it by hand, then run "
				       "\"migrate force %s\" (done) or \"migrate force\" with the "
				       "version before it (undone); nothing was recorded", version,
				       version);
		const struct log_field fields[] = {
			{ "detail", "golang-migrate marks the version dirty while it runs: a run "
				    "of it stopped midway, and what it did is unknown" },
			{ "hint", hint },
			{ NULL, NULL }
		};

		log_event(LOG_ERROR, fields, "golang-migrate's history %s says version %s is dirty",
				 s->name, version);
		free(hint);
		return ST_MIGRATION;
	}
	if (!find_version(list, version)) {
		char *what = xasprintf("version %s", version);
		enum status st = refuse_missing(s, what, p->dir);

		free(what);
		return st;
	}
	return plan_upto(p, list, version, NULL) < 0 ? ST_MIGRATION : ST_OK;
}

int32_t adopt_flyway_checksum(const char *data, size_t len)
{
	uint32_t crc = 0xFFFFFFFFu;
	size_t i = 0;

	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	for (; i < len; i++) {
		if (data[i] == '\n' || data[i] == '\r')
			continue; /* line breaks are left out, whichever they are */
		crc ^= (unsigned char)data[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return (int32_t)(crc ^ 0xFFFFFFFFu);
}

/*
 * Compares Flyway's checksum of m's file with the one it recorded (stored, NULL: none).
 * When they differ the file was edited since Flyway ran it: the recorded checksum is
 * Flyway's, which matches no file, so pgboot reports a versioned file as changed and runs
 * a repeatable one again, as Flyway would.
 */
static int flyway_compare(struct adoption *a, const char *stored)
{
	struct buf data;
	char now[16];
	int rc = 0;

	if (!stored)
		return 0;
	buf_init(&data);
	if (read_file(a->m->path, &data) < 0) {
		log_error("could not read \"%s\": %s", a->m->path, strerror(errno));
		rc = -1;
	} else {
		snprintf(now, sizeof(now), "%" PRId32, adopt_flyway_checksum(data.data, data.len));
		if (strcmp(now, stored) != 0)
			snprintf(a->checksum, sizeof(a->checksum), "flyway-crc32:%s", stored);
		else if (mig_file_checksum(a->m, a->checksum) < 0) /* a later run matches */
			rc = -1;
	}
	buf_release(&data);
	return rc;
}

/* The repeatable file whose name is script's last part, or NULL. */
static const struct migration *find_repeatable(const struct mig_list *list, const char *script)
{
	const char *base = strrchr(script, '/');

	base = base ? base + 1 : script;
	for (size_t i = 0; i < list->n; i++)
		if (!list->items[i].version && strcmp(list->items[i].file, base) == 0)
			return &list->items[i];
	return NULL;
}

static enum status flyway_failed(const struct source *s, int row)
{
	const char *version = cell(s, row, COL_KEY);
	const struct log_field fields[] = {
		{ "detail", "Flyway records a run that failed midway; what it did is unknown" },
		{ "hint", "check what the file did, finish or undo it by hand, then run \"flyway "
			  "repair\" to remove the failed row (or run the file again with Flyway); "
			  "nothing was recorded" },
		{ NULL, NULL }
	};

	if (version)
		log_event(LOG_ERROR, fields, "flyway's history %s says version %s (\"%s\") failed",
			  s->name, version, text_of(s, row, COL_SCRIPT));
	else
		log_event(LOG_ERROR, fields, "flyway's history %s says \"%s\" failed", s->name,
			  text_of(s, row, COL_SCRIPT));
	return ST_MIGRATION;
}

/* One row of Flyway's history, in installed_rank order. */
static enum status flyway_row(const struct source *s, int row, const struct mig_list *list,
			      struct plan *p)
{
	const char *version = cell(s, row, COL_KEY), *kind = text_of(s, row, COL_KIND);
	const char *at = cell(s, row, COL_APPLIED_AT);
	const struct migration *m;

	if (strcmp(kind, "SCHEMA") == 0)
		return ST_OK; /* Flyway created the schemas: not a migration */
	if (!version || !*version) {
		m = find_repeatable(list, text_of(s, row, COL_SCRIPT));
		if (!m) {
			log_warn("flyway ran \"%s\", and \"%s\" has no such file: not recorded",
				 text_of(s, row, COL_SCRIPT), p->dir);
			return ST_OK;
		}
		if (plan_add(p, m, at) < 0 || flyway_compare(plan_find(p, m), cell(s, row, COL_CHECKSUM)) < 0)
			return ST_MIGRATION;
		return ST_OK;
	}
	m = find_version(list, version);
	if (strcmp(kind, "UNDO_SQL") == 0 || strcmp(kind, "DELETE") == 0) {
		if (m)
			plan_remove(p, m); /* undone, or marked deleted by flyway repair */
		return ST_OK;
	}
	if (strstr(kind, "BASELINE"))
		return plan_upto(p, list, version, at) < 0 ? ST_MIGRATION : ST_OK;
	if (!m) {
		char *what = xasprintf("version %s (\"%s\")", version, text_of(s, row, COL_SCRIPT));
		enum status st = refuse_missing(s, what, p->dir);

		free(what);
		return st;
	}
	if (plan_add(p, m, at) < 0 || flyway_compare(plan_find(p, m), cell(s, row, COL_CHECKSUM)) < 0)
		return ST_MIGRATION;
	return ST_OK;
}

static enum status plan_flyway(const struct source *s, const struct mig_list *list,
			       struct plan *p)
{
	enum status st = ST_OK;

	for (int i = 0; i < PQntuples(s->rows); i++)
		if (strcmp(text_of(s, i, COL_FLAG), "false") == 0)
			return flyway_failed(s, i);
	for (int i = 0; i < PQntuples(s->rows) && st == ST_OK; i++)
		st = flyway_row(s, i, list, p);
	return st;
}

/* drizzle: every journal entry up to the newest created_at; its hash shows an edit. */
static enum status plan_drizzle(const struct source *s, const struct mig_list *list,
				struct plan *p)
{
	int64_t newest = -1, when;

	for (int i = 0; i < PQntuples(s->rows); i++) {
		const struct migration *m = NULL;

		if (parse_int64(cell(s, i, COL_KEY), 0, INT64_MAX, &when) < 0)
			continue;
		newest = when > newest ? when : newest;
		for (size_t j = 0; j < list->n && !m; j++)
			if (list->items[j].created_ms == when)
				m = &list->items[j];
		if (!m) {
			char *what = xasprintf("the migration of %" PRId64 " (the journal's \"when\")", when);
			enum status st = refuse_missing(s, what, p->dir);

			free(what);
			return st;
		}
		if (plan_add(p, m, cell(s, i, COL_APPLIED_AT)) < 0)
			return ST_MIGRATION;
		{
			char raw[65];
			struct adoption *a = plan_find(p, m);

			if (mig_raw_checksum(m->path, raw) < 0)
				return ST_MIGRATION;
			if (strcmp(raw, text_of(s, i, COL_CHECKSUM)) != 0)
				snprintf(a->checksum, sizeof(a->checksum), "%s", text_of(s, i, COL_CHECKSUM));
		}
	}
	for (size_t j = 0; j < list->n; j++) /* drizzle skips older entries it never ran */
		if (list->items[j].created_ms > 0 && list->items[j].created_ms <= newest &&
		    !plan_find(p, &list->items[j]) && plan_add(p, &list->items[j], NULL) < 0)
			return ST_MIGRATION;
	return ST_OK;
}

/* alembic: only the head, mapped to a version by migrate.adopt_alembic. */
static enum status plan_alembic(const struct source *s, const struct config *cfg,
				const struct mig_list *list, struct plan *p)
{
	const char *map = cfg_get(cfg, CFG_MIGRATE_ADOPT_ALEMBIC), *eq = map ? strchr(map, '=') : NULL;
	const char *head = PQntuples(s->rows) == 1 ? cell(s, 0, COL_KEY) : NULL;
	char *revision = map ? xstrndup(map, (size_t)(eq - map)) : NULL;
	enum status st = ST_MIGRATION;

	if (PQntuples(s->rows) > 1) {
		log_error("alembic's history %s has %d heads: pgboot adopts one head", s->name,
			  PQntuples(s->rows));
	} else if (!map && head) {
		char *hint = xasprintf("set migrate.adopt_alembic = %s=<version>, the version of "
				       "the SQL file that stands for everything alembic did (it is "
				       "recorded, not run)", head);
		const struct log_field fields[] = { { "hint", hint }, { NULL, NULL } };

		log_event(LOG_ERROR, fields, "alembic's history %s is at revision \"%s\", and "
			  "pgboot cannot run alembic's Python revisions", s->name, head);
		free(hint);
	} else if (!head) {
		st = ST_OK; /* alembic is at its base: it applied nothing */
	} else if (strcmp(head, revision) != 0) {
		log_error("alembic's history %s is at revision \"%s\", not \"%s\" "
			  "(migrate.adopt_alembic): the database is not where it was thought to be",
			  s->name, head, revision);
	} else if (!find_version(list, eq + 1)) {
		char *what = xasprintf("revision \"%s\", mapped to version %s", head, eq + 1);

		st = refuse_missing(s, what, p->dir);
		free(what);
	} else {
		st = plan_upto(p, list, eq + 1, NULL) < 0 ? ST_MIGRATION : ST_OK;
	}
	free(revision);
	return st;
}

/* Appends s to a PostgreSQL array literal, as NULL or quoted. */
static void array_add(struct buf *b, const char *s)
{
	buf_puts(b, b->len > 1 ? "," : "");
	if (!s) {
		buf_puts(b, "NULL");
		return;
	}
	buf_puts(b, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_puts(b, "\\");
		buf_append(b, s, 1);
	}
	buf_puts(b, "\"");
}

/* The tables to look at: migrate.adopt_table, else every tool's default. */
static void candidates(const struct config *cfg, struct buf *schemas, struct buf *tables)
{
	const char *named = cfg_get(cfg, CFG_MIGRATE_ADOPT_TABLE);

	buf_puts(schemas, "{");
	buf_puts(tables, "{");
	if (named) {
		const char *dot = strchr(named, '.');
		char *schema = dot ? xstrndup(named, (size_t)(dot - named)) : NULL;

		array_add(schemas, schema);
		array_add(tables, dot ? dot + 1 : named);
		free(schema);
	} else {
		for (int t = 0; t < TOOL_COUNT; t++) {
			array_add(schemas, tools[t].schema);
			array_add(tables, tools[t].table);
		}
	}
	buf_puts(schemas, "}");
	buf_puts(tables, "}");
}

/* Whether the comma list columns holds name[0, len). */
static bool has_column(const char *columns, const char *name, size_t len)
{
	const char *p = columns, *word;
	size_t n;

	while (list_next(&p, &word, &n))
		if (n == len && strncmp(word, name, len) == 0)
			return true;
	return false;
}

/*
 * The tool whose table has these columns (sorted, comma-separated), or TOOL_COUNT: the one
 * with the most of its columns there, all of them, so that a column a newer version of a
 * tool added (drizzle's name and applied_at) does not hide its table.
 */
static enum tool tool_of_columns(const char *columns)
{
	enum tool best = TOOL_COUNT;
	size_t best_n = 0;

	for (int t = 0; t < TOOL_COUNT; t++) {
		const char *p = tools[t].columns, *word;
		size_t len, n = 0;
		bool all = true;

		while (all && list_next(&p, &word, &len)) {
			all = has_column(columns, word, len);
			n++;
		}
		if (all && n > best_n) {
			best = (enum tool)t;
			best_n = n;
		}
	}
	return best;
}

static enum status two_found(const char *first, const char *second)
{
	const struct log_field fields[] = {
		{ "detail", "which of them is current is not pgboot's guess" },
		{ "hint", "set migrate.adopt_table to the table of the tool that ran last; nothing "
			  "was recorded" },
		{ NULL, NULL }
	};

	log_event(LOG_ERROR, fields, "found two other tools' histories: %s and %s", first, second);
	return ST_MIGRATION;
}

/* A tool's table whose files are not in migrate.dir: the folder or database is another's. */
static enum status refuse_layout(enum tool t, const char *name, const char *layout,
				 const char *dir)
{
	const struct log_field fields[] = {
		{ "hint", "point migrate.dir at the folder that tool ran, or set migrate.adopt_table "
			  "to the history of the tool these files are for; nothing was recorded" },
		{ NULL, NULL }
	};

	log_event(LOG_ERROR, fields, "found %s's history %s, but the files in \"%s\" are in "
		  "%s's layout", tools[t].name, name, dir, layout);
	return ST_MIGRATION;
}

/*
 * Picks the table to adopt among those found (found[t]: tool t's, or NULL), with the
 * layout of the files in effect: that layout's tool's table when it is there (the others
 * are left, with a warning), else the one table found; alembic's goes with any layout.
 */
static enum status source_choose(const struct config *cfg, const struct mig_list *list,
				 char *const found[TOOL_COUNT], struct source *src)
{
	const char *layout = list->n ? layout_name(list->items[0].format) : "pgboot";
	int pick = -1, other = -1;

	for (int t = 0; t < TOOL_COUNT; t++)
		if (found[t] && strcmp(tools[t].name, layout) == 0)
			pick = t;
	for (int t = 0; t < TOOL_COUNT; t++) {
		if (!found[t] || t == pick)
			continue;
		if (pick >= 0) {
			log_warn("%s's history %s is not adopted: the files are in %s's layout",
				 tools[t].name, found[t], layout);
		} else if (other >= 0) {
			char *a = xasprintf("%s's %s", tools[other].name, found[other]);
			char *b = xasprintf("%s's %s", tools[t].name, found[t]);
			enum status st = two_found(a, b);

			free(a);
			free(b);
			return st;
		} else {
			other = t;
		}
	}
	if (pick < 0 && other >= 0 && other != TOOL_ALEMBIC && strcmp(layout, "pgboot") != 0)
		return refuse_layout((enum tool)other, found[other], layout,
				     cfg_get(cfg, CFG_MIGRATE_DIR));
	pick = pick >= 0 ? pick : other;
	if (pick >= 0) {
		src->tool = (enum tool)pick;
		src->name = xstrdup(found[pick]);
	}
	return ST_OK;
}

/*
 * Finds the other tool's table. Returns ST_OK with src->name NULL when there is none; a
 * table named by migrate.adopt_table that no tool would have made is an error.
 */
static enum status source_find(const struct config *cfg, PGconn *conn,
			       const struct mig_list *list, struct source *src)
{
	static const char sql[] =
		"SELECT '\"' || replace(n.nspname, '\"', '\"\"') || '\".\"' || "
		"replace(c.relname, '\"', '\"\"') || '\"', "
		"string_agg(a.attname::text, ',' ORDER BY a.attname::text COLLATE \"C\") "
		"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
		"AND NOT a.attisdropped WHERE c.relkind IN ('r', 'p') AND (n.nspname, c.relname) IN "
		"(SELECT coalesce(s, current_schema()), t FROM unnest($1::text[], $2::text[]) x(s, t)) "
		"GROUP BY n.nspname, c.relname ORDER BY 1";
	struct buf schemas, tables;
	const char *params[2];
	char *found[TOOL_COUNT] = { NULL };
	struct db_error err;
	enum status st = ST_OK;
	PGresult *res;

	buf_init(&schemas);
	buf_init(&tables);
	candidates(cfg, &schemas, &tables);
	params[0] = schemas.data;
	params[1] = tables.data;
	res = db_query(conn, sql, 2, params, &err);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		st = db_report(&err, "look for another tool's migration history");
	for (int i = 0; st == ST_OK && i < PQntuples(res); i++) {
		enum tool t = tool_of_columns(PQgetvalue(res, i, 1));

		if (t == TOOL_COUNT && cfg_get(cfg, CFG_MIGRATE_ADOPT_TABLE)) {
			log_error("%s (migrate.adopt_table) is not a history table of a tool pgboot "
				  "reads: its columns are %s", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
			st = ST_CONFIG;
		} else if (t == TOOL_COUNT) {
			log_warn("%s is not adopted: its columns (%s) are no migration tool's that "
				 "pgboot reads", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
		} else {
			found[t] = PQgetvalue(res, i, 0);
		}
	}
	if (st == ST_OK)
		st = source_choose(cfg, list, found, src);
	PQclear(res);
	buf_release(&schemas);
	buf_release(&tables);
	return st;
}

static void source_release(struct source *src)
{
	free(src->name);
	PQclear(src->rows);
	memset(src, 0, sizeof(*src));
}

static enum status source_read(PGconn *conn, struct source *src)
{
	char *sql = xasprintf("%s%s%s", tools[src->tool].read, src->name, tools[src->tool].read_tail);
	struct db_error err;
	enum status st = ST_OK;

	src->rows = db_query(conn, sql, 0, NULL, &err);
	if (src->rows && PQresultStatus(src->rows) == PGRES_TUPLES_OK) {
		st = ST_OK;
	} else if (db_is(&err, SQLSTATE_INSUFFICIENT_PRIVILEGE)) {
		char *hint = xasprintf("grant SELECT on %s to the role pgboot runs as, or run "
				       "\"pgboot adopt\" once as a role that may read it", src->name);
		const struct log_field fields[] = { { "hint", hint }, { NULL, NULL } };

		log_event(LOG_ERROR, fields, "could not read %s's history %s: %s",
			  tools[src->tool].name, src->name, err.message);
		free(hint);
		st = ST_PERMISSION;
	} else {
		char *what = xasprintf("read %s's history %s", tools[src->tool].name, src->name);

		st = db_report(&err, what);
		free(what);
	}
	free(sql);
	return st;
}

/* What the tool applied, as files to record. */
static enum status plan_make(const struct config *cfg, const struct source *src,
			     const struct mig_list *list, struct plan *p)
{
	p->dir = cfg_get(cfg, CFG_MIGRATE_DIR);
	switch (src->tool) {
	case TOOL_DBMATE:
	case TOOL_GOOSE:
		return plan_versions(src, list, p);
	case TOOL_GOLANG_MIGRATE:
		return plan_golang_migrate(src, list, p);
	case TOOL_FLYWAY:
		return plan_flyway(src, list, p);
	case TOOL_NODE_PG_MIGRATE:
		return plan_names(src, list, p);
	case TOOL_DRIZZLE:
		return plan_drizzle(src, list, p);
	default:
		return plan_alembic(src, cfg, list, p);
	}
}

static int by_file(const void *a, const void *b)
{
	const struct migration *x = ((const struct adoption *)a)->m;
	const struct migration *y = ((const struct adoption *)b)->m;

	return x < y ? -1 : x > y;
}

/* Creates pgboot's history holding p, in one transaction; *done false: it existed already. */
static enum status record_locked(PGconn *conn, const struct history *h, const struct source *src,
				 const struct plan *p, bool *done)
{
	const char *params[] = { h->table };
	struct db_error err;
	PGresult *res = db_query(conn, "SELECT to_regclass($1) IS NOT NULL", 1, params, &err);
	enum status st = ST_OK;

	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		st = db_report(&err, "look up the migration history table");
	else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		*done = false; /* another runner adopted it while this one waited for the lock */
	else if ((st = history_create(h, conn)) == ST_OK)
		for (size_t i = 0; i < p->n && st == ST_OK; i++)
			st = history_adopt(h, conn, p->items[i].m, p->items[i].checksum,
					   p->items[i].applied_at, tools[src->tool].name);
	PQclear(res);
	return st;
}

static enum status record(const struct config *cfg, PGconn *conn, const struct history *h,
			  const struct source *src, const struct plan *p, bool *done)
{
	struct mig_lock lock;
	struct db_error err;
	enum status st;

	*done = true;
	lock_init(&lock, h->table, cfg);
	if ((st = lock_take(&lock, cfg, true)) != ST_OK)
		return st;
	if (db_exec(conn, "BEGIN", 0, NULL, &err) < 0) {
		st = db_report(&err, "begin the adoption");
		goto out;
	}
	if (lock.mode == LOCK_TRANSACTION)
		st = lock_in_transaction(&lock, conn, cfg);
	if (st == ST_OK)
		st = record_locked(conn, h, src, p, done);
	if (st == ST_OK && db_exec(conn, "COMMIT", 0, NULL, &err) < 0)
		st = db_report(&err, "commit the adoption");
	if (st != ST_OK)
		db_exec(conn, "ROLLBACK", 0, NULL, &err);
out:
	lock_release(&lock);
	return st;
}

static enum status refuse_never(const struct source *src)
{
	const struct log_field fields[] = {
		{ "detail", "applying every file would run again what that tool applied" },
		{ "hint", "set migrate.adopt = auto to record what it applied in pgboot's history "
			  "(its own table is only read), or point pgboot at another database" },
		{ NULL, NULL }
	};

	log_event(LOG_ERROR, fields, "found %s's history %s and no pgboot history, and "
		  "migrate.adopt = never", tools[src->tool].name, src->name);
	return ST_MIGRATION;
}

static void report(const struct source *src, const struct plan *p, bool print)
{
	for (size_t i = 0; print && i < p->n; i++)
		printf("adopted %s%s%s\n", p->items[i].m->file,
		       p->items[i].applied_at ? " applied " : "",
		       p->items[i].applied_at ? p->items[i].applied_at : "");
	log_info("adopted %zu migration%s from %s (%s): recorded as applied, not run", p->n,
		 p->n == 1 ? "" : "s", tools[src->tool].name, src->name);
}

/* Every file must read (and pass its layout's checks) before the database is looked at. */
static enum status files_readable(const struct mig_list *list)
{
	char sum[65];

	for (size_t i = 0; i < list->n; i++)
		if (mig_file_checksum(&list->items[i], sum) < 0)
			return ST_MIGRATION;
	return ST_OK;
}

enum status adopt_run(const struct config *cfg, PGconn *conn, const struct mig_list *list,
		      const struct history *h, bool print)
{
	struct source src = { 0 };
	struct plan p = { 0 };
	bool done = false;
	enum status st = source_find(cfg, conn, list, &src);

	if (st != ST_OK || !src.name) {
		if (st == ST_OK && cfg_get(cfg, CFG_MIGRATE_ADOPT_TABLE))
			log_warn("nothing to adopt: no table \"%s\" (migrate.adopt_table)",
				 cfg_get(cfg, CFG_MIGRATE_ADOPT_TABLE));
		else if (st == ST_OK && print)
			log_info("nothing to adopt: found no other tool's history");
		goto out;
	}
	if (strcmp(cfg_get(cfg, CFG_MIGRATE_ADOPT), "never") == 0) {
		st = refuse_never(&src);
		goto out;
	}
	if ((st = files_readable(list)) != ST_OK || (st = source_read(conn, &src)) != ST_OK ||
	    (st = plan_make(cfg, &src, list, &p)) != ST_OK)
		goto out;
	if (p.n)
		qsort(p.items, p.n, sizeof(*p.items), by_file);
	if ((st = record(cfg, conn, h, &src, &p, &done)) == ST_OK && done)
		report(&src, &p, print);
	else if (st == ST_OK)
		log_info("another runner adopted %s's history first", tools[src.tool].name);
out:
	plan_release(&p);
	source_release(&src);
	return st;
}

enum status adopt_command(const struct config *cfg, PGconn *conn, const struct mig_list *list)
{
	struct history h;
	enum status st;

	history_init(&h, conn, cfg);
	st = history_read(&h, conn);
	if (st == ST_OK && !h.table_missing)
		log_info("nothing to adopt: pgboot's history %s exists already (%zu rows)", h.table, h.n);
	else if (st == ST_OK)
		st = adopt_run(cfg, conn, list, &h, true);
	history_release(&h);
	return st;
}
