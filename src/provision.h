/*
 * provision: with an administrator's connection ([admin]), makes what the application's
 * role cannot make for itself ([provision]): its login role, a read-only role, the
 * database owned by it, extensions, schemas and read-only grants. Idempotent: what exists
 * is left alone (a difference is warned about, never changed); runners that start
 * together are serialized by an advisory lock on the admin's maintenance connection.
 * Passwords reach the server only as SCRAM verifiers computed here.
 */
#ifndef PGBOOT_PROVISION_H
#define PGBOOT_PROVISION_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "status.h"

/*
 * Provisions through cfg->admin (cfg->has_admin must be set), connecting until deadline
 * (clock_ms). Logs one line of what changed, or that nothing had to. With dry_run, prints
 * the SQL it would run to stdout (passwords as ********), changes nothing, and sets
 * *incomplete when the application's role or database does not exist yet. Every admin
 * connection is closed on return.
 */
enum status provision_run(const struct config *cfg, bool dry_run, int64_t deadline,
			  bool *incomplete);

#endif
