/*
 * pgboot: wait for PostgreSQL, create the database, apply migrations, exec the application.
 * main parses the command line and runs the phases in order; each phase logs its own
 * failure and returns a status, which main alone turns into the exit code.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adopt.h"
#include "config.h"
#include "conn.h"
#include "create.h"
#include "db.h"
#include "exec.h"
#include "log.h"
#include "migfile.h"
#include "migrate.h"
#include "prehash.h"
#include "provision.h"
#include "sig.h"
#include "wait.h"

#define EXIT_USAGE 64

/* The command-line options that only some commands take (struct command's options). */
enum cmd_option {
	OPT_STEPS = 1 << 0,
	OPT_TO = 1 << 1,
	OPT_FORCE = 1 << 2,
	OPT_CONFIRM = 1 << 3,
	OPT_JSON = 1 << 4,
	OPT_CHECK = 1 << 5,
	OPT_DRY_RUN = 1 << 6,
	OPT_ALL = 1 << 7,
};

static const struct {
	enum cmd_option option;
	const char *flag;
} option_flags[] = {
	{ OPT_STEPS, "--steps" }, { OPT_TO, "--to" },	  { OPT_FORCE, "--force" },
	{ OPT_CONFIRM, "--confirm" }, { OPT_JSON, "--json" }, { OPT_CHECK, "--check" },
	{ OPT_DRY_RUN, "--dry-run" }, { OPT_ALL, "--all" },
};

/* What a command needs and does (struct command's flags). */
enum cmd_flag {
	CMD_OFFLINE = 1 << 0,     /* needs no database: runs before any waiting */
	CMD_READS_ONLY = 1 << 1,  /* changes nothing, not even by creating the database */
	CMD_MAY_CREATE = 1 << 2,  /* creates a missing database (unless create.mode = never) */
	CMD_MIGRATIONS = 1 << 3,  /* reads the migration files, before any waiting */
	CMD_DESTRUCTIVE = 1 << 4, /* destroys data: guarded in protected environments */
	CMD_DROPS = 1 << 5,       /* drops the database (a missing one is not an error) */
	CMD_TAKES_NAME = 1 << 6,  /* one argument: new NAME */
	CMD_TAKES_VERSION = 1 << 7, /* one argument: baseline VERSION */
	CMD_TAKES_APP = 1 << 8,   /* the application command and its arguments */
	CMD_TAKES_FILES = 1 << 9, /* FILE... (lint), read without a database */
	CMD_PROVISIONS = 1 << 10, /* provisions first when an admin connection is set */
	CMD_ADMIN_ONLY = 1 << 11, /* provisions only: never connects as the application */
};

struct cli;
struct command;

/* A command's own work, after the phases its flags ask for. w and list are NULL offline. */
typedef enum status command_fn(const struct config *cfg, const struct cli *cli,
			       struct wait_result *w, const struct mig_list *list);

struct command {
	const char *name;
	unsigned flags;   /* enum cmd_flag */
	unsigned options; /* enum cmd_option: the options it takes */
	command_fn *work; /* NULL: nothing after the connection (wait, create, drop) */
};

struct cli {
	const struct command *cmd;
	const char *config_path;
	char **app_argv; /* the application command for run, or NULL */
	unsigned given;  /* enum cmd_option: the options on the command line */
	bool json;       /* status --json, lint --json */
	bool all;        /* lint --all */
	char **files;    /* lint FILE...: nfiles of them */
	int nfiles;
	bool check;      /* status --check */
	bool dry_run;    /* migrate/run --dry-run */
	const char *arg; /* new NAME, baseline VERSION */
	int64_t steps;   /* rollback --steps N */
	const char *to;  /* rollback --to VERSION (mig_version_canon accepts it), or NULL */
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
		"  pgboot provision [OPTIONS] [--dry-run]\n"
		"                             as [admin]: roles, database, extensions, schemas,\n"
		"                             grants ([provision]); run and migrate do it first\n"
		"                             when an admin connection is set\n"
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
		"  pgboot adopt [OPTIONS]     record what another migration tool applied (its\n"
		"                             table is only read); run and migrate do it first\n"
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
		"  --init              stay as the application's init (--exec-init on)\n"
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

static command_fn cmd_migrate, cmd_status, cmd_plan, cmd_rollback, cmd_baseline, cmd_repair,
	cmd_new, cmd_config, cmd_lint, cmd_adopt;

/*
 * Every command, one row each, in the order of the phases. The help text, the refusals of
 * options ("only migrate and run take ...") and main's phases all read this table.
 */
static const struct command commands[] = {
	{ "wait", 0, 0, NULL },
	{ "provision", CMD_PROVISIONS | CMD_ADMIN_ONLY, OPT_DRY_RUN, NULL },
	{ "create", CMD_MAY_CREATE, 0, NULL },
	{ "migrate", CMD_MAY_CREATE | CMD_MIGRATIONS | CMD_PROVISIONS, OPT_DRY_RUN, cmd_migrate },
	{ "run", CMD_MAY_CREATE | CMD_MIGRATIONS | CMD_TAKES_APP | CMD_PROVISIONS, OPT_DRY_RUN,
	  cmd_migrate },
	{ "status", CMD_READS_ONLY | CMD_MIGRATIONS, OPT_JSON | OPT_CHECK, cmd_status },
	{ "plan", CMD_READS_ONLY | CMD_MIGRATIONS, 0, cmd_plan },
	{ "rollback", CMD_DESTRUCTIVE | CMD_MIGRATIONS, OPT_STEPS | OPT_TO | OPT_FORCE | OPT_CONFIRM,
	  cmd_rollback },
	{ "baseline", CMD_MIGRATIONS | CMD_TAKES_VERSION, 0, cmd_baseline },
	{ "repair", CMD_MIGRATIONS, 0, cmd_repair },
	{ "adopt", CMD_MIGRATIONS, 0, cmd_adopt },
	{ "new", CMD_OFFLINE | CMD_TAKES_NAME, 0, cmd_new },
	{ "drop", CMD_DESTRUCTIVE | CMD_DROPS, OPT_FORCE | OPT_CONFIRM, NULL },
	{ "reset", CMD_DESTRUCTIVE | CMD_DROPS | CMD_MIGRATIONS, OPT_FORCE | OPT_CONFIRM, cmd_migrate },
	{ "config", CMD_OFFLINE, 0, cmd_config },
	{ "lint", CMD_READS_ONLY | CMD_MIGRATIONS | CMD_TAKES_FILES, OPT_JSON | OPT_ALL, cmd_lint },
};

/* The command named word, or NULL. */
static const struct command *command_find(const char *word)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(word, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

/*
 * Edits that turn a into b (insert, delete, replace, or swap two neighbours: "stauts" is
 * one swap from "status"), counted up to limit + 1.
 */
static size_t edit_distance(const char *a, const char *b, size_t limit)
{
	size_t la = strlen(a), lb = strlen(b), d[3][16];

	if (la >= 16 || lb >= 16 || (la > lb ? la - lb : lb - la) > limit)
		return limit + 1;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *row = d[i % 3], *up = d[(i - 1) % 3], *up2 = d[(i + 1) % 3];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], best = up[j - 1] + cost;

			best = up[j] + 1 < best ? up[j] + 1 : best;
			best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    up2[j - 2] + 1 < best)
				best = up2[j - 2] + 1;
			row[j] = best;
		}
	}
	return d[la % 3][lb] > limit ? limit + 1 : d[la % 3][lb];
}

/*
 * The command word was most likely meant as, when the application command word cannot
 * be run: the one command at most 2 edits away (and nearer than any other), or NULL.
 */
static const char *command_near(const char *word)
{
	const char *best = NULL;
	size_t best_distance = 3;
	bool tie = false;

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		size_t dist = edit_distance(word, commands[i].name, 2);

		if (dist < best_distance) {
			best = commands[i].name;
			best_distance = dist;
			tie = false;
		} else if (dist == best_distance) {
			tie = true;
		}
	}
	return best && !tie ? best : NULL;
}

/* After "could not execute WORD": says which pgboot command WORD looks like, if any. */
static void suggest_command(const char *word)
{
	const char *near = command_near(word);
	char *hint;

	if (!near || strchr(word, '/'))
		return;
	hint = xasprintf("did you mean \"%s\"? (pgboot %s)", near, near);
	{
		const struct log_field fields[] = { { "hint", hint }, { NULL, NULL } };

		log_event(LOG_ERROR, fields, "\"%s\" is not a pgboot command either", word);
	}
	free(hint);
}

static bool command_has(const struct cli *cli, enum cmd_flag flag)
{
	return (cli->cmd->flags & flag) != 0;
}

/* "what "arg"", with the hint to read --help. Returns -1. */
static int usage_error(const char *what, const char *arg)
{
	const struct log_field fields[] = { { "hint", "try \"pgboot --help\"" }, { NULL, NULL } };

	log_event(LOG_ERROR, fields, "%s \"%s\"", what, arg);
	return -1;
}

#define PARSE_CONFIG_ERROR (-2)

/* The options of the commands (struct command's options, and the global ones). */
static const struct option command_options[] = {
	{ "config", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },	    { "json", no_argument, NULL, 'j' },
	{ "check", no_argument, NULL, 'k' },	    { "dry-run", no_argument, NULL, 'n' },
	{ "steps", required_argument, NULL, 's' },  { "to", required_argument, NULL, 't' },
	{ "force", no_argument, NULL, 'f' },	    { "confirm", required_argument, NULL, 'C' },
	{ "init", no_argument, NULL, 'I' },	    { "all", no_argument, NULL, 'a' },
};

/*
 * Every setting's --section-key and --section-key-file, then the command options, then
 * getopt's terminating entry: sized from the tables, so an option added to either fits.
 */
struct options {
	struct option longopts[ARRAY_SIZE(command_options) + 2 * (size_t)CFG_NKEYS + 1];
	char file_flags[CFG_NKEYS][64];
};

static void options_build(struct options *o)
{
	int n = 0;

	for (int i = 0; i < CFG_NKEYS; i++) {
		snprintf(o->file_flags[i], sizeof(o->file_flags[i]), "%s-file",
			 cfg_flag_name((enum cfg_key)i));
		o->longopts[n++] = (struct option){ cfg_flag_name((enum cfg_key)i), required_argument,
						    NULL, 256 + i };
		o->longopts[n++] = (struct option){ o->file_flags[i], required_argument, NULL, 512 + i };
	}
	for (size_t i = 0; i < ARRAY_SIZE(command_options); i++)
		o->longopts[n++] = command_options[i];
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
	if (c < 512 && (key == CFG_DATABASE_PASSWORD || key == CFG_ADMIN_PASSWORD ||
			key == CFG_PROVISION_READONLY_PASSWORD ||
			((key == CFG_DATABASE_URL || key == CFG_ADMIN_URL) && conn_has_password(optarg))))
		buf_puts(&cfg->warnings, "a password on the command line is visible to other users "
			 "in the process list; use database.password_file\n");
	return 1;
}

/* Whether text is a migration version: 12, 0003, 1.2 (mig_version_canon). */
static bool is_version(const char *text)
{
	char *canon = mig_version_canon(text, strlen(text));

	free(canon);
	return canon != NULL;
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
		cli->given |= OPT_FORCE;
		return 1;
	case 'a':
		cli->all = true;
		cli->given |= OPT_ALL;
		return 1;
	case 'C':
		cli->confirm = optarg;
		cli->given |= OPT_CONFIRM;
		return 1;
	case 'I': /* --init: short for --exec-init on */
		return cfg_set_flag(cfg, CFG_EXEC_INIT, "--init", "on", NULL, 0) < 0 ? PARSE_CONFIG_ERROR : 1;
	case 'j':
	case 'k':
	case 'n':
		*(c == 'j' ? &cli->json : c == 'k' ? &cli->check : &cli->dry_run) = true;
		cli->given |= c == 'j' ? OPT_JSON : c == 'k' ? OPT_CHECK : OPT_DRY_RUN;
		return 1;
	case 's':
		cli->given |= OPT_STEPS;
		if (parse_int64(optarg, 1, INT64_MAX, &cli->steps) < 0)
			return usage_error("--steps takes a whole number from 1, not", optarg);
		return 1;
	case 't':
		cli->given |= OPT_TO;
		cli->to = optarg;
		return is_version(optarg) ? 1 : usage_error("--to takes a version, not", optarg);
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

/* "only rollback, drop and reset take", from the table. The caller frees it. */
static char *only_takers(enum cmd_option option)
{
	size_t n = 0, seen = 0;
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		n += (commands[i].options & option) != 0;
	buf_puts(&b, "only ");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (!(commands[i].options & option))
			continue;
		seen++;
		buf_printf(&b, "%s%s", commands[i].name,
			   seen + 1 < n ? ", " : seen + 1 == n ? " and " : "");
	}
	buf_puts(&b, n == 1 ? " takes" : " take");
	return buf_detach(&b);
}

/* Refuses an option the command does not take. Returns 0, or -1 (logged). */
static int check_options(const struct cli *cli)
{
	for (size_t i = 0; i < ARRAY_SIZE(option_flags); i++) {
		char *what;

		if (!(cli->given & option_flags[i].option) || (cli->cmd->options & option_flags[i].option))
			continue;
		what = only_takers(option_flags[i].option);
		usage_error(what, option_flags[i].flag);
		free(what);
		return -1;
	}
	if (cli->steps && cli->to)
		return usage_error("rollback takes --steps or --to, not both:", "--to");
	if (cli->all && cli->nfiles)
		return usage_error("lint takes --all or files, not both:", "--all");
	return 0;
}

/* The command's own argument (new NAME, baseline VERSION). Returns the next index, or -1. */
static int take_argument(int i, int argc, char **argv, struct cli *cli)
{
	if (command_has(cli, CMD_TAKES_FILES) && i < argc) {
		cli->files = argv + i;
		cli->nfiles = argc - i;
		return argc;
	}
	if (!command_has(cli, CMD_TAKES_NAME | CMD_TAKES_VERSION))
		return i;
	if (i + 1 != argc)
		return usage_error(i == argc ? "missing the argument of" : "too many arguments for",
				   cli->cmd->name);
	cli->arg = argv[i];
	if (command_has(cli, CMD_TAKES_VERSION) && !is_version(cli->arg))
		return usage_error("baseline takes a version, not", cli->arg);
	return i + 1;
}

/*
 * Splits the command line into options, the command and the application's arguments.
 * Returns 1 to go on, 0 when done (--help), or parse_options' error codes.
 */
static int parse_cli(int argc, char **argv, struct config *cfg, struct cli *cli)
{
	int i = parse_options(argc, argv, cfg, cli, false);
	const struct command *named;

	if (i <= 0)
		return i;
	cli->cmd = command_find("run");
	named = i < argc && strcmp(argv[i - 1], "--") != 0 ? command_find(argv[i]) : NULL;
	if (named) {
		int j;

		cli->cmd = named;
		argc -= i;
		argv += i;
		j = parse_options(argc, argv, cfg, cli, !command_has(cli, CMD_TAKES_APP));
		if (j <= 0)
			return j;
		i = j;
	}
	if ((i = take_argument(i, argc, argv, cli)) < 0)
		return -1;
	if (i < argc && !command_has(cli, CMD_TAKES_APP))
		return usage_error("unexpected argument", argv[i]);
	if (check_options(cli) < 0)
		return -1;
	if (i < argc)
		cli->app_argv = argv + i;
	return 1;
}

/* Reports: they read the database and change nothing, not even by creating it. */
static bool read_only(const struct cli *cli)
{
	return command_has(cli, CMD_READS_ONLY) || cli->dry_run;
}

/* Only these create a missing database; the history commands need an existing one. */
static bool may_create(const struct config *cfg, const struct cli *cli)
{
	return !read_only(cli) && !cfg->create_never && command_has(cli, CMD_MAY_CREATE);
}

/* Waits for the target; creates it when missing and allowed, then connects to it. */
static enum status connect_target(const struct config *cfg, const struct cli *cli,
				  struct wait_result *w)
{
	bool missing_ok = may_create(cfg, cli) || read_only(cli) || command_has(cli, CMD_DROPS);
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
 * In a protected environment (pgboot.protect), destructive commands run only with --force
 * and the database's name typed again with --confirm.
 */
static enum status guard(const struct config *cfg, const struct cli *cli, const char *dbname)
{
	const char *name = cli->cmd->name;
	char *hint;

	if (!cfg->protected_env || !command_has(cli, CMD_DESTRUCTIVE))
		return ST_OK;
	if (cli->force && cli->confirm && strcmp(cli->confirm, dbname) == 0) {
		log_warn("running %s on database \"%s\" in protected environment \"%s\" (--force "
			 "--confirm)", name, dbname, cfg->environment);
		return ST_OK;
	}
	hint = xasprintf("if you mean it, add --force --confirm %s", dbname);
	{
		const struct log_field fields[] = { { "hint", hint }, { NULL, NULL } };

		log_event(LOG_ERROR, fields, "refusing to %s database \"%s\" in protected environment "
			  "\"%s\"%s", name, dbname, cfg->environment,
			  cli->confirm ? ": --confirm names another database" : "");
	}
	free(hint);
	return ST_PERMISSION;
}

/*
 * drop, and reset's first half: no connection to the database may stay open. A command
 * with more work (reset) gets the database created again and connected.
 */
static enum status drop_target(const struct config *cfg, const struct cli *cli,
			       struct wait_result *w)
{
	enum status st;

	PQfinish(w->conn);
	w->conn = NULL;
	if (w->missing)
		log_info("database \"%s\" does not exist: nothing to drop", w->dbname);
	st = w->missing ? ST_OK : create_drop(cfg, w->dbname, cli->force, w->deadline);
	if (st != ST_OK || !cli->cmd->work)
		return st;
	st = create_database(cfg, w->dbname, w->deadline);
	return st == ST_OK ? wait_ready(cfg, false, w) : st;
}

static enum status cmd_migrate(const struct config *cfg, const struct cli *cli,
			       struct wait_result *w, const struct mig_list *list)
{
	return cli->dry_run ? mig_plan(cfg, w->conn, list) : mig_apply(cfg, w->conn, list);
}

static enum status cmd_status(const struct config *cfg, const struct cli *cli,
			      struct wait_result *w, const struct mig_list *list)
{
	return mig_status(cfg, w->conn, list, cli->json, cli->check);
}

static enum status cmd_plan(const struct config *cfg, const struct cli *cli,
			    struct wait_result *w, const struct mig_list *list)
{
	(void)cli;
	return mig_plan(cfg, w->conn, list);
}

static enum status cmd_rollback(const struct config *cfg, const struct cli *cli,
				struct wait_result *w, const struct mig_list *list)
{
	return mig_rollback(cfg, w->conn, list, cli->steps ? cli->steps : 1, cli->to);
}

static enum status cmd_baseline(const struct config *cfg, const struct cli *cli,
				struct wait_result *w, const struct mig_list *list)
{
	return mig_baseline(cfg, w->conn, list, cli->arg);
}

static enum status cmd_repair(const struct config *cfg, const struct cli *cli,
			      struct wait_result *w, const struct mig_list *list)
{
	(void)cli;
	return mig_repair(cfg, w->conn, list);
}

static enum status cmd_adopt(const struct config *cfg, const struct cli *cli,
			     struct wait_result *w, const struct mig_list *list)
{
	(void)cli;
	return adopt_command(cfg, w->conn, list);
}

static enum status cmd_new(const struct config *cfg, const struct cli *cli,
			   struct wait_result *w, const struct mig_list *list)
{
	(void)w;
	(void)list;
	return mig_new(cfg_get(cfg, CFG_MIGRATE_DIR), cli->arg);
}

static enum status cmd_lint(const struct config *cfg, const struct cli *cli,
			    struct wait_result *w, const struct mig_list *list)
{
	return mig_lint(cfg, w->conn, list, NULL, 0, cli->json);
}

/* lint --all, lint FILE...: no database, so nothing is known to be applied. */
static enum status lint_offline(const struct config *cfg, const struct cli *cli)
{
	struct mig_list list;
	enum status st = ST_OK;

	mig_list_init(&list);
	if (cli->all)
		st = mig_scan(cfg_get(cfg, CFG_MIGRATE_DIR), cfg_get(cfg, CFG_MIGRATE_FORMAT), &list);
	if (st == ST_OK)
		st = mig_lint(cfg, NULL, &list, cli->files, cli->nfiles, cli->json);
	mig_list_release(&list);
	return st;
}

static enum status cmd_config(const struct config *cfg, const struct cli *cli,
			      struct wait_result *w, const struct mig_list *list)
{
	(void)cli;
	(void)w;
	(void)list;
	cfg_print(cfg);
	return ST_OK;
}

/*
 * With an admin connection, provisioning comes first (pgboot provision: only it). *done
 * when nothing follows: the provision command, or a dry run that would make the role or
 * the database the plan needs.
 */
static enum status provision_phase(const struct config *cfg, const struct cli *cli, bool *done)
{
	bool incomplete = false;
	enum status st;

	*done = command_has(cli, CMD_ADMIN_ONLY);
	if (!cfg->has_admin && *done)
		log_error("no admin connection to provision with: set \"admin.url\" or \"admin.user\"");
	if (!cfg->has_admin)
		return *done ? ST_CONFIG : ST_OK;
	st = provision_run(cfg, cli->dry_run, clock_ms() + cfg->wait_timeout_ms, &incomplete);
	if (st == ST_OK && cli->dry_run && incomplete && !*done) {
		log_info("no migration plan: the role or the database it needs does not exist yet, "
			 "so every migration would be applied");
		*done = true;
	}
	return st;
}

/*
 * The phases in order: read the migration files (broken ones fail before any waiting),
 * provision with an admin connection, wait for the database (creating it when missing and
 * allowed), guard a destructive command, drop, then the command's own work. The
 * connection is closed on every path, before any exec.
 */
static enum status run_phases(const struct config *cfg, const struct cli *cli)
{
	struct mig_list list;
	struct wait_result w = { 0 };
	struct prehash ahead;
	enum status st = ST_OK;
	bool done = false;

	mig_list_init(&list);
	if (command_has(cli, CMD_MIGRATIONS))
		st = mig_scan(cfg_get(cfg, CFG_MIGRATE_DIR), cfg_get(cfg, CFG_MIGRATE_FORMAT), &list);
	/* The files are hashed while the connection waits on the server. */
	prehash_init(&ahead, &list);
	w.idle = (struct db_idle){ prehash_step, &ahead };
	if (st == ST_OK && command_has(cli, CMD_PROVISIONS))
		st = provision_phase(cfg, cli, &done);
	if (st != ST_OK || done)
		goto out;
	st = connect_target(cfg, cli, &w);
	if (st == ST_OK)
		st = guard(cfg, cli, w.dbname);
	if (st == ST_OK && command_has(cli, CMD_DROPS))
		st = drop_target(cfg, cli, &w);
	if (st == ST_OK && cli->cmd->work)
		st = cli->cmd->work(cfg, cli, &w, &list);
out:
	PQfinish(w.conn);
	prehash_release(&ahead);
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
	struct cli cli = { 0 };
	struct exec_init init;
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
	if (command_has(&cli, CMD_OFFLINE)) {
		st = cli.cmd->work(&cfg, &cli, NULL, NULL);
		cfg_release(&cfg);
		return exit_code(st);
	}
	if (command_has(&cli, CMD_TAKES_FILES) && (cli.all || cli.nfiles)) {
		st = lint_offline(&cfg, &cli);
		cfg_release(&cfg);
		return exit_code(st);
	}
	/* A command that cannot run fails before anything is waited for or changed. */
	if (cli.app_argv && !cli.dry_run && (rc = exec_check(cli.app_argv[0])) != 0) {
		if (rc == 127)
			suggest_command(cli.app_argv[0]);
		cfg_release(&cfg);
		return rc;
	}
	sig_setup();
	st = run_phases(&cfg, &cli);
	exec_init_load(&init, &cfg);
	cfg_release(&cfg);
	if (st != ST_OK)
		return exit_code(st);
	if (!cli.app_argv || cli.dry_run)
		return 0;
	return exec_run(cli.app_argv, &init);
}
