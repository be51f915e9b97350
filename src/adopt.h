/*
 * adopt: taking over a database that another migration tool kept. When pgboot's history
 * table does not exist and another tool's does (dbmate, golang-migrate, goose, Flyway,
 * node-pg-migrate, drizzle, alembic), every migration that tool applied is recorded in
 * pgboot's history, created in the same transaction, under the migration lock. The other
 * tool's table is only read: never changed, never dropped.
 */
#ifndef PGBOOT_ADOPT_H
#define PGBOOT_ADOPT_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "config.h"
#include "history.h"
#include "migfile.h"
#include "status.h"

/*
 * Called by run and migrate when h (as read) has no table: finds another tool's history
 * (migrate.adopt_table, else each tool's default table) and adopts it, or refuses
 * (migrate.adopt = never, a failed or dirty run, a version without its file, two tools'
 * tables, an alembic head that is not migrate.adopt_alembic's). Nothing found: ST_OK and
 * nothing done. With print, writes one line per adopted file to stdout. The caller reads
 * the history again afterwards: another runner may have adopted it first. Errors are
 * logged; a refusal is ST_MIGRATION.
 */
enum status adopt_run(const struct config *cfg, PGconn *conn, const struct mig_list *list,
		      const struct history *h, bool print);

/* pgboot adopt: adopt_run alone, with a report; pgboot's history existing is not an error. */
enum status adopt_command(const struct config *cfg, PGconn *conn, const struct mig_list *list);

/*
 * Flyway's checksum of data[0, len): CRC-32 of the UTF-8 bytes of each line without its
 * line break (\n, \r\n or \r), a byte order mark removed from the first, as a signed
 * 32-bit number (flyway-core's ChecksumCalculator).
 */
int32_t adopt_flyway_checksum(const char *data, size_t len);

#endif
