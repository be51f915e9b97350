/*
 * preflight: every check made on a migration file before any of it runs. The directive
 * line ("-- pgboot:no-transaction"), transaction control a transactional file may not
 * hold, psql meta-commands pgboot cannot run, the settings a no-transaction file
 * cannot run under, and the lint of the pending files (lint.h) under migrate.lint.
 */
#ifndef PGBOOT_PREFLIGHT_H
#define PGBOOT_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "history.h"
#include "lint.h"
#include "lock.h"
#include "migfile.h"
#include "status.h"
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

/*
 * Lints the files of list that h does not hold (h NULL: every file), in order, as one set,
 * into l (initialised by the caller). Returns 0, or -1 when a file cannot be read or split
 * (logged).
 */
int preflight_lint(struct lint *l, const struct mig_list *list, const struct history *h);
/*
 * Before anything is applied: lints the pending files (those h does not hold) under
 * migrate.lint and logs every finding, allowed ones at info level. Returns ST_OK, or
 * ST_MIGRATION when a file cannot be read or a finding is an error.
 */
enum status preflight_lint_pending(const struct config *cfg, const struct mig_list *list,
				   const struct history *h);
/*
 * Logs every finding of l (allowed ones at info level). Returns ST_OK, or ST_MIGRATION
 * (logged) when a finding is an error.
 */
enum status preflight_lint_verdict(struct lint *l);

#endif
