#include "migrate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adopt.h"
#include "apply.h"
#include "history.h"
#include "lock.h"
#include "preflight.h"
#include "db.h"
#include "log.h"
#include "sig.h"
#include "wait.h"

/* One command's view of the history, and the migration lock it may hold. */
struct state {
	struct history h;
	struct mig_lock lock;
	struct apply_ctx ctx;
};

static void state_init(struct state *s, PGconn *conn, const struct config *cfg)
{
	memset(s, 0, sizeof(*s));
	history_init(&s->h, conn, cfg);
	lock_init(&s->lock, s->h.table, cfg);
	s->ctx = (struct apply_ctx){ conn, cfg, &s->h, &s->lock };
}

static void state_release(struct state *s)
{
	lock_release(&s->lock);
	history_release(&s->h);
}

static enum status create_body(void *arg)
{
	struct state *s = arg;
	enum status st = lock_in_transaction(&s->lock, s->ctx.conn, s->ctx.cfg);

	return st == ST_OK ? history_create(&s->h, s->ctx.conn) : st;
}

/* Creates the history table; in LOCK_TRANSACTION mode under the lock, in a transaction. */
static enum status create_history(struct state *s)
{
	if (s->lock.mode != LOCK_TRANSACTION)
		return history_create(&s->h, s->ctx.conn);
	return apply_transaction(s->ctx.conn, &s->lock, "BEGIN", create_body, s,
				 "the migration history table");
}

/*
 * Reads and checks m (preflight), running nothing; with l, the same read is linted into l
 * (a file may be large: one read serves both). Returns 0, or -1 (logged).
 */
static int describe(const struct migration *m, const struct config *cfg, enum lock_mode mode,
		    struct preflight *out, struct lint *l)
{
	struct preflight pl;
	struct buf sql;
	int rc;

	buf_init(&sql);
	rc = preflight_read(m, cfg, mode, &sql, out ? out : &pl);
	if (rc == 0 && l && (rc = lint_file(l, m->path, sql.data ? sql.data : "", sql.len)) < 0)
		log_error("%s", l->error);
	buf_release(&sql);
	return rc;
}

/*
 * Every pending file is read and checked (preflight), and linted into l when it is not
 * NULL, before the first one is applied, so that a mistake in the last file stops the run
 * with nothing applied.
 */
static enum status check_pending(const struct state *s, const struct mig_list *list,
				 enum lock_mode mode, struct lint *l)
{
	for (size_t i = 0; i < list->n; i++)
		if (!history_applied(&s->h, &list->items[i]) &&
		    describe(&list->items[i], s->ctx.cfg, mode, NULL, l) < 0)
			return ST_MIGRATION;
	return ST_OK;
}

/* check_pending with the lint of migrate.lint, whose findings are judged once all are read. */
static enum status check_and_lint_pending(const struct state *s, const struct mig_list *list)
{
	const struct config *cfg = s->ctx.cfg;
	struct lint l;
	enum status st;

	if (cfg->lint == CFG_LINT_OFF)
		return check_pending(s, list, s->lock.mode, NULL);
	lint_init(&l, cfg->lint == CFG_LINT_ERROR);
	st = check_pending(s, list, s->lock.mode, &l);
	if (st == ST_OK)
		st = preflight_lint_verdict(&l);
	lint_release(&l);
	return st;
}

/*
 * The pending files (checked already): with migrate.transaction = all in one transaction,
 * else each in its own transaction or none.
 */
static enum status apply_pending_files(struct state *s, const struct mig_list *list,
				       size_t *applied)
{
	const struct migration **files = xcalloc(list->n + 1, sizeof(*files));
	enum status st;
	size_t n = 0;

	for (size_t i = 0; i < list->n; i++)
		if (!history_applied(&s->h, &list->items[i]))
			files[n++] = &list->items[i];
	st = s->ctx.cfg->one_transaction ? apply_all(&s->ctx, files, n, applied)
					 : apply_pending(&s->ctx, files, n, applied);
	free(files);
	return st;
}

/* Under the lock: the history again (another runner may have applied some), then the rest. */
static enum status apply_locked(PGconn *conn, const struct config *cfg, struct state *s,
				const struct mig_list *list, size_t *applied)
{
	size_t pending;
	enum status st = history_read(&s->h, conn);

	*applied = 0;
	if (st == ST_OK && s->h.table_missing)
		st = create_history(s);
	if (st == ST_OK)
		st = history_check(&s->h, cfg, list, &pending, false);
	if (st == ST_OK)
		st = apply_pending_files(s, list, applied);
	return st;
}

/* What a runner waiting for the lock checks when it wakes. */
struct waiting {
	struct state *s;
	PGconn *conn;
	const struct config *cfg;
	const struct mig_list *list;
};

/*
 * lock_take's needed_not: whether the runner holding the lock applied everything this one
 * would (then it need not take the lock just to find nothing left, one runner after the
 * other). Every file must have its history row; then the history is checked as under the
 * lock (a file changed since another runner applied it stops this one, 65).
 */
static int applied_meanwhile(void *arg, enum status *st)
{
	struct waiting *w = arg;
	struct history *h = &w->s->h;
	size_t pending = 0;

	if ((*st = history_read(h, w->conn)) != ST_OK)
		return -1;
	if (h->table_missing)
		return 0;
	for (size_t i = 0; i < w->list->n; i++)
		if (!history_find(h, mig_history_key(&w->list->items[i])))
			return 0;
	if ((*st = history_check(h, w->cfg, w->list, &pending, false)) != ST_OK)
		return -1;
	return pending == 0;
}

enum status mig_apply(const struct config *cfg, PGconn *conn, const struct mig_list *list)
{
	int64_t start = clock_ms();
	char elapsed[32];
	struct state s;
	struct waiting waiting;
	size_t pending = 0, applied = 0;
	enum status st;

	state_init(&s, conn, cfg);
	st = history_read(&s.h, conn);
	/* No history yet: another tool's is adopted first, then read as pgboot's own. */
	if (st == ST_OK && s.h.table_missing && (st = adopt_run(cfg, conn, list, &s.h, false)) == ST_OK)
		st = history_read(&s.h, conn);
	if (st == ST_OK)
		st = history_check(&s.h, cfg, list, &pending, true);
	if (st == ST_OK && pending)
		st = check_and_lint_pending(&s, list);
	if (st != ST_OK || pending == 0) {
		if (st == ST_OK)
			log_info("no pending migrations (%zu applied)", s.h.n);
		goto out;
	}
	/* Writes are about to start: a standby fails here, unless wait.for_primary waited. */
	if ((st = wait_primary(cfg, conn, 0, false)) != ST_OK)
		goto out;
	waiting = (struct waiting){ &s, conn, cfg, list };
	s.lock.needed_not = applied_meanwhile;
	s.lock.needed_arg = &waiting;
	s.lock.main = conn;
	if ((st = lock_take(&s.lock, cfg, true)) != ST_OK)
		goto out;
	if (s.lock.unneeded) {
		log_info("no pending migrations: another runner applied them");
		goto out;
	}
	/* Without a slot for the lock's connection, the mode changed: the files may not fit it. */
	st = s.lock.mode == lock_configured(cfg) ? ST_OK : check_pending(&s, list, s.lock.mode, NULL);
	if (st == ST_OK)
		st = apply_locked(conn, cfg, &s, list, &applied);
	lock_release(&s.lock);
	format_seconds(clock_ms() - start, elapsed, sizeof(elapsed));
	if (st == ST_OK && applied == 0)
		log_info("no pending migrations: another runner applied them");
	else if (st == ST_OK)
		log_info("applied %zu migration%s in %s", applied, applied == 1 ? "" : "s", elapsed);
out:
	state_release(&s);
	return st;
}

/* One line of the report: a file, an applied row, or both. */
struct report_row {
	const char *version; /* a history key */
	const char *name;
	const char *state; /* applied, changed, pending, out-of-order, partial, missing */
	const struct history_row *a;
	long done;
};

static void print_text(const struct report_row *r)
{
	if (r->a)
		printf("%s %s %s %sms%s\n", r->state, r->name, r->a->applied_at, r->a->duration_ms,
		       strcmp(r->state, "missing") == 0 ? " (no file)" : "");
	else if (r->done)
		printf("%s %s (%ld statement%s done)\n", r->state, r->name, r->done,
		       r->done == 1 ? "" : "s");
	else
		printf("%s %s\n", r->state, r->name);
}

/*
 * A version in JSON: a whole number as a number (as before versions were text), a dotted
 * one as a string ("1.2"), a repeatable as null.
 */
static void json_version(struct buf *out, const char *version)
{
	if (version && version[strspn(version, "0123456789")] == '\0')
		buf_puts(out, version);
	else if (version && *version >= '0' && *version <= '9')
		buf_json_string(out, version);
	else
		buf_puts(out, "null");
}

static void print_json(struct buf *out, const struct report_row *r, bool first)
{
	buf_printf(out, "%s{\"version\":", first ? "" : ",");
	json_version(out, r->version);
	buf_puts(out, ",\"name\":");
	buf_json_string(out, r->name);
	buf_puts(out, ",\"state\":");
	buf_json_string(out, r->state);
	if (r->a) {
		buf_puts(out, ",\"applied_at\":");
		buf_json_string(out, r->a->applied_at);
		buf_printf(out, ",\"duration_ms\":%s,\"checksum\":", r->a->duration_ms);
		buf_json_string(out, r->a->checksum);
	}
	if (r->done)
		buf_printf(out, ",\"statements_done\":%ld", r->done);
	buf_puts(out, "}");
}

/* The state of file m: -1 when it cannot be read (logged). */
static int file_row(const struct history *h, const struct migration *m,
		    const struct progress_counts *pc, struct report_row *r)
{
	const struct history_row *newest = history_newest(h);
	const char *key = mig_history_key(m);
	char sum[65];
	int same;

	*r = (struct report_row){ key, m->file, "pending", history_find(h, key), 0 };
	if (r->a) {
		if ((same = history_matches(r->a, m, sum)) < 0)
			return -1;
		/* a repeatable file that changed runs again: pending, not changed */
		r->state = same ? "applied" : m->version ? "changed" : "pending";
	} else if ((r->done = progress_count(pc, key))) {
		r->state = "partial";
	} else if (newest && m->version && mig_version_cmp(m->version, newest->version) < 0) {
		r->state = "out-of-order";
	}
	return 0;
}

/* Reads the history and the progress of partly applied files, when the database exists. */
static enum status read_report(PGconn *conn, const struct config *cfg, struct history *h,
			       struct progress_counts *pc)
{
	enum status st = ST_OK;

	memset(h, 0, sizeof(*h));
	memset(pc, 0, sizeof(*pc));
	if (!conn)
		return ST_OK;
	history_init(h, conn, cfg);
	st = history_read(h, conn);
	if (st == ST_OK && !h->table_missing)
		history_progress_counts(h, conn, pc);
	return st;
}

/* The next row of the report, merging files and history by version. */
static int next_row(const struct history *h, const struct mig_list *list, size_t *fi,
		    size_t *hi, const struct progress_counts *pc, struct report_row *r)
{
	const struct migration *m = *fi < list->n ? &list->items[*fi] : NULL;
	const struct history_row *a = *hi < h->n ? &h->rows[*hi] : NULL;

	int c = m && a ? mig_version_cmp(mig_history_key(m), a->version) : 0;

	if (m && (!a || c <= 0)) {
		(*fi)++;
		*hi += a && c == 0;
		return file_row(h, m, pc, r);
	}
	/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): no file left, so a row is */
	*r = (struct report_row){ a->version, a->name, "missing", a, 0 };
	(*hi)++;
	return 0;
}

enum status mig_status(const struct config *cfg, PGconn *conn, const struct mig_list *list,
		       bool json, bool check)
{
	struct history h;
	struct progress_counts pc;
	size_t count[2] = { 0, 0 }, fi = 0, hi = 0; /* applied, not */
	struct buf out;
	enum status st = read_report(conn, cfg, &h, &pc);

	buf_init(&out);
	buf_printf(&out, "{\"database_exists\":%s,\"migrations\":[", conn ? "true" : "false");
	while (st == ST_OK && (fi < list->n || hi < h.n)) {
		struct report_row r;

		if (next_row(&h, list, &fi, &hi, &pc, &r) < 0) {
			st = ST_MIGRATION;
			break;
		}
		count[strcmp(r.state, "applied") != 0]++;
		if (json)
			print_json(&out, &r, count[0] + count[1] == 1);
		else
			print_text(&r);
	}
	buf_printf(&out, "],\"applied\":%zu,\"not_applied\":%zu}\n", count[0], count[1]);
	if (st == ST_OK && json)
		fputs(out.data, stdout);
	fflush(stdout);
	if (st == ST_OK)
		log_info("%zu applied, %zu pending or out of sync", count[0], count[1]);
	if (st == ST_OK && check && count[1])
		st = ST_PENDING;
	progress_counts_release(&pc);
	history_release(&h);
	buf_release(&out);
	return st;
}

enum status mig_plan(const struct config *cfg, PGconn *conn, const struct mig_list *list)
{
	struct history h;
	struct progress_counts pc;
	size_t pending = 0, shown = 0;
	enum status st = read_report(conn, cfg, &h, &pc);

	if (st == ST_OK)
		st = history_check(&h, cfg, list, &pending, true);
	for (size_t i = 0; st == ST_OK && i < list->n; i++) {
		const struct migration *m = &list->items[i];
		struct preflight info;
		long done = progress_count(&pc, mig_history_key(m));

		if (history_applied(&h, m))
			continue;
		if (describe(m, cfg, lock_configured(cfg), &info, NULL) < 0) {
			st = ST_MIGRATION;
			break;
		}
		printf("apply %s (%s, %zu statement%s", m->file,
		       info.no_transaction ? "no transaction"
		       : info.wrapped      ? "one transaction, the file's own BEGIN"
					   : "one transaction",
		       info.count, info.count == 1 ? "" : "s");
		if (done)
			printf(", resumes at statement %ld", done + 1);
		printf(")\n");
		shown++;
	}
	fflush(stdout);
	if (st == ST_OK)
		st = preflight_lint_pending(cfg, list, &h);
	if (st == ST_OK)
		log_info("dry run: %zu migration%s would be applied; nothing was changed", shown,
			 shown == 1 ? "" : "s");
	progress_counts_release(&pc);
	history_release(&h);
	return st;
}

/* The lock for the commands that change the history, then the history read under it. */
static enum status take_lock(PGconn *conn, const struct config *cfg, struct state *s)
{
	enum status st = wait_primary(cfg, conn, 0, false);

	if (st == ST_OK)
		st = lock_take(&s->lock, cfg, false);
	if (st == ST_OK)
		st = history_read(&s->h, conn);
	if (st != ST_OK)
		lock_release(&s->lock);
	return st;
}

static const struct migration *list_find(const struct mig_list *list, const char *version)
{
	for (size_t i = 0; i < list->n; i++)
		if (mig_version_cmp(mig_history_key(&list->items[i]), version) == 0)
			return &list->items[i];
	return NULL;
}

/* A down part ready to run: read and checked before anything is rolled back. */
struct down {
	struct migration view; /* where the down part was read, for messages */
	struct buf sql;
};

/* A down part that would run nothing would remove the history row and leave the schema. */
static enum status check_down(const struct state *s, const struct down *d)
{
	const struct log_field fields[] = {
		{ "hint", "write the statements that undo it; if nothing needs undoing, say so with a "
			  "statement such as SELECT 1" },
		{ NULL, NULL },
	};
	struct preflight pl;

	if (preflight_check(&d->view, &d->sql, s->ctx.cfg, s->lock.mode, true, &pl) < 0)
		return ST_MIGRATION;
	if (pl.count > 0)
		return ST_OK;
	log_event(LOG_ERROR, fields, "the down part of \"%s\" (in \"%s\") holds no statement: "
		  "nothing was rolled back", d->view.file, d->view.path);
	return ST_MIGRATION;
}

static enum status prepare_down(const struct state *s, const struct mig_list *list,
				const struct history_row *a, struct down *d)
{
	const struct migration *m = list_find(list, a->version);
	char sum[65];
	int rc;

	buf_init(&d->sql);
	d->view = (struct migration){ .version = a->version, .file = a->name };
	if (!m) {
		log_error("applied migration \"%s\" has no file: nothing was rolled back", a->name);
		return ST_MIGRATION;
	}
	if ((rc = history_matches(a, m, sum)) < 0)
		return ST_MIGRATION;
	if (rc == 0) {
		log_error("\"%s\" has changed since it was applied: its down part may not undo what "
			  "ran; nothing was rolled back", m->path);
		return ST_MIGRATION;
	}
	d->view.file = m->file;
	rc = mig_read_down(m, &d->sql, &d->view.path, &d->view.line_offset);
	if (rc == 0)
		log_error("\"%s\" has no down part (a \"-- pgboot:down\" section or a .down.sql file): "
			  "nothing was rolled back", m->path);
	return rc == 1 ? check_down(s, d) : ST_MIGRATION;
}

/* The rows of versioned migrations: the first ones (repeatable files' rows sort last). */
static size_t versioned_rows(const struct history *h)
{
	const struct history_row *newest = history_newest(h);

	return newest ? (size_t)(newest - h->rows) + 1 : 0;
}

/*
 * The applied migrations to undo, newest first: the last steps, or all above to (not
 * NULL). Repeatable files have no down part and are never rolled back.
 */
static size_t rollback_targets(const struct history *h, int64_t steps, const char *to)
{
	size_t n = 0, rows = versioned_rows(h);

	while (n < rows && (to ? mig_version_cmp(h->rows[rows - 1 - n].version, to) > 0
			      : (int64_t)n < steps))
		n++;
	return n;
}

/* Runs the down parts of the n newest applied migrations, all read and checked first. */
static enum status roll_back(struct state *s, const struct mig_list *list, size_t n)
{
	struct down *downs = xcalloc(n ? n : 1, sizeof(*downs));
	size_t ready = 0;
	enum status st = ST_OK;

	for (; st == ST_OK && ready < n; ready++)
		st = prepare_down(s, list, &s->h.rows[versioned_rows(&s->h) - 1 - ready], &downs[ready]);
	for (size_t i = 0; st == ST_OK && i < n; i++) {
		char label[48];

		snprintf(label, sizeof(label), "[%zu/%zu]", i + 1, n);
		st = apply_down(&s->ctx, &downs[i].view, &downs[i].sql, label);
	}
	for (size_t i = 0; i < ready; i++) {
		free(downs[i].view.path);
		buf_release(&downs[i].sql);
	}
	free(downs);
	return st;
}

/* What the command line asked of rollback and baseline. */
struct command_args {
	int64_t steps;       /* rollback */
	const char *to;      /* rollback --to (canonical), or NULL */
	const char *version; /* baseline (canonical) */
};

/*
 * Runs command, which changes the history, under the migration lock with the history
 * read under it; the lock goes when it returns.
 */
static enum status with_lock(const struct config *cfg, PGconn *conn, const struct mig_list *list,
			     enum status (*command)(struct state *, const struct mig_list *,
						    const struct command_args *),
			     const struct command_args *args)
{
	struct state s;
	enum status st;

	state_init(&s, conn, cfg);
	st = take_lock(conn, cfg, &s);
	if (st == ST_OK)
		st = command(&s, list, args);
	state_release(&s);
	return st;
}

static enum status rollback_locked(struct state *s, const struct mig_list *list,
				   const struct command_args *args)
{
	size_t n;
	enum status st;

	if (args->to && strcmp(args->to, "0") != 0 && !history_find(&s->h, args->to)) {
		log_error("version %s is not applied: nothing was rolled back", args->to);
		return ST_USAGE;
	}
	n = rollback_targets(&s->h, args->steps, args->to);
	st = roll_back(s, list, n);
	if (st == ST_OK && n == 0)
		log_info("nothing to roll back");
	else if (st == ST_OK)
		log_info("rolled back %zu migration%s", n, n == 1 ? "" : "s");
	return st;
}

enum status mig_rollback(const struct config *cfg, PGconn *conn, const struct mig_list *list,
			 int64_t steps, const char *to)
{
	char *canon = to ? mig_version_canon(to, strlen(to)) : NULL;
	const struct command_args args = { .steps = steps, .to = canon };
	enum status st = with_lock(cfg, conn, list, rollback_locked, &args);

	free(canon);
	return st;
}

/* The files one command records in the history, and how it records each. */
struct records {
	struct state *s;
	const struct migration **files;
	size_t n;
	enum status (*step)(const struct history *, PGconn *, const struct migration *);
};

static enum status records_body(void *arg)
{
	const struct records *rec = arg;
	enum status st = ST_OK;

	for (size_t i = 0; st == ST_OK && i < rec->n; i++)
		st = rec->step(&rec->s->h, rec->s->ctx.conn, rec->files[i]);
	return st;
}

/* Runs step for each of the given files in one transaction. */
static enum status in_transaction(struct state *s, const struct migration **files, size_t n,
				  enum status (*step)(const struct history *, PGconn *,
						      const struct migration *))
{
	struct records rec = { s, files, n, step };

	return apply_transaction(s->ctx.conn, &s->lock, "BEGIN", records_body, &rec, "the history");
}

/* VERSION must name a point among the files: not before the first, not past the newest. */
static enum status baseline_target(const struct mig_list *list, const char *version)
{
	const struct migration *newest = NULL;

	for (size_t i = list->n; i > 0 && !newest; i--)
		if (list->items[i - 1].version)
			newest = &list->items[i - 1];
	if (!newest || mig_version_cmp(list->items[0].version, version) > 0) {
		log_error("no migration has a version up to %s", version);
		return ST_USAGE;
	}
	if (mig_version_cmp(newest->version, version) < 0) {
		log_error("version %s is beyond the newest migration file, \"%s\" (version %s): "
			  "nothing was recorded", version, newest->file, newest->version);
		return ST_USAGE;
	}
	return ST_OK;
}

static enum status baseline_locked(struct state *s, const struct mig_list *list,
				   const struct command_args *args)
{
	const struct migration **files = xcalloc(list->n + 1, sizeof(*files));
	size_t n = 0;
	enum status st = baseline_target(list, args->version);

	if (st == ST_OK && s->h.table_missing)
		st = create_history(s);
	for (size_t i = 0; st == ST_OK && i < list->n && list->items[i].version &&
			   mig_version_cmp(list->items[i].version, args->version) <= 0; i++)
		if (!history_find(&s->h, mig_history_key(&list->items[i])))
			files[n++] = &list->items[i];
	if (st == ST_OK)
		st = in_transaction(s, files, n, history_baseline);
	if (st == ST_OK)
		log_info("baseline: %zu migration%s recorded as applied", n, n == 1 ? "" : "s");
	free(files);
	return st;
}

enum status mig_baseline(const struct config *cfg, PGconn *conn, const struct mig_list *list,
			 const char *version)
{
	char *canon = mig_version_canon(version, strlen(version));
	const struct command_args args = { .version = canon };
	enum status st = canon ? with_lock(cfg, conn, list, baseline_locked, &args) : ST_USAGE;

	free(canon);
	return st;
}

static enum status repair_locked(struct state *s, const struct mig_list *list,
				 const struct command_args *args)
{
	const struct migration **files = xcalloc(list->n + 1, sizeof(*files));
	size_t n = 0;
	enum status st = ST_OK;

	(void)args;
	for (size_t i = 0; st == ST_OK && i < list->n; i++) {
		const struct history_row *a = history_find(&s->h, mig_history_key(&list->items[i]));
		char sum[65];
		int same = a ? history_matches(a, &list->items[i], sum) : 1;

		if (same < 0)
			st = ST_MIGRATION;
		else if (!same)
			files[n++] = &list->items[i];
	}
	if (st == ST_OK && n)
		st = in_transaction(s, files, n, history_repair);
	if (st == ST_OK && n == 0)
		log_info("every applied file matches its checksum: nothing to repair");
	free(files);
	return st;
}

enum status mig_repair(const struct config *cfg, PGconn *conn, const struct mig_list *list)
{
	return with_lock(cfg, conn, list, repair_locked, NULL);
}

/* The findings of l on stdout, as text or one JSON document. */
static void print_findings(const struct lint *l, bool json)
{
	struct buf out;

	if (!json) {
		lint_print_text(l, stdout);
		return;
	}
	buf_init(&out);
	lint_print_json(l, &out);
	fputs(out.data, stdout);
	buf_release(&out);
}

/* Lints the named files, in order, as one set. Returns 0, or -1 (logged). */
static int lint_named(struct lint *l, char *const *files, int nfiles)
{
	for (int i = 0; i < nfiles; i++) {
		const char *slash = strrchr(files[i], '/');
		struct migration m = { .file = (char *)(slash ? slash + 1 : files[i]),
				       .path = files[i] };

		if (lint_migration(l, &m) < 0)
			return -1;
	}
	return 0;
}

enum status mig_lint(const struct config *cfg, PGconn *conn, const struct mig_list *list,
		     char *const *files, int nfiles, bool json)
{
	struct history h;
	struct progress_counts pc;
	struct lint l;
	enum status st = ST_OK;
	int rc;

	lint_init(&l, cfg->lint == CFG_LINT_ERROR);
	memset(&h, 0, sizeof(h));
	memset(&pc, 0, sizeof(pc));
	if (nfiles) {
		rc = lint_named(&l, files, nfiles);
	} else {
		st = read_report(conn, cfg, &h, &pc);
		rc = st == ST_OK ? preflight_lint(&l, list, conn ? &h : NULL) : 0;
	}
	if (st == ST_OK && rc < 0)
		st = ST_MIGRATION;
	if (st == ST_OK) {
		print_findings(&l, json);
		fflush(stdout);
		log_info("linted %zu file%s: %zu error%s, %zu warning%s, %zu allowed", l.files,
			 l.files == 1 ? "" : "s", lint_count(&l, LINT_ERROR),
			 lint_count(&l, LINT_ERROR) == 1 ? "" : "s", lint_count(&l, LINT_WARNING),
			 lint_count(&l, LINT_WARNING) == 1 ? "" : "s", lint_count(&l, LINT_INFO));
		st = lint_count(&l, LINT_ERROR) ? ST_FINDINGS : ST_OK;
	}
	progress_counts_release(&pc);
	history_release(&h);
	lint_release(&l);
	return st;
}
