#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

static char dir[64];

static const char *write_ini(const char *name, const char *content)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(content, f);
	fclose(f);
	return path;
}

/* Loads the ini text; returns cfg_load's result with the message in err. */
static int load(struct config *cfg, const char *content, char *err, size_t errsize)
{
	cfg_init(cfg);
	err[0] = '\0';
	return cfg_load(cfg, content ? write_ini("entrypoint.ini", content) : NULL, err, errsize);
}

static void expect_error(const char *content, const char *want)
{
	struct config cfg;
	char err[512];

	if (load(&cfg, content, err, sizeof(err)) == 0 || !strstr(err, want)) {
		fprintf(stderr, "  ini error: got \"%s\", want it to contain \"%s\"\n", err, want);
		unit_failures++;
	}
	cfg_release(&cfg);
}

static const char *conn_value(const struct config *cfg, const char *keyword)
{
	const char *v = NULL;

	for (int i = 0; i < cfg->conn.n; i++)
		if (strcmp(cfg->conn.params[i].keyword, keyword) == 0)
			v = cfg->conn.params[i].value;
	return v;
}

static void test_errors(void)
{
	char want[256], line[400];

	snprintf(want, sizeof(want), "%s/entrypoint.ini:3: unknown key \"wait.timout\"", dir);
	expect_error("[wait]\ntimeout = 5s\ntimout = 5s\n", want);
	expect_error("[waiting]\ntimeout = 5s\n", "entrypoint.ini:1: unknown section \"[waiting]\"");
	expect_error("[wait]\ntimeout = 5s\n[wait]\ntimeout = 6s\n",
		     "entrypoint.ini:4: duplicate key \"wait.timeout\" (first set on line 2)");
	expect_error("[wait]\ntimeout = 5 minutes\n",
		     "entrypoint.ini:2: invalid value for \"wait.timeout\": \"5 minutes\"");
	expect_error("[wait]\ntimeout = 30\n", "entrypoint.ini:2: invalid value for \"wait.timeout\"");
	expect_error("[migrate]\nlock_timeout = 600h\n", "at most 2147483647ms");
	expect_error("[create]\nmode = sometimes\n", "expected one of auto|never");
	expect_error("[database]\nport = 99999\n", "invalid value for \"database.port\"");
	expect_error("[database]\nport = -1\n", "invalid value for \"database.port\"");
	expect_error("[wait]\ntimeout =\n", "invalid value for \"wait.timeout\": \"\" (empty");
	/* names PostgreSQL could neither quote nor create, shown escaped */
	expect_error("[database]\ndbname = caf\xe9\n",
		     "entrypoint.ini:2: invalid value for \"database.dbname\": \"caf\\xE9\" (not valid UTF-8");
	expect_error("[create]\nowner = \xc3\x28\n", "\"create.owner\": \"\\xC3(\" (not valid UTF-8");
	expect_error("[create]\ntemplate = \xed\xa0\x80\n", "(not valid UTF-8"); /* a surrogate */
	expect_error("[create]\ntemplate = \xc0\xaf\n", "(not valid UTF-8");     /* overlong "/" */
	expect_error("[wait]\nthis is not a pair\n", "entrypoint.ini:2: syntax error");
	expect_error("timeout = 5s\n", "entrypoint.ini:1: key \"timeout\" is outside of any section");
	expect_error("[wait]\ntimeout = 5s\n[empty]\n", "entrypoint.ini:3: unknown section \"[empty]\"");
	expect_error("[wait]\ntimeout = 5s\n  6s\n", "entrypoint.ini:3: continuation lines");
	expect_error("[migrate]\ntable = a.b.c\n", "invalid value for \"migrate.table\"");
	expect_error("[wait]\ninitial_delay = 2s\nmax_delay = 1s\n", "at most \"wait.max_delay\"");
	expect_error("[database]\npassword = x\npassword_file = /etc/hostname\n",
		     "entrypoint.ini:3: both \"password\" and \"password_file\" are set in [database] "
		     "(the other on line 2)");
	expect_error("[database]\npassword_file = /nonexistent/pw\n",
		     "entrypoint.ini:2: could not read \"/nonexistent/pw\" for \"database.password\"");
	expect_error("[wait]\ntimeout = ${PGBOOT_UNIT_UNSET}\n",
		     "entrypoint.ini:2: \"wait.timeout\": environment variable \"PGBOOT_UNIT_UNSET\" is not set");
	expect_error("[waiting.production]\ntimeout = 5s\n", "entrypoint.ini:1: unknown section \"[waiting.production]\"");
	expect_error("[pgboot.production]\nprotect = x\n", "[pgboot] takes no environment overlay");
	expect_error("[wait.staging]\ntimeout = soon\n", "entrypoint.ini:2 [wait.staging]: invalid value for \"wait.timeout\"");
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	memcpy(line, "[log]\nlevel = ", 14);
	expect_error(line, "entrypoint.ini:2: line longer than");
	{
		struct config cfg;
		char err[512];

		cfg_init(&cfg);
		CHECK(cfg_load(&cfg, "/nonexistent/pgboot.ini", err, sizeof(err)) < 0);
		CHECK(strstr(err, "could not open configuration file \"/nonexistent/pgboot.ini\"") != NULL);
		cfg_release(&cfg);
	}
}

static void test_precedence(void)
{
	struct config cfg;
	char err[512];

	CHECK(load(&cfg, "[wait]\ntimeout = 5s\n", err, sizeof(err)) == 0);
	CHECK(cfg.wait_timeout_ms == 5000);
	CHECK(strstr(cfg.entries[CFG_WAIT_TIMEOUT].source, "entrypoint.ini:2") != NULL);
	cfg_release(&cfg);

	setenv("PGBOOT_WAIT_TIMEOUT", "7s", 1);
	CHECK(load(&cfg, "[wait]\ntimeout = 5s\n", err, sizeof(err)) == 0);
	CHECK(cfg.wait_timeout_ms == 7000);
	CHECK_STR(cfg.entries[CFG_WAIT_TIMEOUT].source, "env PGBOOT_WAIT_TIMEOUT");
	cfg_release(&cfg);

	cfg_init(&cfg);
	CHECK(cfg_set_flag(&cfg, CFG_WAIT_TIMEOUT, "--wait-timeout", "9s", err, sizeof(err)) == 0);
	CHECK(cfg_load(&cfg, write_ini("p.ini", "[wait]\ntimeout = 5s\n"), err, sizeof(err)) == 0);
	CHECK(cfg.wait_timeout_ms == 9000);
	CHECK_STR(cfg.entries[CFG_WAIT_TIMEOUT].source, "--wait-timeout");
	cfg_release(&cfg);

	/* A bad value is an error even where a higher tier overrides it. */
	expect_error("[wait]\ntimeout = soon\n", "invalid value for \"wait.timeout\"");
	unsetenv("PGBOOT_WAIT_TIMEOUT");

	CHECK(load(&cfg, NULL, err, sizeof(err)) == 0);
	CHECK(cfg.wait_timeout_ms == 60000);
	CHECK_STR(cfg.entries[CFG_WAIT_TIMEOUT].source, "default");
	CHECK_STR(cfg_get(&cfg, CFG_MIGRATE_DIR), "migrations");
	CHECK_STR(cfg.table_schema, "pgboot");
	CHECK_STR(cfg.table_name, "migrations");
	cfg_release(&cfg);
}

static void test_environments(void)
{
	static const char ini[] = "[create]\nmode = auto\n[create.production]\nmode = never\n"
				  "[wait]\ntimeout = ${PGBOOT_UNIT_T:-7s}\n[wait.staging]\ntimeout = 9s\n";
	struct config cfg;
	char err[512];

	CHECK(load(&cfg, ini, err, sizeof(err)) == 0);
	CHECK(!cfg.create_never && cfg.wait_timeout_ms == 7000 && !cfg.protected_env);
	cfg_release(&cfg);

	setenv("APP_ENV", "production", 1);
	CHECK(load(&cfg, ini, err, sizeof(err)) == 0);
	CHECK(cfg.create_never && cfg.protected_env);
	CHECK(strstr(cfg.entries[CFG_CREATE_MODE].source, "entrypoint.ini:4 [create.production]") != NULL);
	CHECK_STR(cfg_get(&cfg, CFG_DATABASE_SSLMODE), "require");
	CHECK(strstr(cfg.entries[CFG_DATABASE_SSLMODE].source, "protected environment") != NULL);
	cfg_release(&cfg);

	/* PGBOOT_ENVIRONMENT beats APP_ENV; an overlay beats the base section and ${...}. */
	setenv("PGBOOT_ENVIRONMENT", "staging", 1);
	setenv("PGBOOT_UNIT_T", "3s", 1);
	CHECK(load(&cfg, ini, err, sizeof(err)) == 0);
	CHECK(!cfg.create_never && cfg.wait_timeout_ms == 9000 && !cfg.protected_env);
	CHECK_STR(cfg.environment, "staging");
	cfg_release(&cfg);
	unsetenv("PGBOOT_ENVIRONMENT");
	unsetenv("APP_ENV");

	/* The environment may come from the file itself. */
	CHECK(load(&cfg, "[pgboot]\nenvironment = production\nprotect = prod, production\n"
			 "[create]\nmode = auto\n[wait.production]\ntimeout = 1s\n", err, sizeof(err)) == 0);
	CHECK(cfg.protected_env && !cfg.create_never && cfg.wait_timeout_ms == 1000);
	cfg_release(&cfg);
	CHECK(load(&cfg, "[wait]\ntimeout = ${PGBOOT_UNIT_T}\n", err, sizeof(err)) == 0);
	CHECK(cfg.wait_timeout_ms == 3000);
	cfg_release(&cfg);
	unsetenv("PGBOOT_UNIT_T");
}

static void test_connection(void)
{
	struct config cfg;
	char err[512], want[128];

	/* Relative paths in the file are taken from its directory. */
	CHECK(load(&cfg, "[migrate]\ndir = db/migrations\ntable = history\n", err, sizeof(err)) == 0);
	snprintf(want, sizeof(want), "%s/db/migrations", dir);
	CHECK_STR(cfg_get(&cfg, CFG_MIGRATE_DIR), want);
	CHECK_STR(cfg.table_schema, "public");
	cfg_release(&cfg);

	/* DATABASE_URL (environment) beats the file's host; the file's dbname still applies. */
	setenv("DATABASE_URL", "postgres://u:pw@urlhost/urldb", 1);
	CHECK(load(&cfg, "[database]\nhost = inihost\n", err, sizeof(err)) == 0);
	CHECK(conn_value(&cfg, "host") == NULL);
	CHECK_STR(conn_value(&cfg, "dbname"), "postgres://u:pw@urlhost/urldb");
	cfg_release(&cfg);
	/* A flag beats the URL; PGBOOT_DATABASE_URL beats DATABASE_URL. */
	setenv("PGBOOT_DATABASE_URL", "postgres://other/otherdb", 1);
	cfg_init(&cfg);
	CHECK(cfg_set_flag(&cfg, CFG_DATABASE_HOST, "--database-host", "flaghost", err, sizeof(err)) == 0);
	CHECK(cfg_load(&cfg, NULL, err, sizeof(err)) == 0);
	CHECK_STR(conn_value(&cfg, "host"), "flaghost");
	CHECK_STR(cfg_get(&cfg, CFG_DATABASE_URL), "postgres://other/otherdb");
	cfg_release(&cfg);
	unsetenv("PGBOOT_DATABASE_URL");
	unsetenv("DATABASE_URL");

	/* libpq's own variables are environment too: they beat the file. */
	setenv("PGHOST", "envhost", 1);
	CHECK(load(&cfg, "[database]\nhost = inihost\nport = 6543\n", err, sizeof(err)) == 0);
	CHECK_STR(conn_value(&cfg, "host"), "envhost");
	CHECK_STR(conn_value(&cfg, "port"), "6543");
	cfg_release(&cfg);
	unsetenv("PGHOST");

	/* password_file: the content without its trailing newline. */
	write_ini("pw", "s3cret\n");
	CHECK(load(&cfg, "[database]\npassword_file = pw\n", err, sizeof(err)) == 0);
	CHECK_STR(cfg.password, "s3cret");
	CHECK_STR(conn_value(&cfg, "password"), "s3cret");
	cfg_release(&cfg);

	/* A URL libpq cannot parse: the error never shows its password. */
	setenv("DATABASE_URL", "postgres://u:topsecret@host/db?bogus=1", 1);
	CHECK(load(&cfg, NULL, err, sizeof(err)) < 0);
	CHECK(strstr(err, "env DATABASE_URL: invalid value for \"database.url\"") != NULL);
	CHECK(strstr(err, "topsecret") == NULL);
	cfg_release(&cfg);
	unsetenv("DATABASE_URL");
}

void test_config(void)
{
	snprintf(dir, sizeof(dir), "/tmp/pgboot-unit.XXXXXX");
	if (!mkdtemp(dir)) {
		unit_failures++;
		return;
	}
	test_errors();
	test_precedence();
	test_environments();
	test_connection();
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		CHECK(system(cmd) == 0);
	}
}
