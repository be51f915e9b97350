#include "orphan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "log.h"
#include "sig.h"
#include "util.h"
#include "wait.h"

/* Reads the next word or "quoted identifier" of s into out; returns false at the end. */
static bool next_token(const char **s, char *out, size_t size, bool *quoted)
{
	const char *p = *s;
	size_t n;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	*quoted = *p == '"';
	if (*quoted) {
		const char *end = strchr(p + 1, '"');

		if (!end || end[1] == '"')
			return false; /* no name with doubled quotes: pgboot leaves those alone */
		n = (size_t)(end - p - 1);
		*s = end + 1;
		p++;
	} else {
		n = strcspn(p, " \t\r\n(;");
		*s = p + n;
	}
	if (!n || n >= size)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

bool orphan_index_name(const char *s, char *name, size_t size)
{
	char tok[64];
	bool quoted;

	if (!next_token(&s, tok, sizeof(tok), &quoted) || strcasecmp(tok, "create") != 0 ||
	    !next_token(&s, tok, sizeof(tok), &quoted))
		return false;
	if (!strcasecmp(tok, "unique") && !next_token(&s, tok, sizeof(tok), &quoted))
		return false;
	if (strcasecmp(tok, "index") != 0 || !next_token(&s, tok, sizeof(tok), &quoted) ||
	    strcasecmp(tok, "concurrently") != 0 || !next_token(&s, name, size, &quoted))
		return false;
	if (!quoted && !strcasecmp(name, "if")) {
		if (!next_token(&s, tok, sizeof(tok), &quoted) || strcasecmp(tok, "not") != 0 ||
		    !next_token(&s, tok, sizeof(tok), &quoted) || strcasecmp(tok, "exists") != 0 ||
		    !next_token(&s, name, size, &quoted))
			return false;
	}
	if (quoted)
		return true;
	if (!strcasecmp(name, "on"))
		return false;
	for (char *p = name; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	return true;
}


/* The pid of another backend of this database running text now, or "" (ST_OK). */
static enum status find_twin(PGconn *conn, const char *text, char pid[16])
{
	/*
	 * pg_stat_activity cuts query texts to track_activity_query_size - 1 bytes: a long
	 * statement matches by its start. Other roles' texts are hidden from unprivileged
	 * roles, but runners share a role.
	 */
	static const char sql[] =
		"SELECT pid FROM pg_catalog.pg_stat_activity WHERE pid <> pg_catalog.pg_backend_pid() "
		"AND state = 'active' AND backend_type = 'client backend' AND datname = pg_catalog.current_database() AND (query = $1 OR "
		"(pg_catalog.octet_length(query) >= (SELECT setting::int - 4 FROM pg_catalog.pg_settings "
		"WHERE name = 'track_activity_query_size') AND pg_catalog.starts_with($1, query))) "
		"ORDER BY backend_start LIMIT 1";
	const char *params[] = { text };
	struct db_error err;
	PGresult *res = db_query(conn, sql, 1, params, &err);
	enum status st = ST_OK;

	pid[0] = '\0';
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		st = db_report(&err, "look for a statement still running in another session");
	else if (PQntuples(res) == 1)
		snprintf(pid, 16, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return st;
}

/* Whether backend pid still exists. */
static enum status backend_exists(PGconn *conn, const char *pid, bool *exists)
{
	const char *params[] = { pid };
	struct db_error err;
	PGresult *res = db_query(conn, "SELECT 1 FROM pg_catalog.pg_stat_activity WHERE pid = $1",
				 1, params, &err);
	enum status st = ST_OK;

	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		st = db_report(&err, "look for a statement still running in another session");
	else
		*exists = PQntuples(res) > 0;
	PQclear(res);
	return st;
}

/*
 * Once the statement ended: its runner, if alive, records it as done right after, then
 * stops for the lost lock, ending its session. Waiting for the session to end (a second at
 * most: a pooler keeps server sessions) lets that record land before it is read.
 */
static enum status await_record(PGconn *conn, const char *pid)
{
	int64_t until = clock_ms() + 1000;
	bool exists = true;
	enum status st;

	while ((st = backend_exists(conn, pid, &exists)) == ST_OK && exists && clock_ms() < until)
		if (wait_sleep(50) < 0)
			return ST_SIGNAL;
	return st;
}

enum status orphan_wait(PGconn *conn, const char *text, int64_t wait_ms, const char *what,
			char pid[16])
{
	int64_t start = clock_ms();
	char now[16], waited[32];
	enum status st = find_twin(conn, text, pid);

	if (st != ST_OK || !pid[0])
		return st;
	log_warn("%s is still running in backend pid %s, which an earlier runner started: "
		 "waiting for it to end", what, pid);
	for (int attempt = 1; (st = find_twin(conn, text, now)) == ST_OK && now[0]; attempt++) {
		if (clock_ms() - start >= wait_ms) {
			format_seconds(clock_ms() - start, waited, sizeof(waited));
			log_error("%s is still running in backend pid %s after %s (migrate.lock_wait): "
				  "let it end, or end it (pg_cancel_backend), then run again", what, now,
				  waited);
			return ST_UNAVAILABLE;
		}
		if (wait_sleep(attempt < 10 ? 100 : 500) < 0)
			return ST_SIGNAL;
	}
	return st == ST_OK ? await_record(conn, pid) : st;
}

enum status orphan_index_state(PGconn *conn, const char *name, enum orphan_index *state,
			       char **qualified)
{
	static const char sql[] =
		"SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), i.indisvalid "
		"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"WHERE c.relname = $1 AND pg_catalog.pg_table_is_visible(c.oid)";
	const char *params[] = { name };
	struct db_error err;
	PGresult *res = db_query(conn, sql, 1, params, &err);

	*state = INDEX_ABSENT;
	*qualified = NULL;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return db_report(&err, "look for an invalid index");
	}
	if (PQntuples(res) == 1) {
		*state = strcmp(PQgetvalue(res, 0, 1), "t") == 0 ? INDEX_VALID : INDEX_INVALID;
		*qualified = xstrdup(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return ST_OK;
}

enum status orphan_index_drop(PGconn *conn, const char *qualified)
{
	char *sql = xasprintf("DROP INDEX CONCURRENTLY IF EXISTS %s", qualified);
	struct db_error err;
	enum status st = ST_OK;

	if (db_exec(conn, sql, 0, NULL, &err) < 0)
		st = db_report(&err, "drop the invalid index");
	free(sql);
	return st;
}
