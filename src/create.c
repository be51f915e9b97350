#include "create.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "sig.h"

char *create_statement(PGconn *conn, const struct config *cfg, const char *dbname,
			const char *owner)
{
	const char *template = cfg_get(cfg, CFG_CREATE_TEMPLATE);
	const char *encoding = cfg_get(cfg, CFG_CREATE_ENCODING);
	struct buf sql;
	char *q;

	buf_init(&sql);
	q = db_quote_ident(conn, dbname);
	buf_printf(&sql, "CREATE DATABASE %s", q);
	free(q);
	if (owner) {
		q = db_quote_ident(conn, owner);
		buf_printf(&sql, " OWNER %s", q);
		free(q);
	}
	if (template) {
		q = db_quote_ident(conn, template);
		buf_printf(&sql, " TEMPLATE %s", q);
		free(q);
	}
	if (encoding) {
		char *lit = PQescapeLiteral(conn, encoding, strlen(encoding));

		buf_printf(&sql, " ENCODING %s", lit ? lit : "''");
		PQfreemem(lit);
	}
	return buf_detach(&sql);
}

/* Returns 1 when the role may create databases, 0 when not, -1 on error. */
static int may_create(PGconn *conn, char *role, size_t rolesize)
{
	static const char sql[] = "SELECT r.rolcreatedb OR r.rolsuper, current_user "
				  "FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";
	struct db_error err;
	PGresult *res = db_query(conn, sql, 0, (const char *const[]){ NULL }, &err);
	int ret = -1;

	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		log_error("could not check the role's privileges: %s", err.message);
		goto out;
	}
	snprintf(role, rolesize, "%s", PQgetvalue(res, 0, 1));
	ret = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
out:
	PQclear(res);
	return ret;
}

static enum status refuse(PGconn *conn, const struct config *cfg, const char *dbname,
			  const char *role)
{
	const char *owner = cfg_get(cfg, CFG_CREATE_OWNER);
	char *sql = create_statement(conn, cfg, dbname, owner ? owner : role);
	char *q_role = db_quote_ident(conn, role);
	char *hint = xasprintf("an administrator can run: %s; or allow the role to create "
			       "databases: ALTER ROLE %s CREATEDB;", sql, q_role);
	const struct log_field fields[] = { { "hint", hint }, { NULL, NULL } };

	log_event(LOG_ERROR, fields, "role \"%s\" may not create database \"%s\" (it has neither "
		  "CREATEDB nor superuser)", role, dbname);
	free(hint);
	free(q_role);
	free(sql);
	return ST_PERMISSION;
}

static enum status classify(const struct db_error *err, const char *dbname)
{
	const struct log_field fields[] = {
		{ "detail", err->detail[0] ? err->detail : NULL },
		{ "hint", err->hint[0] ? err->hint : NULL },
		{ "sqlstate", err->sqlstate[0] ? err->sqlstate : NULL },
		{ NULL, NULL },
	};

	log_event(LOG_ERROR, fields, "could not create database \"%s\": %s%s%s%s", dbname,
		  err->message, err->sqlstate[0] ? " (SQLSTATE " : "", err->sqlstate,
		  err->sqlstate[0] ? ")" : "");
	return db_status(err, ST_INTERNAL);
}

/*
 * Runs CREATE DATABASE, retrying while the template is in use by other sessions. A lost
 * connection before the deadline (a server restart, a terminated backend) sets *lost
 * instead of failing: the statement either happened or not, and the caller tries again
 * on a new connection.
 */
static enum status run_create(PGconn *conn, const struct config *cfg, const char *dbname,
			      const char *sql, int64_t deadline, bool *lost)
{
	struct db_backoff backoff;
	struct db_error err;

	db_backoff_init(&backoff, cfg->initial_delay_ms, cfg->max_delay_ms, false);
	for (int attempt = 1;; attempt++) {
		if (db_exec(conn, sql, 0, NULL, &err) == 0) {
			log_info("created database \"%s\"", dbname);
			return ST_OK;
		}
		/* Another replica won the race: in the catalog (23505) or before it (42P04). */
		if (db_is(&err, SQLSTATE_DUPLICATE_DATABASE) || db_is(&err, SQLSTATE_UNIQUE_VIOLATION)) {
			log_info("database \"%s\" was created by another session", dbname);
			return ST_OK;
		}
		if ((err.connection_lost || PQstatus(conn) == CONNECTION_BAD) && !err.interrupted &&
		    !sig_caught() && clock_ms() < deadline) {
			log_info("lost the connection while creating database \"%s\" (%s): connecting "
				 "again", dbname, err.message);
			*lost = true;
			return ST_UNAVAILABLE;
		}
		if (!db_is(&err, SQLSTATE_OBJECT_IN_USE) || err.interrupted ||
		    clock_ms() >= deadline)
			return classify(&err, dbname);
		if (attempt == 1)
			log_info("waiting to create database \"%s\": %s", dbname, err.message);
		if (db_sleep(db_backoff_next(&backoff)) < 0)
			return ST_SIGNAL;
	}
}

/* One attempt on one maintenance connection; *lost as run_create sets it. */
static enum status create_once(const struct config *cfg, const char *dbname, int64_t deadline,
			       bool *lost)
{
	enum status st = ST_OK;
	char role[128];
	char *sql = NULL;
	PGconn *conn;
	int allowed;

	conn = db_connect_maintenance(cfg, deadline, &st);
	if (!conn)
		return st;
	allowed = may_create(conn, role, sizeof(role));
	if (allowed < 0) {
		st = sig_caught() ? ST_SIGNAL : ST_INTERNAL;
		goto out;
	}
	if (!allowed) {
		st = refuse(conn, cfg, dbname, role);
		goto out;
	}
	sql = create_statement(conn, cfg, dbname, cfg_get(cfg, CFG_CREATE_OWNER));
	log_debug("running: %s", sql);
	st = run_create(conn, cfg, dbname, sql, deadline, lost);
out:
	free(sql);
	PQfinish(conn);
	return st;
}

enum status create_database(const struct config *cfg, const char *dbname, int64_t deadline)
{
	struct db_backoff backoff;

	db_backoff_init(&backoff, cfg->initial_delay_ms, cfg->max_delay_ms, false);
	for (;;) {
		bool lost = false;
		enum status st = create_once(cfg, dbname, deadline, &lost);

		if (!lost)
			return st;
		if (db_sleep(db_backoff_next(&backoff)) < 0)
			return ST_SIGNAL;
	}
}

enum status create_on(PGconn *conn, const struct config *cfg, const char *dbname,
		      const char *owner, int64_t deadline)
{
	char *sql = create_statement(conn, cfg, dbname, owner);
	bool lost = false;
	enum status st;

	log_debug("running: %s", sql);
	st = run_create(conn, cfg, dbname, sql, deadline, &lost);
	free(sql);
	return st;
}

enum status create_drop(const struct config *cfg, const char *dbname, bool force,
			int64_t deadline)
{
	enum status st = ST_OK;
	struct db_error err;
	PGconn *conn = db_connect_maintenance(cfg, deadline, &st);
	char *name, *sql;

	if (!conn)
		return st;
	name = db_quote_ident(conn, dbname);
	sql = xasprintf("DROP DATABASE IF EXISTS %s%s", name, force ? " WITH (FORCE)" : "");
	if (db_exec(conn, sql, 0, NULL, &err) == 0) {
		log_info("dropped database \"%s\"%s", dbname, force ? " (other sessions ended)" : "");
	} else {
		const struct log_field fields[] = {
			{ "hint", db_is(&err, SQLSTATE_OBJECT_IN_USE)
					  ? "stop the sessions using it, or add --force to end them"
					  : NULL },
			{ NULL, NULL },
		};

		log_event(LOG_ERROR, fields, "could not drop database \"%s\": %s (SQLSTATE %s)",
			  dbname, err.message, err.sqlstate);
		st = db_status(&err, ST_MIGRATION);
	}
	free(sql);
	free(name);
	PQfinish(conn);
	return st;
}
