/*
 * lock: the migration lock, a PostgreSQL advisory lock that makes runners starting
 * together take turns. It is polled, never waited for in the server, and either held for
 * a whole run on a connection of its own (migrate.lock = session) or taken in each
 * migration's transaction (migrate.lock = transaction, and the fallback when the server
 * has no connection slot left).
 */
#ifndef PGBOOT_LOCK_H
#define PGBOOT_LOCK_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "config.h"
#include "status.h"

enum lock_mode {
	LOCK_SESSION,     /* held for the whole run, by conn */
	LOCK_TRANSACTION, /* taken in each migration's own transaction */
};

struct mig_lock {
	char key[24];        /* the advisory lock's key, a bigint in decimal */
	enum lock_mode mode; /* the mode in effect: set by lock_take */
	PGconn *conn;        /* with LOCK_SESSION once taken: the connection holding it */
	int backend_pid;     /* and its server process (through a pooler too), or 0 */
	/*
	 * Optional, set by the caller before lock_take: asked each time a waiter wakes
	 * (the holder let go, or its pause ended) whether the lock is still needed. 1: no
	 * (the work was done meanwhile): lock_take stops waiting, with unneeded set; 0: yes;
	 * -1: stop, with the status in *st (logged).
	 */
	int (*needed_not)(void *arg, enum status *st);
	void *needed_arg;
	bool unneeded;       /* set by lock_take: needed_not said the work was done */
	/*
	 * Optional, set by the caller before lock_take: the runner's own connection. While
	 * another session holds the lock, the runner waits on it, and opens the lock's own
	 * connection only once the lock looks free: a waiting replica holds one connection,
	 * not two, and one that finds the work done never opens the second.
	 */
	PGconn *main;
	bool said_waiting;   /* "waiting for another pgboot" was logged */
	int64_t deadline;    /* clock_ms() when migrate.lock_wait ends, during lock_take */
};

/* The mode migrate.lock asks for (lock_take may fall back from it). */
enum lock_mode lock_configured(const struct config *cfg);
/*
 * The rows of pg_locks (pg_catalog.pg_locks, aliased l) that say a session holds the lock
 * of key in the current database: the text after a SELECT list, "FROM ... WHERE ...", to which the caller may add
 * "AND ..." conditions. pg_locks shows every role's locks. The caller frees it.
 */
char *lock_rows_sql(const char *key);
/* The lock of the history table named table (quoted), in the configured mode. */
void lock_init(struct mig_lock *l, const char *table, const struct config *cfg);
/*
 * Takes the lock for a run. In LOCK_SESSION mode it opens its own connection and holds the
 * lock there, in an open transaction, until lock_release. When the server has no slot
 * left for that connection (53300), with fallback the mode in effect becomes
 * LOCK_TRANSACTION (warned about); without, ST_UNAVAILABLE. In LOCK_TRANSACTION mode it
 * does nothing: lock_in_transaction takes it. While it waits, needed_not (when set) may end
 * the wait: ST_OK with unneeded set and nothing held. Errors are logged.
 */
enum status lock_take(struct mig_lock *l, const struct config *cfg, bool fallback);
/*
 * Takes the lock inside conn's open transaction (it goes with the transaction), polling
 * with backoff until migrate.lock_wait, after which it names the holder.
 */
enum status lock_in_transaction(const struct mig_lock *l, PGconn *conn,
				const struct config *cfg);
/*
 * Whether the lock is still held, before anything more is applied under it: in
 * LOCK_SESSION mode, whether its connection is still alive (a terminated backend, an
 * idle-session killer or a network reset end it, and another runner may take the lock).
 * Without sure it only reads what the socket already holds, without waiting; with sure,
 * or when something arrived, it also asks the server. Returns ST_OK, or ST_UNAVAILABLE
 * after logging that the lock was lost while doing what ("statement 3 of \"x.sql\"").
 */
enum status lock_check(const struct mig_lock *l, bool sure, const char *what);
/* Ends the lock's transaction, wakes the runners waiting for it, closes its connection. */
void lock_release(struct mig_lock *l);

#endif
