#include "lock.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "sig.h"
#include "util.h"

/* Waiters listen here; the holder notifies when it lets the lock go. */
#define LOCK_CHANNEL "pgboot_migration_lock"

enum lock_mode lock_configured(const struct config *cfg)
{
	return cfg->lock_per_transaction ? LOCK_TRANSACTION : LOCK_SESSION;
}

void lock_init(struct mig_lock *l, const char *table, const struct config *cfg)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->key, sizeof(l->key), "%" PRId64, sha256_int64(table));
	l->mode = lock_configured(cfg);
}

char *lock_rows_sql(const char *key)
{
	/*
	 * An advisory lock on one bigint: the key's high half in classid, its low half in
	 * objid. Advisory locks belong to a database: the same key in another database (one
	 * per preview branch on a shared server) is another lock.
	 */
	return xasprintf("FROM pg_catalog.pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
			 "AND l.objsubid = 1 AND l.classid::bigint = ((%s::bigint >> 32) & 4294967295) "
			 "AND l.objid::bigint = (%s::bigint & 4294967295) AND l.database = (SELECT oid "
			 "FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())",
			 key, key);
}

/* Names whoever holds the lock, so that a stuck deploy says who it waits for. */
static void log_holder(PGconn *conn, const char *key)
{
	char *rows = lock_rows_sql(key);
	char *sql = xasprintf("SELECT a.pid, coalesce(a.application_name, ''), "
			      "coalesce(host(a.client_addr), 'local socket'), a.state FROM (SELECT "
			      "l.pid %s) h JOIN pg_catalog.pg_stat_activity a ON a.pid = h.pid", rows);
	struct db_error err;
	PGresult *res = db_query(conn, sql, 0, NULL, &err);

	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
		log_error("the migration lock is held by pid %s (application \"%s\", client %s, %s)",
			  PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
			  PQgetvalue(res, 0, 3));
	PQclear(res);
	free(sql);
	free(rows);
}

/* Frees the notifications libpq has queued; whether there was one. */
static bool drain_notified(PGconn *conn)
{
	PGnotify *n = PQnotifies(conn);
	bool any = n != NULL;

	for (; n; n = PQnotifies(conn))
		PQfreemem(n);
	return any;
}

/*
 * Sleeps up to ms, waking early when conn (listening) receives a notification. Returns -1
 * when a termination signal came.
 */
static int wait_notified(PGconn *conn, bool listening, int64_t ms)
{
	int64_t until = clock_ms() + ms;

	if (!listening)
		return db_sleep(ms);
	/*
	 * A notification that came while the last poll ran (the holder let go between its
	 * query and its ROLLBACK) was read with their results and waits in libpq's queue: the
	 * socket has nothing more to say, and sleeping on it would miss the wake-up.
	 */
	if (drain_notified(conn))
		return sig_caught() ? -1 : 0;
	for (;;) {
		int64_t left = until - clock_ms();

		if (sig_caught())
			return -1;
		if (left <= 0 || sig_wait(PQsocket(conn), POLLIN, left) < 0)
			return 0;
		if (!PQconsumeInput(conn))
			return 0;
		if (drain_notified(conn))
			return 0;
	}
}

/* One poll: 1 when taken, 0 when another runner holds it, -1 on failure (st set). */
static int poll_once(PGconn *conn, const char *sql, bool own, enum status *st)
{
	struct db_error err;
	PGresult *res = db_query(conn, sql, 0, NULL, &err);
	bool failed = !res || PQresultStatus(res) != PGRES_TUPLES_OK;
	bool got = !failed && strcmp(PQgetvalue(res, 0, 0), "t") == 0;

	PQclear(res);
	if (failed) {
		*st = db_report(&err, "take the migration lock");
		return -1;
	}
	if (got)
		return 1;
	if (own && db_exec(conn, "ROLLBACK", 0, NULL, &err) < 0) {
		*st = db_report(&err, "end a poll for the migration lock");
		return -1;
	}
	return 0;
}

/*
 * Polls instead of blocking in pg_advisory_lock: a session blocked there keeps a snapshot
 * open, which makes CREATE INDEX CONCURRENTLY in the holder wait for it forever. Between
 * polls a read-committed transaction holds no snapshot either. Either in the caller's
 * open transaction, or (own) in a transaction of its own that stays open once taken.
 */
static enum status poll_lock(PGconn *conn, const struct config *cfg, const char *key, bool own,
			     struct mig_lock *hook)
{
	/*
	 * The simple protocol, with the key (a number pgboot formatted) in the text: a query
	 * with parameters leaves its unnamed portal, and that portal's snapshot, open in the
	 * transaction until the next query, which would make CREATE INDEX CONCURRENTLY in
	 * the runner holding the lock wait for the runners that poll for it. With its own
	 * transaction, each poll begins one and a miss rolls it back: a waiter then holds no
	 * server connection of a pooler between polls.
	 */
	char *sql = xasprintf("%sSELECT pg_catalog.pg_try_advisory_xact_lock(%s::bigint)",
			      own ? "BEGIN; SET LOCAL idle_in_transaction_session_timeout = 0; " : "",
			      key);
	int64_t deadline = hook && hook->deadline ? hook->deadline : clock_ms() + cfg->lock_wait_ms;
	struct db_backoff backoff;
	enum status st = ST_OK;
	struct db_error listen_err;

	db_backoff_init(&backoff, cfg->initial_delay_ms, cfg->max_delay_ms, false);
	/* The holder notifies when it lets go, so a waiter need not sleep out its backoff. */
	if (own && db_exec(conn, "LISTEN " LOCK_CHANNEL, 0, NULL, &listen_err) < 0)
		log_debug("could not listen for the migration lock: %s", listen_err.message);
	for (int attempt = 1; poll_once(conn, sql, own, &st) == 0; attempt++) {
		if (attempt == 1 && !(hook && hook->said_waiting))
			log_info("waiting for another pgboot to finish migrating");
		if (clock_ms() >= deadline) {
			log_error("could not take the migration lock within %s (migrate.lock_wait)",
				  cfg_get(cfg, CFG_MIGRATE_LOCK_WAIT));
			log_holder(conn, key);
			st = ST_UNAVAILABLE;
			break;
		}
		if (wait_notified(conn, own, db_backoff_next(&backoff)) < 0) {
			st = ST_SIGNAL;
			break;
		}
		/* Woken: the holder may have done what this runner waits to do. */
		if (hook && hook->needed_not) {
			int done = hook->needed_not(hook->needed_arg, &st);

			if (done != 0) {
				hook->unneeded = done > 0;
				break;
			}
		}
	}
	free(sql);
	return st;
}

enum status lock_in_transaction(const struct mig_lock *l, PGconn *conn,
				const struct config *cfg)
{
	return poll_lock(conn, cfg, l->key, false, NULL);
}

/* The server process of conn, which a pooler's BackendKeyData does not tell; 0 if unknown. */
static int backend_pid(PGconn *conn)
{
	struct db_error err;
	PGresult *res = db_query(conn, "SELECT pg_catalog.pg_backend_pid()", 0, NULL, &err);
	int64_t pid = 0;

	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    parse_int64(PQgetvalue(res, 0, 0), 1, INT32_MAX, &pid) < 0)
		pid = 0;
	PQclear(res);
	return (int)pid;
}

/*
 * Whether a session holds the lock (pg_locks shows every role's): 1, 0, or -1 with st set.
 * The simple protocol, with the key in the text, as poll_lock's.
 */
static int held_now(PGconn *conn, const char *key, enum status *st)
{
	char *rows = lock_rows_sql(key);
	char *sql = xasprintf("SELECT EXISTS (SELECT 1 %s)", rows);
	struct db_error err;
	PGresult *res = db_query(conn, sql, 0, NULL, &err);
	int held = -1;

	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		held = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	else
		*st = db_report(&err, "see whether another runner holds the migration lock");
	PQclear(res);
	free(sql);
	free(rows);
	return held;
}

/*
 * With the runner's own connection: while another session holds the lock, waits on that
 * connection (listening for the holder's notification, polling pg_locks with backoff)
 * until the lock looks free, needed_not says the work was done, or migrate.lock_wait ends.
 */
static enum status wait_free(struct mig_lock *l, const struct config *cfg)
{
	PGconn *conn = l->main;
	struct db_backoff backoff;
	struct db_error err;
	enum status st = ST_OK;
	bool listening;
	int held = held_now(conn, l->key, &st);

	if (held <= 0)
		return st;
	db_backoff_init(&backoff, cfg->initial_delay_ms, cfg->max_delay_ms, false);
	listening = db_exec(conn, "LISTEN " LOCK_CHANNEL, 0, NULL, &err) == 0;
	if (!listening)
		log_debug("could not listen for the migration lock: %s", err.message);
	log_info("waiting for another pgboot to finish migrating");
	l->said_waiting = true;
	while (held > 0) {
		int done;

		if (clock_ms() >= l->deadline) {
			log_error("could not take the migration lock within %s (migrate.lock_wait)",
				  cfg_get(cfg, CFG_MIGRATE_LOCK_WAIT));
			log_holder(conn, l->key);
			st = ST_UNAVAILABLE;
			break;
		}
		if (wait_notified(conn, listening, db_backoff_next(&backoff)) < 0) {
			st = ST_SIGNAL;
			break;
		}
		if (l->needed_not && (done = l->needed_not(l->needed_arg, &st)) != 0) {
			l->unneeded = done > 0;
			break;
		}
		held = held_now(conn, l->key, &st);
	}
	if (listening && PQstatus(conn) == CONNECTION_OK &&
	    db_exec(conn, "UNLISTEN " LOCK_CHANNEL, 0, NULL, &err) < 0)
		log_debug("could not stop listening for the migration lock: %s", err.message);
	drain_notified(conn);
	return st;
}

/*
 * The session mode holds a transaction-level lock in a transaction left open on a
 * connection of its own: a pooler in transaction mode cannot give that server connection
 * to anyone else while the transaction is open, and closing the connection releases the
 * lock, so the lock can neither be shared by two runners nor left behind. Between polls,
 * and while held, the transaction holds no snapshot, so CREATE INDEX CONCURRENTLY
 * elsewhere does not wait for it.
 */
static enum status hold(struct mig_lock *l, const struct config *cfg, bool *no_slot)
{
	struct db_error err;
	enum status st;

	l->unneeded = false;
	l->said_waiting = false;
	l->deadline = clock_ms() + cfg->lock_wait_ms;
	if (l->main && ((st = wait_free(l, cfg)) != ST_OK || l->unneeded)) {
		l->deadline = 0;
		return st;
	}
	/*
	 * No slot for a second connection (53300) is not retried: every runner holds its
	 * first connection while it waits, so a full server would stay full.
	 */
	l->conn = db_connect(cfg, NULL, cfg->connect_timeout_ms, &err);
	*no_slot = !l->conn && db_is(&err, SQLSTATE_TOO_MANY_CONNECTIONS);
	if (!l->conn && !*no_slot && !err.interrupted)
		l->conn = db_connect_retry(cfg, NULL, clock_ms() + cfg->wait_timeout_ms, &err);
	if (*no_slot)
		return ST_OK;
	if (!l->conn) {
		log_error("could not open the connection that holds the migration lock: %s",
			  err.message);
		return err.interrupted ? ST_SIGNAL : ST_UNAVAILABLE;
	}
	st = poll_lock(l->conn, cfg, l->key, true, l);
	l->deadline = 0;
	if (st == ST_OK && !l->unneeded)
		l->backend_pid = backend_pid(l->conn);
	if (st != ST_OK || l->unneeded) {
		PQfinish(l->conn);
		l->conn = NULL;
	}
	return st;
}

enum status lock_take(struct mig_lock *l, const struct config *cfg, bool fallback)
{
	bool no_slot = false;
	enum status st;

	if (l->mode == LOCK_TRANSACTION)
		return ST_OK;
	if ((st = hold(l, cfg, &no_slot)) != ST_OK || !no_slot)
		return st;
	if (!fallback) {
		log_error("no connection slot left for the migration lock (too many connections)");
		return ST_UNAVAILABLE;
	}
	log_warn("no connection slot left for the migration lock (too many connections): "
		 "taking it in each migration's transaction instead");
	l->mode = LOCK_TRANSACTION;
	return ST_OK;
}

/* False when conn is known to be gone; see lock_check. */
static bool still_connected(PGconn *conn, bool sure)
{
	struct db_error err;
	PGnotify *n;

	if (PQstatus(conn) != CONNECTION_OK)
		return false;
	/* Readable while idle in its transaction: a FATAL before the end, the end, or noise. */
	if (sig_wait(PQsocket(conn), POLLIN, 0) > 0) {
		if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
			return false;
		while ((n = PQnotifies(conn)))
			PQfreemem(n);
		sure = true;
	}
	return !sure || db_exec(conn, "SELECT 1", 0, NULL, &err) == 0;
}

enum status lock_check(const struct mig_lock *l, bool sure, const char *what)
{
	const struct log_field fields[] = {
		{ "hint", "another runner may hold the lock now; nothing more was applied by this one, "
			  "and the next run goes on where this one stopped" },
		{ NULL, NULL },
	};

	char cause[256];
	size_t n;

	if (l->mode != LOCK_SESSION || !l->conn || still_connected(l->conn, sure))
		return ST_OK;
	snprintf(cause, sizeof(cause), "%s", PQerrorMessage(l->conn));
	for (n = strlen(cause); n && (cause[n - 1] == '\n' || cause[n - 1] == ' '); n--)
		cause[n - 1] = '\0';
	log_event(LOG_ERROR, fields, "lost the migration lock before %s: the connection holding it "
		  "ended: %s", what, n ? cause : "no reason given");
	return ST_UNAVAILABLE;
}

void lock_release(struct mig_lock *l)
{
	struct db_error err;

	/* Closing alone would release it too, a little later, and wake nobody. */
	if (l->conn && PQstatus(l->conn) == CONNECTION_OK &&
	    db_exec(l->conn, "ROLLBACK; NOTIFY " LOCK_CHANNEL, 0, NULL, &err) < 0)
		log_debug("could not wake the runners waiting for the lock: %s", err.message);
	PQfinish(l->conn);
	l->conn = NULL;
	l->backend_pid = 0;
}
