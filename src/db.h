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
 * Logs "could not WHAT: message (SQLSTATE x)" with detail and hint, and says what it means
 * for the exit: a signal, a permission, a lost connection, or an unexpected server error.
 */
enum status db_report(const struct db_error *err, const char *what);
/* The identifier quoted for SQL ("my db" -> "\"my db\""). The caller frees it. */
char *db_quote_ident(PGconn *conn, const char *name);
/* The library versions, e.g. "libpq 15.18". */
void db_versions(char *out, size_t size);

#endif
