#include "wait.h"

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "sig.h"

static void log_state(const struct db_error *err, const char *kind)
{
	const struct log_field fields[] = {
		{ "sqlstate", err->sqlstate[0] ? err->sqlstate : NULL },
		{ "state", kind },
		{ NULL, NULL },
	};
	bool auth = strcmp(kind, "authentication failed") == 0;

	log_event(auth ? LOG_WARN : LOG_INFO, fields, "waiting for database \"%s\": %s",
		  err->dbname, err->message);
}

static void log_ready(const struct wait_result *out, int64_t ms)
{
	int attempts = out->attempts;
	char elapsed[32], count[16];
	const struct log_field fields[] = {
		{ "attempts", count },
		{ "elapsed", elapsed },
		{ NULL, NULL },
	};

	format_seconds(ms, elapsed, sizeof(elapsed));
	snprintf(count, sizeof(count), "%d", attempts);
	log_event(LOG_INFO, fields, "database \"%s\" is ready (%d attempt%s, %s)", out->dbname,
		  attempts, attempts == 1 ? "" : "s", elapsed);
}

static enum status bad_settings(const struct db_error *err)
{
	const struct log_field fields[] = {
		{ "hint", strstr(err->message, "local user")
				  ? "set database.user (or PGUSER): the operating system user has no "
				    "name here (no /etc/passwd, as in a scratch image)"
				  : NULL },
		{ NULL, NULL },
	};

	log_event(LOG_ERROR, fields, "invalid connection settings: %s", err->message);
	return ST_CONFIG;
}

/* cause is the last failure that was not cut short by the deadline. */
static enum status give_up(const char *dbname, const struct db_error *cause, int attempts,
			   int64_t ms)
{
	char elapsed[32];

	const struct log_field fields[] = {
		{ "hint", db_is(cause, SQLSTATE_UNDEFINED_DATABASE)
				  ? "create the database, or let pgboot create it (create.mode = auto "
				    "and a role with CREATEDB)"
				  : NULL },
		{ NULL, NULL },
	};

	format_seconds(ms, elapsed, sizeof(elapsed));
	log_event(LOG_ERROR, fields, "database \"%s\" is not ready after %s (%d attempt%s): %s",
		  dbname, elapsed, attempts, attempts == 1 ? "" : "s", cause->message);
	return ST_UNAVAILABLE;
}

/*
 * True when the failure shows settings that can never work. libpq checks them before any
 * network step, so a failure there (asked once: PQping costs an attempt) means they were
 * invalid; a failure after one means they were valid, and asking again would only repeat
 * a slow DNS lookup. Values libpq checks only when it starts (PGPORT=abc, keepalives=x)
 * are known by their message.
 */
static bool never_works(const struct config *cfg, const struct db_error *err, int64_t left,
			bool *checked)
{
	if (err->no_attempt || strstr(err->message, "invalid port number") ||
	    strstr(err->message, "invalid integer value"))
		return true;
	if (!err->immediate || *checked || strncmp(err->message, "connection to server", 20) == 0 ||
	    strstr(err->message, "could not translate host name"))
		return false;
	*checked = true;
	return db_params_invalid(cfg, left);
}

static int64_t min_delay(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

enum status wait_ready(const struct config *cfg, bool missing_ok, struct wait_result *out)
{
	struct db_retry retry;
	struct db_error err;
	struct db_error cause = { 0 };
	char last_kind[64] = "";
	bool checked_params = false;

	if (!out->started) {
		struct db_idle idle = out->idle;

		memset(out, 0, sizeof(*out));
		out->idle = idle;
		out->started = true;
		out->start = clock_ms();
		out->deadline = out->start + cfg->wait_timeout_ms;
	}
	out->conn = NULL;
	out->missing = false;
	db_retry_init(&retry, cfg);
	for (;;) {
		int attempt = ++out->attempts;
		int64_t left = out->deadline - clock_ms(), limit = left;
		const char *kind;
		bool truncated;

		if (cfg->connect_timeout_ms > 0 && cfg->connect_timeout_ms < limit)
			limit = cfg->connect_timeout_ms;
		out->conn = db_connect_idle(cfg, NULL, limit > 0 ? limit : 1, &out->idle, &err);
		snprintf(out->dbname, sizeof(out->dbname), "%s", err.dbname);
		snprintf(out->user, sizeof(out->user), "%s", err.user);
		if (out->conn) {
			log_ready(out, clock_ms() - out->start);
			return ST_OK;
		}
		if (err.interrupted)
			return ST_SIGNAL;
		if (never_works(cfg, &err, left, &checked_params))
			return bad_settings(&err);
		if (missing_ok && db_is(&err, SQLSTATE_UNDEFINED_DATABASE)) {
			out->missing = true;
			return ST_OK;
		}
		/* An attempt cut short by the deadline says less than the failure before it. */
		truncated = err.timed_out && limit < cfg->connect_timeout_ms && cause.message[0];
		if (!truncated)
			cause = err;
		kind = db_failure_kind(&err);
		if (!truncated && strcmp(kind, last_kind) != 0) {
			log_state(&err, kind);
			snprintf(last_kind, sizeof(last_kind), "%s", kind);
		}
		left = out->deadline - clock_ms();
		if (left <= 0)
			return give_up(err.dbname, &cause, attempt, clock_ms() - out->start);
		if (db_sleep(min_delay(db_retry_next(&retry, &err), left)) < 0)
			return ST_SIGNAL;
	}
}

/* 1 when the server is in recovery, 0 when not, -1 on error (logged). */
static int in_recovery(PGconn *conn)
{
	struct db_error err;
	PGresult *res = db_query(conn, "SELECT pg_catalog.pg_is_in_recovery()", 0, NULL, &err);
	int rc = -1;

	if (res && PQresultStatus(res) == PGRES_TUPLES_OK)
		rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	else
		db_report(&err, "ask whether the server is a standby");
	PQclear(res);
	return rc;
}

enum status wait_primary(const struct config *cfg, PGconn *conn, int64_t deadline, bool wait)
{
	struct db_backoff backoff;
	const struct log_field fields[] = {
		{ "hint", wait ? NULL : "point pgboot at the primary, or set wait.for_primary = true "
					 "to wait for a failover to end" },
		{ NULL, NULL },
	};

	db_backoff_init(&backoff, cfg->initial_delay_ms, cfg->max_delay_ms, false);
	for (int attempt = 1;; attempt++) {
		int rc = in_recovery(conn);

		if (rc <= 0)
			return rc == 0 ? ST_OK : sig_caught() ? ST_SIGNAL : ST_UNAVAILABLE;
		if (!wait) {
			log_event(LOG_ERROR, fields, "database \"%s\" is on a read-only standby (in "
				  "recovery): migrations need the primary", PQdb(conn));
			return ST_UNAVAILABLE;
		}
		if (attempt == 1)
			log_info("database \"%s\" is on a standby: waiting for it to be promoted",
				 PQdb(conn));
		if (clock_ms() >= deadline) {
			log_error("database \"%s\" is still on a standby after wait.timeout", PQdb(conn));
			return ST_UNAVAILABLE;
		}
		if (db_sleep(db_backoff_next(&backoff)) < 0)
			return ST_SIGNAL;
	}
}

