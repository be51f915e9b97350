/*
 * config: every setting, where it came from, and the one place that decides precedence:
 * command-line flags > environment > entrypoint.ini > built-in defaults. Loaded once by
 * main and read-only afterwards.
 */
#ifndef PGBOOT_CONFIG_H
#define PGBOOT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "cfgfile.h"
#include "conn.h"
#include "log.h"
#include "sig.h"

enum cfg_key {
	CFG_PGBOOT_ENVIRONMENT,
	CFG_PGBOOT_PROTECT,
	CFG_DATABASE_URL,
	CFG_DATABASE_HOST,
	CFG_DATABASE_PORT,
	CFG_DATABASE_USER,
	CFG_DATABASE_PASSWORD,
	CFG_DATABASE_SECRET_FILE,
	CFG_DATABASE_DBNAME,
	CFG_DATABASE_SSLMODE,
	CFG_DATABASE_SSLROOTCERT,
	CFG_DATABASE_SSLCERT,
	CFG_DATABASE_SSLKEY,
	CFG_DATABASE_CONNECT_TIMEOUT,
	CFG_DATABASE_APPLICATION_NAME,
	CFG_DATABASE_MAINTENANCE_DB,
	CFG_WAIT_TIMEOUT,
	CFG_WAIT_INITIAL_DELAY,
	CFG_WAIT_MAX_DELAY,
	CFG_WAIT_FOR_PRIMARY,
	CFG_CREATE_MODE,
	CFG_CREATE_OWNER,
	CFG_CREATE_TEMPLATE,
	CFG_CREATE_ENCODING,
	CFG_MIGRATE_DIR,
	CFG_MIGRATE_TABLE,
	CFG_MIGRATE_LOCK_WAIT,
	CFG_MIGRATE_LOCK,
	CFG_MIGRATE_LOCK_TIMEOUT,
	CFG_MIGRATE_STATEMENT_TIMEOUT,
	CFG_MIGRATE_LOCK_RETRIES,
	CFG_MIGRATE_OUT_OF_ORDER,
	CFG_MIGRATE_TRANSACTION,
	CFG_MIGRATE_LINT,
	CFG_MIGRATE_FORMAT,
	CFG_MIGRATE_ADOPT,
	CFG_MIGRATE_ADOPT_TABLE,
	CFG_MIGRATE_ADOPT_ALEMBIC,
	CFG_EXEC_INIT,
	CFG_EXEC_INIT_GROUP,
	CFG_EXEC_INIT_SIGNAL_MAP,
	CFG_EXEC_INIT_KILL_TIMEOUT,
	CFG_LOG_LEVEL,
	CFG_LOG_FORMAT,
	CFG_ADMIN_URL,
	CFG_ADMIN_HOST,
	CFG_ADMIN_PORT,
	CFG_ADMIN_USER,
	CFG_ADMIN_PASSWORD,
	CFG_ADMIN_SECRET_FILE,
	CFG_ADMIN_SSLMODE,
	CFG_ADMIN_SSLROOTCERT,
	CFG_ADMIN_SSLCERT,
	CFG_ADMIN_SSLKEY,
	CFG_PROVISION_ROLE,
	CFG_PROVISION_ROLE_ATTRIBUTES,
	CFG_PROVISION_READONLY_ROLE,
	CFG_PROVISION_READONLY_PASSWORD,
	CFG_PROVISION_EXTENSIONS,
	CFG_PROVISION_SCHEMAS,
	CFG_PROVISION_PASSWORD_UPDATE,
	CFG_NKEYS
};

enum cfg_init { CFG_INIT_AUTO, CFG_INIT_ON, CFG_INIT_OFF }; /* exec.init */

/* migrate.lint: what the linter's findings do to run and migrate (src/lint.h). */
enum cfg_lint { CFG_LINT_WARN, CFG_LINT_ERROR, CFG_LINT_OFF };

enum cfg_tier { CFG_TIER_DEFAULT, CFG_TIER_INI, CFG_TIER_ENV, CFG_TIER_FLAG };

struct cfg_entry {
	char *value;  /* NULL when unset */
	char *source; /* "default", "entrypoint.ini:12", "env PGBOOT_WAIT_TIMEOUT", "--wait-timeout" */
	enum cfg_tier tier;
	int line;     /* ini line, to name duplicates */
};

struct config {
	struct cfg_entry entries[CFG_NKEYS];
	char *ini_path;      /* the file read, or NULL */
	const char *environment; /* pgboot.environment, or NULL */
	bool protected_env;  /* the environment is listed in pgboot.protect */
	bool for_primary;    /* wait.for_primary */
	struct buf warnings; /* lines to log once logging is set up */
	struct cfgfile file; /* the ini file's pairs, applied once the environment is known */

	/* Typed values, filled by cfg_finish. */
	int64_t connect_timeout_ms, wait_timeout_ms, initial_delay_ms, max_delay_ms, lock_wait_ms;
	int64_t lock_timeout_ms, statement_timeout_ms, lock_retries;
	bool lock_per_transaction; /* migrate.lock = transaction: for poolers */
	bool out_of_order;         /* migrate.out_of_order = allow */
	bool one_transaction;      /* migrate.transaction = all */
	enum cfg_lint lint;        /* migrate.lint */
	bool create_never;
	enum cfg_init init_mode;
	bool init_group;
	int64_t init_kill_timeout_ms;
	struct sig_map init_signal_map;
	enum log_level log_level;
	enum log_format log_format;
	char *password;      /* database.password (perhaps read from a file), or NULL */
	char *table_schema, *table_name;
	struct conn_params conn; /* the libpq keywords to connect with (conn.h) */

	/* [admin] and [provision] (src/provision.h): only when an admin connection is set. */
	bool has_admin;           /* some admin.* setting is set */
	struct conn_params admin; /* the administrator's keywords, the target's host, port, TLS */
	/* The target's user, password and database as libpq will see them (setting, URL). */
	char *app_user, *app_password, *app_dbname;
	char *inherited[6];       /* owned values of the target's that admin's keywords point to */
};

/* Fills the defaults. Release with cfg_release. */
void cfg_init(struct config *cfg);
void cfg_release(struct config *cfg);

/* The number of settings, and "section.key" / the flag name ("wait-timeout") of each. */
const char *cfg_name(enum cfg_key key);
const char *cfg_flag_name(enum cfg_key key);
/* Finds a setting by "section.key"; returns -1 when there is none. */
int cfg_lookup(const char *name);

/*
 * Sets key from a command-line flag. On a bad value writes a one-line message into err
 * and returns -1.
 */
int cfg_set_flag(struct config *cfg, enum cfg_key key, const char *flag, const char *value,
		 char *err, size_t errsize);
/* Sets key from the file named by a --<section>-<key>-file flag (trailing newlines cut). */
int cfg_set_flag_file(struct config *cfg, enum cfg_key key, const char *flag, const char *path,
		      char *err, size_t errsize);
/*
 * Reads the ini file (path from --config, then $PGBOOT_CONFIG, then ./entrypoint.ini when
 * present; config_flag may be NULL) and the environment, then checks and types the result.
 * Returns 0, or -1 with a message naming the file and line, variable or flag in err.
 */
int cfg_load(struct config *cfg, const char *config_flag, char *err, size_t errsize);

static inline const char *cfg_get(const struct config *cfg, enum cfg_key key)
{
	return cfg->entries[key].value;
}

/* Writes every effective setting with its source to stdout, secrets redacted. */
void cfg_print(const struct config *cfg);

#endif
