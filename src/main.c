/*
 * pgboot: wait for PostgreSQL, create the database, apply migrations, exec the application.
 * main parses the command line and runs the phases in order; each phase logs its own
 * failure and returns a status, which main alone turns into the exit code.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "create.h"
#include "db.h"
#include "exec.h"
#include "log.h"
#include "migfile.h"
#include "migrate.h"
#include "sig.h"
#include "wait.h"

#define EXIT_USAGE 64

static const char *const commands[] = { "run",    "wait",     "create",   "migrate", "status",
					"plan",   "rollback", "baseline", "repair",  "new",
					"drop",   "reset",    "config",  "lint" };

struct cli {
	const char *command;
	const char *config_path;
	char **app_argv; /* the application command for run, or NULL */
	bool json;       /* status --json, lint --json */
	bool all;        /* lint --all */
	char **files;    /* lint FILE...: nfiles of them */
	int nfiles;
	bool check;      /* status --check */
	bool dry_run;    /* migrate/run --dry-run */
	const char *arg; /* new NAME, baseline VERSION */
	int64_t steps;   /* rollback --steps N */
	int64_t to;      /* rollback --to VERSION, or -1 */
	int64_t version; /* baseline VERSION */
	bool force;      /* drop/reset: end other sessions; protected environments: go ahead */
	const char *confirm; /* --confirm DBNAME, for protected environments */
};

static void usage(FILE *out)
{
	fprintf(out,
		"pgboot: wait for PostgreSQL, create the database, apply migrations, exec the app\n"
		"\n"
		"Usage:\n"
		"  pgboot [OPTIONS] [--] [COMMAND [ARG...]]   same as \"pgboot run\"\n"
		"  pgboot run [OPTIONS] [--] [COMMAND...]     wait, create, migrate, exec COMMAND\n"
		"  pgboot wait [OPTIONS]      wait until the database accepts a connection\n"
		"  pgboot create [OPTIONS]    wait, then create the database if missing\n"
		"  pgboot migrate [OPTIONS]   wait, create, apply pending migrations\n"
		"  pgboot status [OPTIONS] [--json] [--check]\n"
		"                             list migrations: applied, pending, changed...;\n"
		"                             --check exits 1 unless all are applied and unchanged\n"
		"  pgboot plan [OPTIONS]      what migrate would apply, in order; changes nothing\n"
		"                             (also: migrate --dry-run, run --dry-run)\n"
		"  pgboot rollback [OPTIONS] [--steps N | --to VERSION]\n"
		"                             run the down parts of the newest migrations\n"
		"  pgboot new [OPTIONS] NAME  write the next migration file\n"
		"  pgboot baseline [OPTIONS] VERSION\n"
		"                             record migrations up to VERSION as applied, unrun\n"
		"  pgboot repair [OPTIONS]    re-record the checksums of edited applied files\n"
		"  pgboot drop [OPTIONS] [--force]    drop the database (--force: end its sessions)\n"
		"  pgboot reset [OPTIONS] [--force]   drop, create and migrate it (local development)\n"
		"  In a protected environment (pgboot.protect), rollback, drop and reset also need\n"
		"  --force --confirm DBNAME.\n"
		"  pgboot config [OPTIONS]    print the effective settings and their sources\n"
		"  pgboot lint [OPTIONS] [--json] [--all | FILE...]\n"
		"                             what the pending files (--all: every file; FILEs:\n"
		"                             those, without a database) would do to a database\n"
		"                             in use; exits 1 when a finding is an error\n"
		"\n"
		"Options:\n"
		"  -c, --config PATH   ini file (default $PGBOOT_CONFIG, else ./entrypoint.ini)\n"
		"  -h, --help          show this help\n"
		"  -V, --version       show the versions of pgboot, libpq and OpenSSL\n"
		"  --SECTION-KEY VALUE set any setting, e.g. --wait-timeout 90s, or read it from a\n"
		"  --SECTION-KEY-file PATH   file (e.g. --database-password-file /run/secrets/pw):\n");
	for (int i = 0; i < CFG_NKEYS; i++)
		fprintf(out, "      --%s\n", cfg_flag_name((enum cfg_key)i));
	fprintf(out,
		"\n"
		"Every setting also reads PGBOOT_<SECTION>_<KEY> (e.g. PGBOOT_WAIT_TIMEOUT=90s), or a file\n"
		"named by PGBOOT_<SECTION>_<KEY>_FILE or by <key>_file in the ini file;\n"
		"[section.ENVIRONMENT] overlays apply in that environment (PGBOOT_ENVIRONMENT);\n"
		"DATABASE_URL and libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD... are honoured.\n"
		"Precedence: flags > environment > ini file > defaults.\n"
		"\n"
		"Exit codes:\n"
		"  0 success           1 status --check: not up to date; lint: an error\n"
		"  64 usage error      65 migration failed\n"
		"  69 database unavailable (timed out, connection lost)\n"
		"  70 internal error   77 not permitted       78 configuration error\n"
		"  126 command not executable                 127 command not found\n"
		"  128+N stopped by signal N (143 for SIGTERM, 130 for SIGINT)\n"
		"  After exec, the exit code is the application's.\n");
}

static void version(void)
{
	char libs[256];

	db_versions(libs, sizeof(libs));
#ifdef PGBOOT_STATIC
	printf("pgboot %s (static; %s)\n", PGBOOT_VERSION, libs);
#else
	printf("pgboot %s (%s)\n", PGBOOT_VERSION, libs);
#endif
}

/* The redacted form differs from the original exactly when there is a password. */
static bool has_password(const char *conninfo)
{
	char *safe = redact_conninfo(conninfo);
	bool differs = strcmp(safe, conninfo) != 0;

	free(safe);
	return differs;
}

static bool is_command(const char *word)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(word, commands[i]) == 0)
			return true;
	return false;
}

static bool command_is(const struct cli *cli, const char *name)
{
	return strcmp(cli->command, name) == 0;
}

/* The commands that destroy data: guarded in protected environments. */
static bool destructive(const struct cli *cli)
{
	return command_is(cli, "rollback") || command_is(cli, "drop") || command_is(cli, "reset");
}

/* "what "arg"", with the hint to read --help. Returns -1. */
static int usage_error(const char *what, const char *arg)
{
	const struct log_field fields[] = { { "hint", "try \"pgboot --help\"" }, { NULL, NULL } };

	log_event(LOG_ERROR, fields, "%s \"%s\"", what, arg);
	return -1;
}

#define PARSE_CONFIG_ERROR (-2)

/* Every setting's --section-key and --section-key-file, then the command options. */
struct options {
	struct option longopts[2 * CFG_NKEYS + 12];
	char file_flags[CFG_NKEYS][64];
};

static void options_build(struct options *o)
{
	static const struct option commands_opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },	 { "json", no_argument, NULL, 'j' },
		{ "check", no_argument, NULL, 'k' },	 { "dry-run", no_argument, NULL, 'n' },
		{ "steps", required_argument, NULL, 's' }, { "to", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },	 { "confirm", required_argument, NULL, 'C' },
		{ "all", no_argument, NULL, 'a' },
	};
	int n = 0;

	for (int i = 0; i < CFG_NKEYS; i++) {
		snprintf(o->file_flags[i], sizeof(o->file_flags[i]), "%s-file",
			 cfg_flag_name((enum cfg_key)i));
		o->longopts[n++] = (struct option){ cfg_flag_name((enum cfg_key)i), required_argument,
						    NULL, 256 + i };
		o->longopts[n++] = (struct option){ o->file_flags[i], required_argument, NULL, 512 + i };
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands_opts); i++)
		o->longopts[n++] = commands_opts[i];
	o->longopts[n] = (struct option){ NULL, 0, NULL, 0 };
}

/* A --section-key VALUE or --section-key-file PATH flag. Returns 1, or PARSE_CONFIG_ERROR. */
static int take_setting(int c, struct config *cfg)
{
	enum cfg_key key = (enum cfg_key)(c >= 512 ? c - 512 : c - 256);
	char flag[80], err[512];
	int rc;

	snprintf(flag, sizeof(flag), "--%s%s", cfg_flag_name(key), c >= 512 ? "-file" : "");
	rc = c >= 512 ? cfg_set_flag_file(cfg, key, flag, optarg, err, sizeof(err))
		      : cfg_set_flag(cfg, key, flag, optarg, err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		return PARSE_CONFIG_ERROR;
	}
	if (c < 512 && (key == CFG_DATABASE_PASSWORD || (key == CFG_DATABASE_URL && has_password(optarg))))
		buf_puts(&cfg->warnings, "a password on the command line is visible to other users "
			 "in the process list; use database.password_file\n");
	return 1;
}

/* One option: 1 to go on, 0 when --help or --version has been answered, or an error. */
static int take_option(int c, char **argv, struct config *cfg, struct cli *cli)
{
	switch (c) {
	case 'h':
		usage(stdout);
		return 0;
	case 'V':
		version();
		return 0;
	case 'c':
		cli->config_path = optarg;
		return 1;
	case 'f':
		cli->force = true;
		return 1;
	case 'a':
		cli->all = true;
		return 1;
	case 'C':
		cli->confirm = optarg;
		return 1;
	case 'j':
	case 'k':
	case 'n':
		*(c == 'j' ? &cli->json : c == 'k' ? &cli->check : &cli->dry_run) = true;
		return 1;
	case 's':
	case 't':
		if (parse_int64(optarg, c == 's' ? 1 : 0, INT64_MAX, c == 's' ? &cli->steps : &cli->to) < 0)
			return usage_error(c == 's' ? "--steps takes a whole number from 1, not"
						    : "--to takes a version, not", optarg);
		return 1;
	case ':':
		return usage_error("missing value for option", argv[optind - 1]);
	case '?':
		return usage_error("unknown option", argv[optind - 1]);
	default:
		return take_setting(c, cfg);
	}
}

/*
 * Parses options up to the first non-option word (for run; other commands take options
 * anywhere). Returns the index of that word, -1 on a usage error, PARSE_CONFIG_ERROR for
 * a bad setting value (both logged), or 0 when --help or --version has been answered.
 */
static int parse_options(int argc, char **argv, struct config *cfg, struct cli *cli,
			 bool anywhere)
{
	struct options o;
	int c;

	options_build(&o);
	opterr = 0;
	optind = 0; /* GNU getopt: start afresh, also for the options after a command */
	while ((c = getopt_long(argc, argv, anywhere ? ":c:hV" : "+:c:hV", o.longopts, NULL)) != -1) {
		int rc = take_option(c, argv, cfg, cli);

		if (rc <= 0)
			return rc;
	}
	return optind;
}

/*
 * Splits the command line into options, the command and the application's arguments.
 * Returns 1 to go on, 0 when done (--help), or parse_options' error codes.
 */
static int parse_cli(int argc, char **argv, struct config *cfg, struct cli *cli)
{
	int i = parse_options(argc, argv, cfg, cli, false);
	bool dashdash;

	if (i <= 0)
		return i;
	dashdash = strcmp(argv[i - 1], "--") == 0;
	cli->command = "run";
	if (i < argc && !dashdash && is_command(argv[i])) {
		int j;

		cli->command = argv[i];
		argc -= i;
		argv += i;
		j = parse_options(argc, argv, cfg, cli, !command_is(cli, "run"));
		if (j <= 0)
			return j;
		i = j;
	}
	if ((command_is(cli, "new") || command_is(cli, "baseline")) && i + 1 == argc)
		cli->arg = argv[i++];
	else if (command_is(cli, "new") || command_is(cli, "baseline"))
		return usage_error(i == argc ? "missing the argument of" : "too many arguments for",
				   cli->command);
	if (command_is(cli, "baseline") && parse_int64(cli->arg, 0, INT64_MAX, &cli->version) < 0)
		return usage_error("baseline takes a version, not", cli->arg);
	if (command_is(cli, "lint") && i < argc) {
		cli->files = argv + i;
		cli->nfiles = argc - i;
		i = argc;
	}
	if (cli->all && (!command_is(cli, "lint") || cli->nfiles))
		return usage_error(cli->nfiles ? "lint takes --all or files, not both:"
					       : "only lint takes", "--all");
	if (i < argc && strcmp(cli->command, "run") != 0)
		return usage_error("unexpected argument", argv[i]);
	if ((cli->steps || cli->to >= 0) && !command_is(cli, "rollback"))
		return usage_error("only rollback takes", cli->steps ? "--steps" : "--to");
	if (cli->steps && cli->to >= 0)
		return usage_error("rollback takes --steps or --to, not both:", "--to");
	if ((cli->force || cli->confirm) && !destructive(cli))
		return usage_error("only rollback, drop and reset take", cli->force ? "--force" : "--confirm");
	if (cli->json && !command_is(cli, "status") && !command_is(cli, "lint"))
		return usage_error("only status and lint take", "--json");
	if (cli->check && !command_is(cli, "status"))
		return usage_error("only status takes", "--check");
	if (cli->dry_run && strcmp(cli->command, "run") != 0 && strcmp(cli->command, "migrate") != 0)
		return usage_error("only migrate and run take", "--dry-run");
	if (i < argc)
		cli->app_argv = argv + i;
	return 1;
}

/* Reports: they read the database and change nothing, not even by creating it. */
static bool read_only(const struct cli *cli)
{
	return command_is(cli, "status") || command_is(cli, "plan") || command_is(cli, "lint") ||
	       cli->dry_run;
}

/* Only these create a missing database; the history commands need an existing one. */
static bool may_create(const struct config *cfg, const struct cli *cli)
{
	return !read_only(cli) && !cfg->create_never &&
	       (command_is(cli, "run") || command_is(cli, "migrate") || command_is(cli, "create"));
}

/* Waits for the target; creates it when missing and allowed, then connects to it. */
static enum status connect_target(const struct config *cfg, const struct cli *cli,
				  struct wait_result *w)
{
	bool missing_ok = may_create(cfg, cli) || read_only(cli) || command_is(cli, "drop") ||
			  command_is(cli, "reset");
	enum status st = wait_ready(cfg, missing_ok, w);

	if (st == ST_OK && w->missing && read_only(cli))
		log_info("database \"%s\" does not exist%s", w->dbname,
			 cfg->create_never ? "" : "; it would be created");
	if (st != ST_OK || (w->missing && !may_create(cfg, cli)))
		return st;
	if (w->missing && (st = create_database(cfg, w->dbname, w->deadline)) == ST_OK)
		st = wait_ready(cfg, false, w);
	if (st == ST_OK && cfg->for_primary)
		st = wait_primary(cfg, w->conn, w->deadline, true);
	return st;
}

/*
 * In a protected environment (pgboot.protect), rollback, drop and reset run only with
 * --force and the database's name typed again with --confirm.
 */
static enum status guard(const struct config *cfg, const struct cli *cli, const char *dbname)
{
	char *hint;

	if (!cfg->protected_env || !destructive(cli))
		return ST_OK;
	if (cli->force && cli->confirm && strcmp(cli->confirm, dbname) == 0) {
		log_warn("running %s on database \"%s\" in protected environment \"%s\" (--force "
			 "--confirm)", cli->command, dbname, cfg->environment);
		return ST_OK;
	}
	hint = xasprintf("if you mean it, add --force --confirm %s", dbname);
	{
		const struct log_field fields[] = { { "hint", hint }, { NULL, NULL } };

		log_event(LOG_ERROR, fields, "refusing to %s database \"%s\" in protected environment "
			  "\"%s\"%s", cli->command, dbname, cfg->environment,
			  cli->confirm ? ": --confirm names another database" : "");
	}
	free(hint);
	return ST_PERMISSION;
}

/* drop, and reset's first half: no connection to the database may stay open. */
static enum status drop_target(const struct config *cfg, const struct cli *cli,
			       struct wait_result *w)
{
	enum status st;

	PQfinish(w->conn);
	w->conn = NULL;
	if (w->missing)
		log_info("database \"%s\" does not exist: nothing to drop", w->dbname);
	st = w->missing ? ST_OK : create_drop(cfg, w->dbname, cli->force, w->deadline);
	if (st != ST_OK || command_is(cli, "drop"))
		return st;
	st = create_database(cfg, w->dbname, w->deadline);
	return st == ST_OK ? wait_ready(cfg, false, w) : st;
}

/* After the connection: the command's own work. */
static enum status dispatch(const struct config *cfg, const struct cli *cli,
			    struct wait_result *w, const struct mig_list *list)
{
	enum status st = guard(cfg, cli, w->dbname);

	if (st == ST_OK && (command_is(cli, "drop") || command_is(cli, "reset")))
		st = drop_target(cfg, cli, w);
	if (st != ST_OK || command_is(cli, "drop") || command_is(cli, "wait") ||
	    command_is(cli, "create"))
		return st;
	if (command_is(cli, "status"))
		return mig_status(cfg, w->conn, list, cli->json, cli->check);
	if (command_is(cli, "lint"))
		return mig_lint(cfg, w->conn, list, NULL, 0, cli->json);
	if (read_only(cli))
		return mig_plan(cfg, w->conn, list);
	if (command_is(cli, "rollback"))
		return mig_rollback(cfg, w->conn, list, cli->steps ? cli->steps : 1, cli->to);
	if (command_is(cli, "baseline"))
		return mig_baseline(cfg, w->conn, list, cli->version);
	if (command_is(cli, "repair"))
		return mig_repair(cfg, w->conn, list);
	return mig_apply(cfg, w->conn, list);
}

/* The phases in order. The connection is closed on every path, before any exec. */
static enum status run_phases(const struct config *cfg, const struct cli *cli)
{
	bool migrations = !command_is(cli, "wait") && !command_is(cli, "create") &&
			  !command_is(cli, "drop");
	struct mig_list list;
	struct wait_result w = { 0 };
	enum status st = ST_OK;

	mig_list_init(&list);
	/* Broken migration files fail before any waiting. */
	if (migrations)
		st = mig_scan(cfg_get(cfg, CFG_MIGRATE_DIR), &list);
	if (st == ST_OK)
		st = connect_target(cfg, cli, &w);
	if (st == ST_OK)
		st = dispatch(cfg, cli, &w, &list);
	PQfinish(w.conn);
	mig_list_release(&list);
	return st;
}

/* lint --all, lint FILE...: no database, so nothing is known to be applied. */
static enum status lint_offline(const struct config *cfg, const struct cli *cli)
{
	struct mig_list list;
	enum status st = ST_OK;

	mig_list_init(&list);
	if (cli->all)
		st = mig_scan(cfg_get(cfg, CFG_MIGRATE_DIR), &list);
	if (st == ST_OK)
		st = mig_lint(cfg, NULL, &list, cli->files, cli->nfiles, cli->json);
	mig_list_release(&list);
	return st;
}

static int exit_code(enum status st)
{
	switch (st) {
	case ST_OK:
		return 0;
	case ST_PENDING:
	case ST_FINDINGS:
		return 1;
	case ST_USAGE:
		return EXIT_USAGE;
	case ST_MIGRATION:
		return 65;
	case ST_UNAVAILABLE:
		return 69;
	case ST_INTERNAL:
		return 70;
	case ST_PERMISSION:
		return 77;
	case ST_CONFIG:
		return 78;
	case ST_SIGNAL:
		return 128 + (sig_caught() ? sig_caught() : 15);
	}
	return 70;
}

static void log_warnings(struct config *cfg)
{
	char *line = cfg->warnings.data;

	while (line && *line) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		log_warn("%s", line);
		line = nl ? nl + 1 : line + strlen(line);
	}
}

int main(int argc, char **argv)
{
	struct cli cli = { .to = -1 };
	struct config cfg;
	char err[4096];
	enum status st;
	int rc;

	cfg_init(&cfg);
	rc = parse_cli(argc, argv, &cfg, &cli);
	if (rc <= 0) {
		cfg_release(&cfg);
		return rc == 0 ? 0 : rc == PARSE_CONFIG_ERROR ? 78 : EXIT_USAGE;
	}
	if (cfg_load(&cfg, cli.config_path, err, sizeof(err)) < 0) {
		log_error("%s", err);
		cfg_release(&cfg);
		return 78;
	}
	log_setup(cfg.log_level, cfg.log_format);
	log_warnings(&cfg);
	if (command_is(&cli, "config")) {
		cfg_print(&cfg);
		cfg_release(&cfg);
		return 0;
	}
	if (command_is(&cli, "new")) {
		st = mig_new(cfg_get(&cfg, CFG_MIGRATE_DIR), cli.arg);
		cfg_release(&cfg);
		return exit_code(st);
	}
	if (command_is(&cli, "lint") && (cli.all || cli.nfiles)) {
		st = lint_offline(&cfg, &cli);
		cfg_release(&cfg);
		return exit_code(st);
	}
	sig_setup();
	st = run_phases(&cfg, &cli);
	cfg_release(&cfg);
	if (st != ST_OK)
		return exit_code(st);
	if (!cli.app_argv || cli.dry_run)
		return 0;
	return exec_command(cli.app_argv);
}
