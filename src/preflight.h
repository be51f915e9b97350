/*
 * preflight: every check made on a migration file before any of it runs. The directive
 * line ("-- pgboot:no-transaction"), transaction control a transactional file may not
 * hold, psql meta-commands pgboot cannot run, and the settings a no-transaction file
 * cannot run under. Lint rules belong here too.
 */
#ifndef PGBOOT_PREFLIGHT_H
#define PGBOOT_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "lock.h"
#include "migfile.h"
#include "util.h"

/* What the checks found: how the file runs. */
struct preflight {
	bool no_transaction; /* "-- pgboot:no-transaction": statement by statement */
	bool wrapped;        /* the file's own BEGIN ... COMMIT around all of it */
	size_t count;        /* statements */
};

/*
 * Checks sql, the up part of m (or its down part, with down), to be run with the lock in
 * mode and under cfg. Returns 0 and fills out, or -1 after logging the file, the line and
 * what to do.
 */
int preflight_check(const struct migration *m, const struct buf *sql, const struct config *cfg,
		    enum lock_mode mode, bool down, struct preflight *out);
/* Reads m's up part into sql (initialised by the caller) and checks it (preflight_check). */
int preflight_read(const struct migration *m, const struct config *cfg, enum lock_mode mode,
		   struct buf *sql, struct preflight *out);

#endif
