#include "config.h"

#include "conn.h"
#include "expand.h"
#include "secret.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum cfg_type {
	T_STRING,   /* any text */
	T_SECRET,   /* any text, never printed */
	T_URL,      /* URI or conninfo, printed redacted */
	T_PATH,     /* relative paths in the ini file are taken from the file's directory */
	T_DURATION, /* "250ms", "30s", "5m" */
	T_ENUM,     /* one of spec.choices, '|'-separated */
	T_PORT,     /* 1-65535, or a comma-separated list for several hosts */
	T_NAME,     /* a PostgreSQL identifier: at most 63 bytes */
	T_TABLE,    /* [schema.]table */
	T_COUNT,    /* a whole number from 0 to 1000 */
	T_SIGMAP,   /* "TERM:QUIT,INT:TERM" */
	T_NAMES,    /* a comma-separated list of T_NAMEs */
	T_ROLEATTRS, /* CREATE ROLE attributes: "NOSUPERUSER NOCREATEDB ..." */
	T_REVMAP,   /* "<revision>=<version>": an alembic revision and a migration version */
};

struct cfg_spec {
	const char *section, *key;
	enum cfg_type type;
	const char *def;
	const char *choices;
	const char *libpq_keyword; /* the libpq connection keyword it sets, if any */
	const char *env;           /* the variable, when not PGBOOT_<SECTION>_<KEY> */
	const char *flag;          /* the flag, when not <section>-<key> */
};

static const struct cfg_spec specs[CFG_NKEYS] = {
	[CFG_PGBOOT_ENVIRONMENT] = { "pgboot", "environment", T_NAME, NULL, NULL, NULL,
				     "PGBOOT_ENVIRONMENT", "environment" },
	[CFG_PGBOOT_PROTECT] = { "pgboot", "protect", T_STRING, "production", NULL, NULL,
				 "PGBOOT_PROTECT", "protect" },
	[CFG_DATABASE_URL] = { "database", "url", T_URL, NULL, NULL, NULL, NULL },
	[CFG_DATABASE_HOST] = { "database", "host", T_STRING, NULL, NULL, "host" },
	[CFG_DATABASE_PORT] = { "database", "port", T_PORT, NULL, NULL, "port" },
	[CFG_DATABASE_USER] = { "database", "user", T_STRING, NULL, NULL, "user" },
	[CFG_DATABASE_PASSWORD] = { "database", "password", T_SECRET, NULL, NULL, "password" },
	[CFG_DATABASE_SECRET_FILE] = { "database", "secret_file", T_PATH, NULL, NULL, NULL, NULL },
	[CFG_DATABASE_DBNAME] = { "database", "dbname", T_NAME, NULL, NULL, "dbname" },
	[CFG_DATABASE_SSLMODE] = { "database", "sslmode", T_ENUM, NULL,
				   "disable|allow|prefer|require|verify-ca|verify-full", "sslmode" },
	[CFG_DATABASE_SSLROOTCERT] = { "database", "sslrootcert", T_PATH, NULL, NULL,
				       "sslrootcert" },
	[CFG_DATABASE_SSLCERT] = { "database", "sslcert", T_PATH, NULL, NULL, "sslcert" },
	[CFG_DATABASE_SSLKEY] = { "database", "sslkey", T_PATH, NULL, NULL, "sslkey" },
	[CFG_DATABASE_CONNECT_TIMEOUT] = { "database", "connect_timeout", T_DURATION, "10s", NULL,
					   NULL, NULL },
	[CFG_DATABASE_APPLICATION_NAME] = { "database", "application_name", T_STRING, "pgboot", NULL,
					    "application_name" },
	[CFG_DATABASE_MAINTENANCE_DB] = { "database", "maintenance_db", T_NAME, "postgres", NULL,
					  NULL, NULL },
	[CFG_WAIT_TIMEOUT] = { "wait", "timeout", T_DURATION, "60s", NULL, NULL, NULL },
	[CFG_WAIT_INITIAL_DELAY] = { "wait", "initial_delay", T_DURATION, "50ms", NULL, NULL, NULL },
	[CFG_WAIT_MAX_DELAY] = { "wait", "max_delay", T_DURATION, "250ms", NULL, NULL, NULL },
	[CFG_WAIT_FOR_PRIMARY] = { "wait", "for_primary", T_ENUM, "false", "false|true", NULL, NULL },
	[CFG_CREATE_MODE] = { "create", "mode", T_ENUM, "auto", "auto|never", NULL, NULL },
	[CFG_CREATE_OWNER] = { "create", "owner", T_NAME, NULL, NULL, NULL, NULL },
	[CFG_CREATE_TEMPLATE] = { "create", "template", T_NAME, NULL, NULL, NULL, NULL },
	[CFG_CREATE_ENCODING] = { "create", "encoding", T_NAME, NULL, NULL, NULL, NULL },
	[CFG_MIGRATE_DIR] = { "migrate", "dir", T_PATH, "migrations", NULL, NULL, NULL },
	[CFG_MIGRATE_TABLE] = { "migrate", "table", T_TABLE, "pgboot.migrations", NULL, NULL, NULL },
	[CFG_MIGRATE_LOCK_WAIT] = { "migrate", "lock_wait", T_DURATION, "10m", NULL, NULL, NULL },
	[CFG_MIGRATE_LOCK] = { "migrate", "lock", T_ENUM, "session", "session|transaction", NULL, NULL },
	[CFG_MIGRATE_LOCK_TIMEOUT] = { "migrate", "lock_timeout", T_DURATION, "5s", NULL, NULL, NULL },
	[CFG_MIGRATE_STATEMENT_TIMEOUT] = { "migrate", "statement_timeout", T_DURATION, "0", NULL, NULL,
					    NULL },
	[CFG_MIGRATE_LOCK_RETRIES] = { "migrate", "lock_retries", T_COUNT, "3", NULL, NULL, NULL },
	[CFG_MIGRATE_OUT_OF_ORDER] = { "migrate", "out_of_order", T_ENUM, "error", "error|allow", NULL,
				       NULL },
	[CFG_MIGRATE_TRANSACTION] = { "migrate", "transaction", T_ENUM, "file", "file|all", NULL,
				      NULL },
	[CFG_MIGRATE_LINT] = { "migrate", "lint", T_ENUM, "warn", "error|warn|off", NULL, NULL },
	[CFG_MIGRATE_FORMAT] = { "migrate", "format", T_ENUM, "auto", "auto|pgboot|dbmate|golang-migrate|"
				 "goose|flyway|node-pg-migrate|drizzle", NULL, NULL },
	[CFG_MIGRATE_ADOPT] = { "migrate", "adopt", T_ENUM, "auto", "auto|never", NULL, NULL },
	[CFG_MIGRATE_ADOPT_TABLE] = { "migrate", "adopt_table", T_TABLE, NULL, NULL, NULL, NULL },
	[CFG_MIGRATE_ADOPT_ALEMBIC] = { "migrate", "adopt_alembic", T_REVMAP, NULL, NULL, NULL, NULL },
	[CFG_EXEC_INIT] = { "exec", "init", T_ENUM, "auto", "auto|on|off", NULL, NULL },
	[CFG_EXEC_INIT_GROUP] = { "exec", "init_group", T_ENUM, "false", "false|true", NULL, NULL },
	[CFG_EXEC_INIT_SIGNAL_MAP] = { "exec", "init_signal_map", T_SIGMAP, NULL, NULL, NULL, NULL },
	[CFG_EXEC_INIT_KILL_TIMEOUT] = { "exec", "init_kill_timeout", T_DURATION, "0", NULL, NULL,
					 NULL },
	[CFG_LOG_LEVEL] = { "log", "level", T_ENUM, "info", "debug|info|warn|error", NULL, NULL },
	[CFG_LOG_FORMAT] = { "log", "format", T_ENUM, "text", "text|json", NULL, NULL },
	[CFG_ADMIN_URL] = { "admin", "url", T_URL, NULL, NULL, NULL, NULL },
	[CFG_ADMIN_HOST] = { "admin", "host", T_STRING, NULL, NULL, "host" },
	[CFG_ADMIN_PORT] = { "admin", "port", T_PORT, NULL, NULL, "port" },
	[CFG_ADMIN_USER] = { "admin", "user", T_STRING, NULL, NULL, "user" },
	[CFG_ADMIN_PASSWORD] = { "admin", "password", T_SECRET, NULL, NULL, "password" },
	[CFG_ADMIN_SECRET_FILE] = { "admin", "secret_file", T_PATH, NULL, NULL, NULL, NULL },
	[CFG_ADMIN_SSLMODE] = { "admin", "sslmode", T_ENUM, NULL,
				"disable|allow|prefer|require|verify-ca|verify-full", "sslmode" },
	[CFG_ADMIN_SSLROOTCERT] = { "admin", "sslrootcert", T_PATH, NULL, NULL, "sslrootcert" },
	[CFG_ADMIN_SSLCERT] = { "admin", "sslcert", T_PATH, NULL, NULL, "sslcert" },
	[CFG_ADMIN_SSLKEY] = { "admin", "sslkey", T_PATH, NULL, NULL, "sslkey" },
	[CFG_PROVISION_ROLE] = { "provision", "role", T_ENUM, "auto", "auto|none", NULL, NULL },
	[CFG_PROVISION_ROLE_ATTRIBUTES] = { "provision", "role_attributes", T_ROLEATTRS,
					    "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION",
					    NULL, NULL, NULL },
	[CFG_PROVISION_READONLY_ROLE] = { "provision", "readonly_role", T_NAME, NULL, NULL, NULL,
					  NULL },
	[CFG_PROVISION_READONLY_PASSWORD] = { "provision", "readonly_password", T_SECRET, NULL, NULL,
					      NULL, NULL },
	[CFG_PROVISION_EXTENSIONS] = { "provision", "extensions", T_NAMES, NULL, NULL, NULL, NULL },
	[CFG_PROVISION_SCHEMAS] = { "provision", "schemas", T_NAMES, NULL, NULL, NULL, NULL },
	[CFG_PROVISION_PASSWORD_UPDATE] = { "provision", "password_update", T_ENUM, "never",
					    "never|always", NULL, NULL },
};

static const char *const section_names[] = { "pgboot", "database", "wait", "create", "migrate",
					     "exec", "log", "admin", "provision" };

static char names[CFG_NKEYS][48];
static char flag_names[CFG_NKEYS][48];

/* The names are derived once from the table; they never change afterwards. */
static void init_names(void)
{
	if (names[0][0])
		return;
	for (int i = 0; i < CFG_NKEYS; i++) {
		snprintf(names[i], sizeof(names[i]), "%s.%s", specs[i].section, specs[i].key);
		if (specs[i].flag)
			snprintf(flag_names[i], sizeof(flag_names[i]), "%s", specs[i].flag);
		else
			snprintf(flag_names[i], sizeof(flag_names[i]), "%s-%s", specs[i].section,
				 specs[i].key);
		for (char *p = flag_names[i]; *p; p++)
			if (*p == '_')
				*p = '-';
	}
}

const char *cfg_name(enum cfg_key key)
{
	init_names();
	return names[key];
}

const char *cfg_flag_name(enum cfg_key key)
{
	init_names();
	return flag_names[key];
}

int cfg_lookup(const char *name)
{
	init_names();
	for (int i = 0; i < CFG_NKEYS; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

void cfg_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	buf_init(&cfg->warnings);
	for (int i = 0; i < CFG_NKEYS; i++) {
		cfg->entries[i].value = specs[i].def ? xstrdup(specs[i].def) : NULL;
		cfg->entries[i].source = xstrdup("default");
		cfg->entries[i].tier = CFG_TIER_DEFAULT;
	}
}

void cfg_release(struct config *cfg)
{
	for (int i = 0; i < CFG_NKEYS; i++) {
		free(cfg->entries[i].value);
		free(cfg->entries[i].source);
	}
	free(cfg->ini_path);
	free(cfg->password);
	free(cfg->table_schema);
	free(cfg->table_name);
	conn_params_release(&cfg->conn);
	conn_params_release(&cfg->admin);
	free(cfg->app_user);
	free(cfg->app_password);
	free(cfg->app_dbname);
	for (size_t i = 0; i < ARRAY_SIZE(cfg->inherited); i++)
		free(cfg->inherited[i]);
	cfgfile_release(&cfg->file);
	buf_release(&cfg->warnings);
	memset(cfg, 0, sizeof(*cfg));
}

static bool enum_has(const char *choices, const char *value)
{
	size_t len = strlen(value);

	for (const char *p = choices; *p;) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);

		if (n == len && strncmp(p, value, n) == 0)
			return true;
		p += n + (bar ? 1 : 0);
	}
	return false;
}

/* The table name leaves room for the "_progress" table pgboot keeps beside it. */
static bool valid_table(const char *s)
{
	const char *dot = strchr(s, '.');

	if (!dot)
		return *s && strlen(s) <= 54;
	return dot > s && dot - s <= 63 && dot[1] && !strchr(dot + 1, '.') && strlen(dot + 1) <= 54;
}

/* provision.schemas, provision.extensions: names of at most 63 bytes, comma-separated. */
static const char *check_names(const char *value)
{
	const char *p = value, *w;
	size_t len;

	while (list_next(&p, &w, &len)) {
		char *one = xstrndup(w, len);
		const char *why = !len ? "an empty name in the list"
				  : len > 63 ? "a name longer than 63 bytes, the PostgreSQL limit"
				  : conn_names_utf8() && !utf8_valid(one) ? "a name that is not valid UTF-8"
									    : NULL;

		free(one);
		if (why)
			return why;
	}
	return NULL;
}

/* Only the attribute keywords CREATE ROLE takes without a value: they are written into SQL. */
static const char *check_role_attributes(const char *value)
{
	static const char *const words[] = { "SUPERUSER", "CREATEDB", "CREATEROLE", "INHERIT",
					     "REPLICATION", "BYPASSRLS" };

	for (const char *p = value; *p;) {
		size_t n = strcspn(p, " "), i;
		bool ok = false;

		for (i = 0; i < ARRAY_SIZE(words) && n; i++) {
			const char *word = p;
			size_t len = n;

			if (len > 2 && strncasecmp(word, "NO", 2) == 0)
				word += 2, len -= 2;
			ok = ok || (len == strlen(words[i]) && strncasecmp(word, words[i], len) == 0);
		}
		if (n && !ok)
			return "expected words from SUPERUSER, CREATEDB, CREATEROLE, INHERIT, REPLICATION, "
			       "BYPASSRLS, each perhaps with NO before it, separated by spaces";
		p += n + (p[n] == ' ');
	}
	return NULL;
}

/* "<revision>=<version>": alembic's revision ids are at most 32 characters (its version_num). */
static bool valid_revmap(const char *s)
{
	size_t rev = strspn(s, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_");
	const char *v = s + rev + 1;

	return rev > 0 && rev <= 32 && s[rev] == '=' && *v &&
	       strspn(v, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.") == strlen(v);
}

/* Checks one value against its type; on failure says what was expected. */
static const char *check_value(enum cfg_key key, const char *value)
{
	const struct cfg_spec *spec = &specs[key];
	struct sig_map map;
	char bad[48];
	int64_t ms;

	switch (spec->type) {
	case T_DURATION:
		if (parse_duration(value, &ms) < 0)
			return "expected a duration with a unit, such as 250ms, 30s, 5m or 1h";
		/* PostgreSQL's own limit for its timeouts, and deadlines that cannot overflow */
		return ms > 2147483647 ? "at most 2147483647ms (596h31m23s)" : NULL;
	case T_ENUM:
		return enum_has(spec->choices, value) ? NULL : spec->choices;
	case T_PORT:
		return conn_valid_ports(value) ? NULL : "expected a port number from 1 to 65535";
	case T_NAME:
		if (conn_names_utf8() && !utf8_valid(value))
			return "not valid UTF-8, which PostgreSQL names are in";
		return strlen(value) <= 63 ? NULL : "longer than 63 bytes, the PostgreSQL limit";
	case T_TABLE:
		return valid_table(value) ? NULL : "expected table or schema.table: a schema of at most 63 bytes, a table of at most 54";
	case T_COUNT:
		return parse_int64(value, 0, 1000, &ms) == 0 ? NULL : "expected a whole number from 0 to 1000";
	case T_SIGMAP:
		return sig_map_parse(value, &map, bad, sizeof(bad)) == 0 ? NULL
		       : "expected FROM:TO pairs of signal names, such as TERM:QUIT,INT:TERM";
	case T_NAMES:
		return check_names(value);
	case T_ROLEATTRS:
		return check_role_attributes(value);
	case T_REVMAP:
		return valid_revmap(value) ? NULL
		       : "expected <revision>=<version>, such as 3f2a1b9c0d4e=20240101120000";
	default:
		return NULL;
	}
}

static int bad_value(char *err, size_t errsize, const char *where, enum cfg_key key,
		     const char *value, const char *why)
{
	struct buf shown;

	buf_init(&shown);
	if (specs[key].type == T_SECRET || specs[key].type == T_URL)
		buf_puts(&shown, "********");
	else if (!utf8_valid(value))
		buf_escaped(&shown, value);
	else
		buf_puts(&shown, value);
	if (specs[key].type == T_ENUM)
		snprintf(err, errsize, "%s: invalid value for \"%s\": \"%s\" (expected one of %s)",
			 where, cfg_name(key), shown.data, why);
	else
		snprintf(err, errsize, "%s: invalid value for \"%s\": \"%s\" (%s)", where,
			 cfg_name(key), shown.data, why);
	buf_release(&shown);
	return -1;
}

/*
 * Validates and stores a value when its tier is at least the current one. A value from a
 * lower tier is still checked, so a bad file fails even when the environment overrides it.
 */
static int set_value(struct config *cfg, enum cfg_key key, const char *value,
		     enum cfg_tier tier, const char *source, int line, char *err, size_t errsize)
{
	struct cfg_entry *e = &cfg->entries[key];
	const char *why;

	if (*value && (why = check_value(key, value)))
		return bad_value(err, errsize, source, key, value, why);
	if (!*value && specs[key].def)
		return bad_value(err, errsize, source, key, value, "empty; remove the line for the default");
	if (tier < e->tier)
		return 0;
	free(e->value);
	free(e->source);
	e->value = *value ? xstrdup(value) : NULL;
	e->source = xstrdup(source);
	e->tier = tier;
	e->line = line;
	return 0;
}

int cfg_set_flag(struct config *cfg, enum cfg_key key, const char *flag, const char *value,
		 char *err, size_t errsize)
{
	return set_value(cfg, key, value, CFG_TIER_FLAG, flag, 0, err, errsize);
}

static bool known(const char *section, const char *key)
{
	char full[200];

	if (!key) {
		for (size_t i = 0; i < ARRAY_SIZE(section_names); i++)
			if (strcmp(section_names[i], section) == 0)
				return true;
		return false;
	}
	snprintf(full, sizeof(full), "%s.%s", section, key);
	return cfg_lookup(full) >= 0;
}

static void env_name(enum cfg_key key, char *out, size_t size)
{
	if (specs[key].env) {
		snprintf(out, size, "%s", specs[key].env);
		return;
	}
	snprintf(out, size, "PGBOOT_%s_%s", specs[key].section, specs[key].key);
	for (char *p = out; *p; p++)
		*p = (char)toupper((unsigned char)*p);
}

static int set_from_file(struct config *cfg, enum cfg_key key, const char *path,
			 enum cfg_tier tier, const char *where, int line, char *err, size_t errsize);

/* Variables that stand in for a setting at a lower rank: the first is overridden. */
static const struct {
	enum cfg_key key;
	const char *name;
} aliases[] = {
	{ CFG_DATABASE_URL, "DATABASE_URL" },
	{ CFG_PGBOOT_ENVIRONMENT, "ENVIRONMENT" },
	{ CFG_PGBOOT_ENVIRONMENT, "APP_ENV" },
};

/*
 * One setting from the environment: NAME, or NAME_FILE naming a file that holds it. The
 * aliases (APP_ENV...) have no _FILE twin: other programs use such names for themselves.
 */
static int env_setting(struct config *cfg, enum cfg_key key, const char *name, bool twin,
		       char *err, size_t errsize)
{
	char file_name[80], source[96];
	const char *v = getenv(name), *f;

	snprintf(file_name, sizeof(file_name), "%s_FILE", name);
	f = twin ? getenv(file_name) : NULL;
	if (v && *v && f && *f) {
		snprintf(err, errsize, "env %s and env %s: set only one of them", name, file_name);
		return -1;
	}
	if (f && *f) {
		snprintf(source, sizeof(source), "env %s", file_name);
		return set_from_file(cfg, key, f, CFG_TIER_ENV, source, 0, err, errsize);
	}
	if (!v || !*v)
		return 0;
	snprintf(source, sizeof(source), "env %s", name);
	return set_value(cfg, key, v, CFG_TIER_ENV, source, 0, err, errsize);
}

static bool known_variable(const char *var, size_t len)
{
	char name[64];

	if (len == strlen("PGBOOT_CONFIG") && strncmp(var, "PGBOOT_CONFIG", len) == 0)
		return true;
	for (int i = 0; i < CFG_NKEYS; i++) {
		env_name((enum cfg_key)i, name, sizeof(name));
		if ((strlen(name) == len || strlen(name) + 5 == len) && strncmp(var, name, strlen(name)) == 0 &&
		    (strlen(name) == len || strncmp(var + len - 5, "_FILE", 5) == 0))
			return true;
	}
	return false;
}

static int load_env(struct config *cfg, char *err, size_t errsize)
{
	char name[64];

	for (size_t i = 0; i < ARRAY_SIZE(aliases); i++)
		if (env_setting(cfg, aliases[i].key, aliases[i].name, false, err, errsize) < 0)
			return -1;
	for (int i = 0; i < CFG_NKEYS; i++) {
		env_name((enum cfg_key)i, name, sizeof(name));
		if (env_setting(cfg, (enum cfg_key)i, name, true, err, errsize) < 0)
			return -1;
	}
	/* A misspelt variable would silently do nothing: say so. */
	for (char **ep = environ; ep && *ep; ep++) {
		size_t len = strcspn(*ep, "=");

		if (strncmp(*ep, "PGBOOT_", 7) == 0 && !known_variable(*ep, len))
			buf_printf(&cfg->warnings, "unknown environment variable \"%.*s\" ignored\n",
				   (int)len, *ep);
	}
	return 0;
}

/*
 * A secret file other users can read: by others, or by a group the process is not in.
 * (A Kubernetes secret mounted 0440 with fsGroup is readable by the pod's own group.)
 */
static void warn_if_exposed(struct config *cfg, const char *path)
{
	gid_t groups[256];
	struct stat st;
	bool exposed;

	if (stat(path, &st) < 0)
		return;
	exposed = st.st_mode & 004;
	if (!exposed && (st.st_mode & 040)) {
		int n = getgroups((int)ARRAY_SIZE(groups), groups);

		exposed = st.st_gid != getegid();
		for (int i = 0; i < n; i++)
			exposed = exposed && groups[i] != st.st_gid;
	}
	if (exposed)
		buf_printf(&cfg->warnings, "secret file \"%s\" is readable by other users (mode "
			   "%04o, group %u): make it 0600, or 0440 with the process's group\n", path,
			   (unsigned)(st.st_mode & 07777), (unsigned)st.st_gid);
}

/*
 * <key>_file: the setting's value is the file's content, trailing newlines stripped, as
 * Docker and Kubernetes mount secrets. A secret readable by group or others is warned about.
 */
static int set_from_file(struct config *cfg, enum cfg_key key, const char *path,
			 enum cfg_tier tier, const char *where, int line, char *err, size_t errsize)
{
	char *source = xasprintf("file %s (%s)", path, where);
	struct buf b;
	int ret = -1;

	buf_init(&b);
	if (read_file(path, &b) < 0) {
		snprintf(err, errsize, "%s: could not read \"%s\" for \"%s\": %s", where, path,
			 cfg_name(key), strerror(errno));
		goto out;
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	if (strlen(b.data) != b.len || b.len == 0) {
		snprintf(err, errsize, "%s: file \"%s\" for \"%s\" is %s", where, path, cfg_name(key),
			 b.len ? "not text (it holds a NUL byte)" : "empty");
		goto out;
	}
	if (specs[key].type == T_SECRET || specs[key].type == T_URL)
		warn_if_exposed(cfg, path);
	ret = set_value(cfg, key, b.data, tier, source, line, err, errsize);
out:
	free(source);
	buf_release(&b);
	return ret;
}

static const char *lookup_env(const char *name)
{
	return getenv(name);
}

/*
 * A value in the file that is empty: every setting names something or has a default, so
 * an empty one would silently fall back to libpq's default (the user name as the database)
 * or to pgboot's. Refused, naming the variable that was set but empty; only
 * ${VAR:-default} with an empty default leaves the setting unset. Returns 0, or -1 with
 * the message in err.
 */
static int refuse_empty(const struct cfgfile_pair *p, enum cfg_key key, const char *where,
			char *err, size_t errsize)
{
	char var[128];

	if (expand_empty_reference(p->value, lookup_env, var, sizeof(var))) {
		snprintf(err, errsize, "%s: \"%s%s\": environment variable \"%s\" is set but empty "
			 "(set it, or write ${%s:-default})", where, cfg_name(key),
			 p->from_file ? "_file" : "", var, var);
		return -1;
	}
	if (!*p->value)
		return bad_value(err, errsize, where, key, "",
				 specs[key].def ? "empty; remove the line for the default"
						: "empty; remove the line to leave it unset");
	return 0;
}

/*
 * One pair that applies: expanded, refused when empty, a relative path taken from the
 * file's directory, then set (or read from the file it names).
 */
static int apply_pair(struct config *cfg, const struct cfgfile_pair *p, enum cfg_key key,
		      const char *where, char *err, size_t errsize)
{
	const char *dir = cfg->file.dir;
	char msg[512], *path = NULL, *value;
	int rc = -1;

	value = expand_value(p->value, lookup_env, msg, sizeof(msg));
	if (!value) {
		snprintf(err, errsize, "%s: \"%s%s\": %s", where, cfg_name(key),
			 p->from_file ? "_file" : "", msg);
		return -1;
	}
	if (!*value && refuse_empty(p, key, where, err, errsize) < 0)
		goto out;
	if ((p->from_file || specs[key].type == T_PATH) && value[0] != '/' && dir)
		path = xasprintf("%s/%s", dir, value);
	if (p->from_file)
		rc = set_from_file(cfg, key, path ? path : value, CFG_TIER_INI, where, p->line, err,
				   errsize);
	else
		rc = set_value(cfg, key, path ? path : value, CFG_TIER_INI, where, p->line, err,
			       errsize);
out:
	free(path);
	free(value);
	return rc;
}

/*
 * The base sections, then the overlay sections of the environment, in file order. Only
 * pairs that apply expand ${...}: another environment's section may name variables that
 * are set only there. Pairs that do not apply are still checked, unless they hold ${.
 */
static int apply_pairs(struct config *cfg, const char *environment, char *err, size_t errsize)
{
	const struct cfgfile *f = &cfg->file;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < f->n; i++) {
			const struct cfgfile_pair *p = &f->pairs[i];
			char full[200], where[4200];
			bool applies = pass == 0 ? !p->overlay
					: p->overlay && environment && strcasecmp(p->overlay, environment) == 0;
			int key;

			snprintf(full, sizeof(full), "%s.%s", p->section, p->key);
			key = cfg_lookup(full);
			if (p->overlay)
				snprintf(where, sizeof(where), "%s:%d [%s.%s]", f->path, p->line, p->section,
					 p->overlay);
			else
				snprintf(where, sizeof(where), "%s:%d", f->path, p->line);
			/* another environment's pairs are checked, not applied (unless they hold ${) */
			if (!applies && !p->from_file && *p->value && !strstr(p->value, "${") &&
			    check_value(key, p->value))
				return bad_value(err, errsize, where, key, p->value,
						 check_value(key, p->value));
			if (applies && apply_pair(cfg, p, (enum cfg_key)key, where, err, errsize) < 0)
				return -1;
		}
	}
	return 0;
}

/* The environment: from a flag or the environment if set there, else from the file. */
static const char *find_environment(const struct config *cfg)
{
	const struct cfg_entry *e = &cfg->entries[CFG_PGBOOT_ENVIRONMENT];

	if (e->tier > CFG_TIER_INI)
		return e->value;
	for (size_t i = 0; i < cfg->file.n; i++) {
		const struct cfgfile_pair *p = &cfg->file.pairs[i];

		if (strcmp(p->section, "pgboot") == 0 && strcmp(p->key, "environment") == 0)
			return p->value;
	}
	return NULL;
}

static bool in_list(const char *list, const char *word)
{
	size_t n = strlen(word), len;
	const char *p = list, *w;

	while (p && list_next(&p, &w, &len))
		if (len == n && strncasecmp(w, word, n) == 0)
			return true;
	return false;
}

/*
 * In a protected environment, nothing is created unless asked, TLS is required, and lint
 * findings that would hurt a database in use stop the run.
 */
static void protect_defaults(struct config *cfg)
{
	static const struct {
		enum cfg_key key;
		const char *value;
	} defaults[] = { { CFG_CREATE_MODE, "never" }, { CFG_DATABASE_SSLMODE, "require" },
			 { CFG_MIGRATE_LINT, "error" } };

	cfg->environment = cfg_get(cfg, CFG_PGBOOT_ENVIRONMENT);
	cfg->protected_env = cfg->environment &&
			     in_list(cfg_get(cfg, CFG_PGBOOT_PROTECT), cfg->environment);
	if (!cfg->protected_env)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++) {
		struct cfg_entry *e = &cfg->entries[defaults[i].key];

		if (e->tier != CFG_TIER_DEFAULT)
			continue;
		free(e->value);
		free(e->source);
		e->value = xstrdup(defaults[i].value);
		e->source = xasprintf("default in protected environment \"%s\"", cfg->environment);
	}
}

/*
 * database.secret_file (admin.secret_file): its user, password, host, port and dbname
 * count at the tier the setting came from, below keys set explicitly in that tier (as with
 * database.url). The admin connection has no dbname of its own: CFG_NKEYS skips it.
 */
static int apply_secret(struct config *cfg, enum cfg_key file, const enum cfg_key keys[5],
			char *err, size_t errsize)
{
	const struct cfg_entry *e = &cfg->entries[file];
	struct secret sec;
	char *source, msg[512];
	int ret = -1;

	if (!e->value)
		return 0;
	if (secret_load(e->value, &sec, msg, sizeof(msg)) < 0) {
		snprintf(err, errsize, "%s: %s", e->source, msg);
		secret_release(&sec);
		return -1;
	}
	warn_if_exposed(cfg, e->value);
	source = xasprintf("%s, %s", cfg_name(file), e->source);
	{
		const char *values[] = { sec.user, sec.password, sec.host, sec.port, sec.dbname };

		for (size_t i = 0; i < ARRAY_SIZE(values); i++)
			if (values[i] && keys[i] != CFG_NKEYS && cfg->entries[keys[i]].tier < e->tier &&
			    set_value(cfg, keys[i], values[i], e->tier, source, 0, err, errsize) < 0)
				goto out;
	}
	ret = 0;
out:
	free(source);
	secret_release(&sec);
	return ret;
}

/* The settings that set libpq keywords, ranked by their tiers, resolved by conn.c. */
static int resolve_conn(struct config *cfg, char *err, size_t errsize)
{
	const struct cfg_entry *url = &cfg->entries[CFG_DATABASE_URL];
	struct conn_request req = {
		.url = url->value, .url_source = url->source, .url_tier = (int)url->tier,
		.env_tier = CFG_TIER_ENV,
	};

	for (int i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_entry *e = &cfg->entries[i];

		if (specs[i].libpq_keyword && strcmp(specs[i].section, "database") == 0 &&
		    req.nsettings < CONN_MAX_PARAMS)
			req.settings[req.nsettings++] = (struct conn_setting){
				specs[i].libpq_keyword, e->value, e->source, e->value ? (int)e->tier : -1
			};
	}
	return conn_resolve(&req, &cfg->conn, err, errsize);
}

/*
 * keyword's value in the connection p, resolved from url: the resolved keyword, else the
 * URL's part (copied into *copy, which the caller frees), else NULL (libpq's default).
 */
static const char *conn_value(const struct conn_params *p, const char *url, const char *keyword,
			      const char **source, char **copy)
{
	*copy = NULL;
	for (int j = p->n - 1; j >= (p->has_url ? 1 : 0); j--) {
		if (strcmp(p->params[j].keyword, keyword) == 0) {
			*source = p->params[j].source;
			return p->params[j].value;
		}
	}
	*copy = conn_url_part(url, keyword);
	return *copy;
}

static char *conn_value_copy(const struct conn_params *p, const char *url, const char *keyword)
{
	const char *source, *v;
	char *copy;

	v = conn_value(p, url, keyword, &source, &copy);
	return copy ? copy : v ? xstrdup(v) : NULL;
}

/*
 * The administrator's connection: its own settings (libpq's variables, which are the
 * application's, do not rank), and the target's host, port and TLS settings by default,
 * below admin.url. It must name a user: libpq's default would be the application's PGUSER.
 */
static int resolve_admin(struct config *cfg, char *err, size_t errsize)
{
	static const char *const inherited[] = { "host", "port", "sslmode", "sslrootcert",
						 "sslcert", "sslkey" };
	const struct cfg_entry *url = &cfg->entries[CFG_ADMIN_URL];
	struct conn_request req = {
		.section = "admin", .url = url->value, .url_source = url->source,
		.url_tier = (int)url->tier, .env_tier = -1,
	};
	char *user;

	for (int i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_entry *e = &cfg->entries[i];
		struct conn_setting s = { specs[i].libpq_keyword, e->value, e->source,
					  e->value ? (int)e->tier : -1 };

		if (strcmp(specs[i].section, "admin") != 0 || !s.keyword)
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(inherited) && !s.value; k++) {
			if (strcmp(inherited[k], s.keyword) != 0)
				continue;
			cfg->inherited[k] = conn_value_copy(&cfg->conn, cfg_get(cfg, CFG_DATABASE_URL),
							    s.keyword);
			s = (struct conn_setting){ s.keyword, cfg->inherited[k],
						   "the target's connection", CFG_TIER_DEFAULT };
		}
		req.settings[req.nsettings++] = s;
	}
	for (int i = CFG_ADMIN_URL; i <= CFG_ADMIN_SSLKEY; i++)
		cfg->has_admin = cfg->has_admin || cfg->entries[i].value;
	if (!cfg->has_admin)
		return 0;
	if (conn_resolve(&req, &cfg->admin, err, errsize) < 0)
		return -1;
	user = conn_value_copy(&cfg->admin, url->value, "user");
	if (!user)
		snprintf(err, errsize, "\"admin.user\" is not set: the admin connection needs a user "
			 "(admin.user, or the user of admin.url or admin.secret_file)");
	free(user);
	return user ? 0 : -1;
}

/* What the application connects as, for provisioning; the admin's settings, when set. */
static int finish_admin(struct config *cfg, char *err, size_t errsize)
{
	static const enum cfg_key admin_keys[5] = { CFG_ADMIN_USER, CFG_ADMIN_PASSWORD,
						    CFG_ADMIN_HOST, CFG_ADMIN_PORT, CFG_NKEYS };
	const char *url = cfg_get(cfg, CFG_DATABASE_URL);

	cfg->app_user = conn_value_copy(&cfg->conn, url, "user");
	cfg->app_password = conn_value_copy(&cfg->conn, url, "password");
	cfg->app_dbname = conn_value_copy(&cfg->conn, url, "dbname");
	if (!cfg->app_dbname && cfg->app_user)
		cfg->app_dbname = xstrdup(cfg->app_user);
	if (apply_secret(cfg, CFG_ADMIN_SECRET_FILE, admin_keys, err, errsize) < 0)
		return -1;
	return resolve_admin(cfg, err, errsize);
}

static int finish(struct config *cfg, char *err, size_t errsize)
{
	static const enum cfg_key database_keys[5] = { CFG_DATABASE_USER, CFG_DATABASE_PASSWORD,
						       CFG_DATABASE_HOST, CFG_DATABASE_PORT,
						       CFG_DATABASE_DBNAME };
	const char *table = cfg_get(cfg, CFG_MIGRATE_TABLE);
	const char *dot = strchr(table, '.');

	parse_duration(cfg_get(cfg, CFG_DATABASE_CONNECT_TIMEOUT), &cfg->connect_timeout_ms);
	parse_duration(cfg_get(cfg, CFG_WAIT_TIMEOUT), &cfg->wait_timeout_ms);
	parse_duration(cfg_get(cfg, CFG_WAIT_INITIAL_DELAY), &cfg->initial_delay_ms);
	parse_duration(cfg_get(cfg, CFG_WAIT_MAX_DELAY), &cfg->max_delay_ms);
	parse_duration(cfg_get(cfg, CFG_MIGRATE_LOCK_WAIT), &cfg->lock_wait_ms);
	parse_duration(cfg_get(cfg, CFG_MIGRATE_LOCK_TIMEOUT), &cfg->lock_timeout_ms);
	parse_duration(cfg_get(cfg, CFG_MIGRATE_STATEMENT_TIMEOUT), &cfg->statement_timeout_ms);
	parse_int64(cfg_get(cfg, CFG_MIGRATE_LOCK_RETRIES), 0, 1000, &cfg->lock_retries);
	cfg->lock_per_transaction = strcmp(cfg_get(cfg, CFG_MIGRATE_LOCK), "transaction") == 0;
	cfg->out_of_order = strcmp(cfg_get(cfg, CFG_MIGRATE_OUT_OF_ORDER), "allow") == 0;
	cfg->one_transaction = strcmp(cfg_get(cfg, CFG_MIGRATE_TRANSACTION), "all") == 0;
	cfg->lint = strcmp(cfg_get(cfg, CFG_MIGRATE_LINT), "error") == 0 ? CFG_LINT_ERROR
		    : strcmp(cfg_get(cfg, CFG_MIGRATE_LINT), "off") == 0 ? CFG_LINT_OFF
									 : CFG_LINT_WARN;
	if (cfg->initial_delay_ms < 1 || cfg->max_delay_ms < cfg->initial_delay_ms) {
		snprintf(err, errsize, "%s and %s: \"wait.initial_delay\" must be at least 1ms and "
			 "at most \"wait.max_delay\"", cfg->entries[CFG_WAIT_INITIAL_DELAY].source,
			 cfg->entries[CFG_WAIT_MAX_DELAY].source);
		return -1;
	}
	cfg->create_never = strcmp(cfg_get(cfg, CFG_CREATE_MODE), "never") == 0;
	cfg->init_mode = strcmp(cfg_get(cfg, CFG_EXEC_INIT), "on") == 0 ? CFG_INIT_ON
			 : strcmp(cfg_get(cfg, CFG_EXEC_INIT), "off") == 0 ? CFG_INIT_OFF : CFG_INIT_AUTO;
	cfg->init_group = strcmp(cfg_get(cfg, CFG_EXEC_INIT_GROUP), "true") == 0;
	parse_duration(cfg_get(cfg, CFG_EXEC_INIT_KILL_TIMEOUT), &cfg->init_kill_timeout_ms);
	if (cfg_get(cfg, CFG_EXEC_INIT_SIGNAL_MAP))
		sig_map_parse(cfg_get(cfg, CFG_EXEC_INIT_SIGNAL_MAP), &cfg->init_signal_map, err, errsize);
	cfg->log_format = strcmp(cfg_get(cfg, CFG_LOG_FORMAT), "json") == 0 ? LOG_JSON : LOG_TEXT;
	{
		static const char *const levels[] = { "debug", "info", "warn", "error" };

		for (int i = 0; i < 4; i++)
			if (strcmp(cfg_get(cfg, CFG_LOG_LEVEL), levels[i]) == 0)
				cfg->log_level = (enum log_level)i;
	}
	cfg->table_schema = dot ? xstrndup(table, (size_t)(dot - table)) : xstrdup("public");
	cfg->table_name = xstrdup(dot ? dot + 1 : table);
	if (apply_secret(cfg, CFG_DATABASE_SECRET_FILE, database_keys, err, errsize) < 0)
		return -1;
	cfg->password = cfg_get(cfg, CFG_DATABASE_PASSWORD) ? xstrdup(cfg_get(cfg, CFG_DATABASE_PASSWORD))
							      : NULL;
	cfg->for_primary = strcmp(cfg_get(cfg, CFG_WAIT_FOR_PRIMARY), "true") == 0;
	if (resolve_conn(cfg, err, errsize) < 0)
		return -1;
	return finish_admin(cfg, err, errsize);
}

int cfg_load(struct config *cfg, const char *config_flag, char *err, size_t errsize)
{
	const char *path = config_flag;
	const char *env = getenv("PGBOOT_CONFIG");

	if (!path && env && *env)
		path = env;
	if (!path && access("entrypoint.ini", F_OK) == 0)
		path = "entrypoint.ini";
	if (path) {
		cfg->ini_path = xstrdup(path);
		if (cfgfile_read(path, known, &cfg->file, err, errsize) < 0)
			return -1;
	}
	if (load_env(cfg, err, errsize) < 0 ||
	    apply_pairs(cfg, find_environment(cfg), err, errsize) < 0)
		return -1;
	protect_defaults(cfg);
	return finish(cfg, err, errsize);
}

static void print_line(const char *name, const char *value, const char *source)
{
	printf("%s = %s  (%s)\n", name, value, source);
}

/* A libpq keyword's line: our resolved value, else the URL's part, else libpq's default. */
static void print_conn_key(const struct config *cfg, int key)
{
	const struct cfg_spec *spec = &specs[key];
	bool admin = strcmp(spec->section, "admin") == 0;
	enum cfg_key url_key = admin ? CFG_ADMIN_URL : CFG_DATABASE_URL;
	const char *source = NULL, *v;
	char *copy;

	if (admin && !cfg->has_admin) {
		print_line(cfg_name(key), "(unset)", cfg->entries[key].source);
		return;
	}
	v = conn_value(admin ? &cfg->admin : &cfg->conn, cfg_get(cfg, url_key), spec->libpq_keyword,
		       &source, &copy);
	if (copy) {
		char *from = xasprintf("%s, %s", cfg_name(url_key), cfg->entries[url_key].source);

		print_line(cfg_name(key), spec->type == T_SECRET ? "********" : v, from);
		free(from);
	} else if (v) {
		print_line(cfg_name(key), spec->type == T_SECRET ? "********" : v, source);
	} else {
		print_line(cfg_name(key), "(unset)", "libpq default");
	}
	free(copy);
}

void cfg_print(const struct config *cfg)
{

	printf("# configuration file: %s\n", cfg->ini_path ? cfg->ini_path : "(none)");
	for (int i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_entry *e = &cfg->entries[i];

		if (specs[i].libpq_keyword) {
			print_conn_key(cfg, i);
		} else if (!e->value) {
			print_line(cfg_name(i), "(unset)", e->source);
		} else if (specs[i].type == T_SECRET) {
			print_line(cfg_name(i), "********", e->source);
		} else if (specs[i].type == T_URL) {
			char *safe = conn_redact(e->value);

			print_line(cfg_name(i), safe, e->source);
			free(safe);
		} else {
			print_line(cfg_name(i), e->value, e->source);
		}
	}
}

int cfg_set_flag_file(struct config *cfg, enum cfg_key key, const char *flag, const char *path,
		      char *err, size_t errsize)
{
	return set_from_file(cfg, key, path, CFG_TIER_FLAG, flag, 0, err, errsize);
}
