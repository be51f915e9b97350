/* wait: until the target database accepts a real connection, or wait.timeout passes. */
#ifndef PGBOOT_WAIT_H
#define PGBOOT_WAIT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "db.h"
#include "status.h"

struct wait_result {
	PGconn *conn;        /* the connection to the target, owned by the caller */
	bool missing;        /* the database does not exist (only when missing_ok) */
	char dbname[128];    /* the target's name, as libpq resolved it */
	char user[128];
	int64_t deadline;    /* clock_ms() when wait.timeout ends, for the phases after */
	int64_t start;       /* clock_ms() when the first wait began */
	int attempts;        /* connection attempts so far, over every call */
	bool started;        /* wait_ready ran: a later call continues this wait */
	struct db_idle idle; /* work for the time connections wait on the server, or none */
};

/*
 * Connects to the target with capped, jittered exponential backoff. Failures that can
 * never succeed end at once (ST_CONFIG); a server that is down, starting, in recovery,
 * full, rejecting the password or not yet in DNS is retried until the deadline
 * (ST_UNAVAILABLE). With missing_ok, "database does not exist" ends the wait with
 * out->missing set and no connection; otherwise it is waited out like the others.
 * out starts zeroed; a second call on it (after creating the database) continues the same
 * wait: the same deadline, and the ready line counts every attempt and the whole time.
 */
enum status wait_ready(const struct config *cfg, bool missing_ok, struct wait_result *out);
/*
 * Until conn's server is no longer in recovery (a hot standby being promoted), polling
 * pg_is_in_recovery() until deadline (clock_ms). With wait false, a standby fails at
 * once (ST_UNAVAILABLE): migrations cannot run there.
 */
enum status wait_primary(const struct config *cfg, PGconn *conn, int64_t deadline, bool wait);

#endif
