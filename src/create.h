/* create: the target database, when it is missing and the role may create it. */
#ifndef PGBOOT_CREATE_H
#define PGBOOT_CREATE_H

#include <libpq-fe.h>
#include <stdint.h>

#include "config.h"
#include "status.h"

/*
 * Creates dbname through the maintenance database (falling back to template1 when the
 * default "postgres" does not exist), with create.owner, create.template and
 * create.encoding. Another session creating it at the same moment counts as success;
 * "source database is being accessed" is retried until deadline (clock_ms), and so is a
 * connection lost meanwhile (a restart, a terminated backend), on a new one. A role that
 * may not create it gets ST_PERMISSION and the SQL an administrator must run.
 */
enum status create_database(const struct config *cfg, const char *dbname, int64_t deadline);

/*
 * CREATE DATABASE dbname with owner (NULL: none, the connected role owns it) and
 * create.template and create.encoding, every name quoted. The caller frees it.
 */
char *create_statement(PGconn *conn, const struct config *cfg, const char *dbname,
		       const char *owner);
/*
 * Runs that statement on conn (the admin's maintenance connection), with create_database's
 * rules: another session creating it is success, a template in use is retried until
 * deadline. A lost connection is ST_UNAVAILABLE.
 */
enum status create_on(PGconn *conn, const struct config *cfg, const char *dbname,
		      const char *owner, int64_t deadline);

/*
 * Drops dbname through the maintenance database. With force, other sessions are ended
 * first (DROP DATABASE ... WITH (FORCE)); without, they make it fail with a hint. A
 * database that does not exist is not an error.
 */
enum status create_drop(const struct config *cfg, const char *dbname, bool force,
			int64_t deadline);

#endif
