/*
 * db: connection helpers over libpq. Every wait goes through sig_wait, so a termination
 * signal interrupts a connection attempt at once and cancels a running query.
 */
#ifndef PGBOOT_DB_H
#define PGBOOT_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "status.h"

/* The SQLSTATEs pgboot acts on (PostgreSQL's errcodes.txt), by what they mean. */
#define SQLSTATE_FEATURE_NOT_SUPPORTED "0A000"
#define SQLSTATE_INVALID_PARAMETER_VALUE "22023"
#define SQLSTATE_UNIQUE_VIOLATION "23505"
#define SQLSTATE_READ_ONLY_TRANSACTION "25006"
#define SQLSTATE_CLASS_AUTHORIZATION "28" /* 28000, 28P01: a class, matched as a prefix */
#define SQLSTATE_UNDEFINED_DATABASE "3D000"
#define SQLSTATE_UNDEFINED_SCHEMA "3F000"
#define SQLSTATE_INSUFFICIENT_PRIVILEGE "42501"
#define SQLSTATE_UNDEFINED_TABLE "42P01"
#define SQLSTATE_DUPLICATE_DATABASE "42P04"
#define SQLSTATE_DUPLICATE_SCHEMA "42P06"
#define SQLSTATE_UNDEFINED_OBJECT "42704"
#define SQLSTATE_DUPLICATE_OBJECT "42710"
#define SQLSTATE_WRONG_OBJECT_TYPE "42809"
#define SQLSTATE_TOO_MANY_CONNECTIONS "53300"
#define SQLSTATE_OBJECT_IN_USE "55006"
#define SQLSTATE_LOCK_NOT_AVAILABLE "55P03"
#define SQLSTATE_ADMIN_SHUTDOWN "57P01"
#define SQLSTATE_CANNOT_CONNECT_NOW "57P03"

struct db_error {
	char sqlstate[6];    /* "" when there is none: network, DNS, timeout, lost connection */
	char message[2048];  /* one event's text, libpq's trailing newline removed */
	char detail[1024];
	char hint[1024];
	char context[1024];  /* where in a function or COPY the error happened */
	int position;        /* the server's error position (characters, 1-based), or 0 */
	bool no_attempt;     /* the parameters can never work: do not retry */
	bool immediate;      /* libpq failed before waiting on any socket */
	bool interrupted;    /* a termination signal came */
	bool timed_out;      /* the attempt reached its time limit */
	bool connection_lost;
	char dbname[128];    /* what libpq resolved the target to, for messages */
	char user[128];
};

/*
 * Connects to the configured database, or to dbname when it is not NULL, giving up after
 * timeout_ms (negative: no limit). Returns the connection (the caller PQfinishes it) or
 * NULL with err filled.
 */
PGconn *db_connect(const struct config *cfg, const char *dbname, int64_t timeout_ms,
		   struct db_error *err);
/*
 * Work to do while a connection waits on the server: step does a little of it and returns
 * false once nothing is left (db_connect_idle then clears step).
 */
struct db_idle {
	bool (*step)(void *arg);
	void *arg;
};
/* db_connect, running idle's steps whenever the connection waits on the server. */
PGconn *db_connect_idle(const struct config *cfg, const char *dbname, int64_t timeout_ms,
			struct db_idle *idle, struct db_error *err);
/*
 * True when the connection parameters can never work (libpq would not even try). Costs a
 * connection attempt bounded by timeout_ms: call it only after a failure without SQLSTATE.
 */
bool db_params_invalid(const struct config *cfg, int64_t timeout_ms);
/*
 * Runs sql (several statements when params is NULL, else one with nparams text parameters)
 * and returns its last result, or the first error's, which the caller PQclears. On a
 * termination signal the query is cancelled and err->interrupted set. NULL means the
 * query failed; err says why.
 */
PGresult *db_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
		   struct db_error *err);
/*
 * Runs one COPY ... FROM STDIN statement and streams data (len bytes) to it. Returns the
 * final result as db_query does.
 */
PGresult *db_copy_in(PGconn *conn, const char *sql, const char *data, size_t len,
		     struct db_error *err);
/* db_query for statements whose rows do not matter. Returns 0, or -1 with err filled. */
int db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
	    struct db_error *err);
/*
 * For a caller that sends queries itself (a pipeline): waits until a result can be read
 * without blocking, cancelling the query when a termination signal comes (cancellable), as
 * db_query does. Returns 0, or -1 with err filled (connection lost, cancel not obeyed).
 */
int db_wait(PGconn *conn, bool cancellable, struct db_error *err);
/* Fills err (cleared by the caller) from res, a PGRES_FATAL_ERROR result. */
void db_result_error(PGconn *conn, const PGresult *res, struct db_error *err);
/*
 * Logs "could not WHAT: message (SQLSTATE x)" with detail and hint, and says what it means
 * for the exit: a signal, a permission, a lost connection, or an unexpected server error.
 */
enum status db_report(const struct db_error *err, const char *what);
/* True when err carries the SQLSTATE code (one of the SQLSTATE_ constants). */
bool db_is(const struct db_error *err, const char *code);
/*
 * What err means for the exit, from the one SQLSTATE table: a signal, a permission or an
 * authentication failure, a name in the configuration that does not exist, a server that
 * is not available (or a failure without SQLSTATE: network, lost connection). Any other
 * SQLSTATE gives otherwise.
 */
enum status db_status(const struct db_error *err, enum status otherwise);
/* Failures that pass by themselves: no SQLSTATE (network), starting up, shutting down, full. */
bool db_transient(const struct db_error *err);
/* A few words for the kind of failure ("too many connections"), or the SQLSTATE. */
const char *db_failure_kind(const struct db_error *err);

/*
 * Connects to dbname (NULL: the target) for the phases after the wait: a server that is
 * starting, full (too many connections) or unreachable is retried with backoff until
 * deadline (clock_ms); anything else fails at once. NULL with err set on failure; failures
 * are not logged.
 */
PGconn *db_connect_retry(const struct config *cfg, const char *dbname, int64_t deadline,
			 struct db_error *err);
/*
 * Connects to database.maintenance_db, falling back to template1 when the default
 * "postgres" does not exist (as createdb does), retrying as db_connect_retry. On failure
 * logs it and returns NULL with *st set.
 */
PGconn *db_connect_maintenance(const struct config *cfg, int64_t deadline, enum status *st);
/* The same two, connecting with the keywords of as (the admin connection: cfg->admin). */
PGconn *db_connect_retry_as(const struct config *cfg, const struct conn_params *as,
			    const char *dbname, int64_t deadline, struct db_error *err);
PGconn *db_connect_maintenance_as(const struct config *cfg, const struct conn_params *as,
				  int64_t deadline, enum status *st);

/*
 * Capped exponential backoff with jitter, one per retry loop. Delay n (1-based) is uniform
 * in [0, cap] with cap = min(max_ms, initial_ms * 2^n) (full jitter); with half_fixed the
 * first half of cap is always waited and only the second half is jittered.
 */
struct db_backoff {
	int64_t initial_ms, max_ms;
	bool half_fixed;
	int attempt;
	uint64_t rng;
};
void db_backoff_init(struct db_backoff *b, int64_t initial_ms, int64_t max_ms, bool half_fixed);
/* The next delay in milliseconds. */
int64_t db_backoff_next(struct db_backoff *b);
/*
 * The pause before the next connection attempt, by what the last one met: nothing
 * listening (connection refused, no socket file) costs the server nothing and is tried
 * again every 10 ms; a server that answers 57P03 (starting up, shutting down) forks a
 * backend for each attempt, and is tried again after 10-20 ms for the first second it
 * answers so, then after 50-100 ms; anything else gets the wait.initial_delay and
 * wait.max_delay backoff. No pause is longer than wait.max_delay.
 */
struct db_retry {
	struct db_backoff other, fast, slow;
	int64_t refused_ms;
	int64_t starting_since; /* clock_ms() of the first 57P03, or -1 */
};
void db_retry_init(struct db_retry *r, const struct config *cfg);
int64_t db_retry_next(struct db_retry *r, const struct db_error *err);
/* Sleeps ms with signals deliverable. Returns -1 when a termination signal came. */
int db_sleep(int64_t ms);

/* The identifier quoted for SQL ("my db" -> "\"my db\""). The caller frees it. */
char *db_quote_ident(PGconn *conn, const char *name);
/* The library versions, e.g. "libpq 15.18". */
void db_versions(char *out, size_t size);

#endif
