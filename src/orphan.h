/*
 * orphan: what an earlier runner may have left behind on the server. A runner killed
 * (SIGKILL) or cut off from its lock leaves its backend running the statement it sent,
 * and a CREATE INDEX CONCURRENTLY stopped midway leaves an INVALID index. The next runner
 * waits for the first and rebuilds the second, never the reverse.
 */
#ifndef PGBOOT_ORPHAN_H
#define PGBOOT_ORPHAN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/*
 * The index a CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name statement names, as
 * stored (unquoted names fold to lower case). False for other statements or no name.
 */
bool orphan_index_name(const char *stmt, char *name, size_t size);
/*
 * Waits while another backend of this database runs exactly the statement text (an
 * earlier runner's, which died or lost the lock but whose backend goes on), for at most
 * wait_ms. Sets *pid to that backend's pid ("" when there was none). Returns ST_OK once
 * none runs it, ST_UNAVAILABLE (logged, naming the pid and what) when wait_ms passed,
 * ST_SIGNAL, or the failure of the query (logged).
 */
enum status orphan_wait(PGconn *conn, const char *text, int64_t wait_ms, const char *what,
			char pid[16]);

enum orphan_index { INDEX_ABSENT, INDEX_VALID, INDEX_INVALID };
/* The state of the index name (visible on the search path); *qualified its quoted name. */
enum status orphan_index_state(PGconn *conn, const char *name, enum orphan_index *state,
			       char **qualified);
/* Drops an INVALID index (concurrently), so that its statement builds it again. */
enum status orphan_index_drop(PGconn *conn, const char *qualified);

#endif
