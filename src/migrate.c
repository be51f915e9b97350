#include "migrate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "db.h"
#include "log.h"
#include "sig.h"
#include "wait.h"

struct applied {
	int64_t version;
	char *name;
	char *checksum;
	char *applied_at;
	char *duration_ms;
};

/* The history table as read: sorted by version. */
struct history {
	struct applied *rows;
	size_t n;
	bool table_missing;
	struct mig_tables t;
	PGconn *lock_conn; /* holds the migration lock with migrate.lock = session */
};

static void history_release(struct history *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->rows[i].name);
		free(h->rows[i].checksum);
		free(h->rows[i].applied_at);
		free(h->rows[i].duration_ms);
	}
	free(h->rows);
	h->rows = NULL;
	h->n = 0;
}

static enum status history_read(PGconn *conn, struct history *h)
{
	struct db_error err;
	char *sql = xasprintf("SELECT version, name, checksum, applied_at, duration_ms FROM %s "
			      "ORDER BY version", h->t.history);
	PGresult *res = db_query(conn, sql, 0, NULL, &err);
	enum status st = ST_OK;

	history_release(h);
	free(sql);
	h->table_missing = false;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
		h->n = (size_t)PQntuples(res);
		h->rows = xcalloc(h->n, sizeof(*h->rows));
		for (size_t i = 0; i < h->n; i++) {
			struct applied *a = &h->rows[i];

			a->version = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
			a->name = xstrdup(PQgetvalue(res, (int)i, 1));
			a->checksum = xstrdup(PQgetvalue(res, (int)i, 2));
			a->applied_at = xstrdup(PQgetvalue(res, (int)i, 3));
			a->duration_ms = xstrdup(PQgetvalue(res, (int)i, 4));
		}
	} else if (db_is(&err, SQLSTATE_UNDEFINED_TABLE) || db_is(&err, SQLSTATE_UNDEFINED_SCHEMA)) {
		h->table_missing = true;
	} else {
		st = db_report(&err, "read the migration history");
	}
	PQclear(res);
	return st;
}

static const struct applied *history_find(const struct history *h, int64_t version)
{
	size_t lo = 0, hi = h->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (h->rows[mid].version == version)
			return &h->rows[mid];
		if (h->rows[mid].version < version)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool in_list(const struct mig_list *list, int64_t version)
{
	for (size_t i = 0; i < list->n; i++)
		if (list->items[i].version == version)
			return true;
	return false;
}

/* Reads and hashes one file. Returns 0, or -1 after logging. */
static int file_checksum(const struct migration *m, char out[65])
{
	struct buf sql;
	int rc;

	buf_init(&sql);
	rc = mig_read(m, &sql);
	if (rc == 0)
		mig_checksum(sql.data, sql.len, out);
	buf_release(&sql);
	return rc;
}

/*
 * Compares the files with the history: an applied file whose checksum changed stops
 * everything. Counts what is pending; warns about applied versions without a file.
 */
static enum status history_check(const struct config *cfg, const struct history *h,
				 const struct mig_list *list, size_t *pending)
{
	const struct applied *newest = h->n ? &h->rows[h->n - 1] : NULL;

	*pending = 0;
	for (size_t i = 0; i < list->n; i++) {
		const struct migration *m = &list->items[i];
		const struct applied *a = history_find(h, m->version);
		char sum[65];

		if (!a && newest && m->version < newest->version && !cfg->out_of_order) {
			const struct log_field fields[] = {
				{ "hint", "give it a version above the newest, or set migrate.out_of_order "
					  "= allow to apply it anyway" },
				{ NULL, NULL },
			};

			log_event(LOG_ERROR, fields, "migration \"%s\" is older than the newest applied "
				  "one, \"%s\" (version %" PRId64 ")", m->file, newest->name,
				  newest->version);
			return ST_MIGRATION;
		}
		if (!a) {
			(*pending)++;
			continue;
		}
		if (file_checksum(m, sum) < 0)
			return ST_MIGRATION;
		if (strcmp(sum, a->checksum) != 0) {
			char *hint = xasprintf("restore the file as applied (\"%s\"), or put the change in "
					       "a new migration (applied checksum %s, file %s)", a->name,
					       a->checksum, sum);
			const struct log_field fields[] = { { "hint", hint }, { "file", m->path },
							    { NULL, NULL } };

			log_event(LOG_ERROR, fields, "checksum of applied migration \"%s\" has changed",
				  m->file);
			free(hint);
			return ST_MIGRATION;
		}
	}
	for (size_t i = 0; i < h->n; i++)
		/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): rows holds n entries */
		if (!in_list(list, h->rows[i].version))
			log_warn("applied migration %" PRId64 " (\"%s\") has no file in the directory",
				 h->rows[i].version, h->rows[i].name);
	return ST_OK;
}

/*
 * Holds the migration lock for a whole run (migrate.lock = session). It is a
 * transaction-level lock in a transaction left open on a connection of its own: a pooler
 * in transaction mode cannot give that server connection to anyone else while the
 * transaction is open, and closing the connection releases the lock, so the lock can
 * neither be shared by two runners nor left behind. Between polls, and while held, the
 * transaction holds no snapshot, so CREATE INDEX CONCURRENTLY elsewhere does not wait
 * for it.
 */
static enum status lock_hold(const struct config *cfg, struct history *h, bool *no_slot)
{
	struct db_error err;
	enum status st;

	/*
	 * No slot for a second connection (53300) is not retried: every runner holds its
	 * first connection while it waits, so a full server would stay full. The caller
	 * takes the lock in each migration's transaction instead.
	 */
	h->lock_conn = db_connect(cfg, NULL, cfg->connect_timeout_ms, &err);
	*no_slot = !h->lock_conn && db_is(&err, SQLSTATE_TOO_MANY_CONNECTIONS);
	if (!h->lock_conn && !*no_slot && !err.interrupted)
		h->lock_conn = db_connect_retry(cfg, NULL, clock_ms() + cfg->wait_timeout_ms, &err);
	if (*no_slot)
		return ST_OK;
	if (!h->lock_conn) {
		log_error("could not open the connection that holds the migration lock: %s",
			  err.message);
		return err.interrupted ? ST_SIGNAL : ST_UNAVAILABLE;
	}
	st = apply_lock(h->lock_conn, cfg, h->t.lock_key, true);
	if (st != ST_OK) {
		PQfinish(h->lock_conn);
		h->lock_conn = NULL;
	}
	return st;
}

/*
 * Ends the lock's transaction, which releases the lock, then wakes the waiters, then
 * closes the connection (closing alone would release it too, a little later).
 */
static void lock_drop(struct history *h)
{
	struct db_error err;

	if (h->lock_conn && PQstatus(h->lock_conn) == CONNECTION_OK &&
	    db_exec(h->lock_conn, "ROLLBACK; NOTIFY " APPLY_LOCK_CHANNEL, 0, NULL, &err) < 0)
		log_debug("could not wake the runners waiting for the lock: %s", err.message);
	PQfinish(h->lock_conn);
	h->lock_conn = NULL;
}

/*
 * Creates the history table, and its schema when missing, under the lock so replicas do
 * not race. The schema is looked up first: CREATE SCHEMA IF NOT EXISTS still needs the
 * CREATE privilege on the database, which production roles often lack.
 */
static enum status history_create(PGconn *conn, const struct config *cfg,
				  const struct history *h)
{
	const char *params[] = { cfg->table_schema };
	struct db_error err;
	enum status st = ST_OK;
	PGresult *res = db_query(conn, "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1",
				 1, params, &err);
	bool have_schema = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	char *sql;

	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return db_report(&err, "look up the migration history schema");
	}
	PQclear(res);
	sql = xasprintf("%s%s%sCREATE TABLE IF NOT EXISTS %s ("
			"version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, "
			"applied_at timestamptz NOT NULL DEFAULT now(), "
			"duration_ms bigint NOT NULL, applied_by text NOT NULL)",
			have_schema ? "" : "CREATE SCHEMA IF NOT EXISTS ", have_schema ? "" : h->t.schema,
			have_schema ? "" : "; ", h->t.history);
	if (db_exec(conn, sql, 0, NULL, &err) < 0)
		st = db_report(&err, "create the migration history table");
	else
		log_info("created migration history table %s", h->t.history);
	free(sql);
	return st;
}

static void history_init(PGconn *conn, const struct config *cfg, struct history *h)
{
	char *table = db_quote_ident(conn, cfg->table_name);
	char *progress_name = xasprintf("%s_progress", cfg->table_name);
	char *progress = db_quote_ident(conn, progress_name);

	memset(h, 0, sizeof(*h));
	h->t.schema = db_quote_ident(conn, cfg->table_schema);
	h->t.history = xasprintf("%s.%s", h->t.schema, table);
	h->t.progress = xasprintf("%s.%s", h->t.schema, progress);
	snprintf(h->t.lock_key, sizeof(h->t.lock_key), "%" PRId64, sha256_int64(h->t.history));
	free(table);
	free(progress_name);
	free(progress);
}

static void history_free(struct history *h)
{
	PQfinish(h->lock_conn);
	history_release(h);
	free(h->t.history);
	free(h->t.progress);
	free(h->t.schema);
}

/* With migrate.lock = transaction: the table is created under the lock, in a transaction. */
static enum status history_create_locked(PGconn *conn, const struct config *cfg,
					 const struct history *h)
{
	struct db_error err;
	enum status st = ST_OK;

	if (db_exec(conn, "BEGIN", 0, NULL, &err) < 0)
		return db_report(&err, "begin a transaction");
	st = apply_lock(conn, cfg, h->t.lock_key, false);
	if (st == ST_OK)
		st = history_create(conn, cfg, h);
	if (st == ST_OK && db_exec(conn, "COMMIT", 0, NULL, &err) < 0)
		st = db_report(&err, "commit the migration history table");
	if (st != ST_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
		db_exec(conn, "ROLLBACK", 0, NULL, &err);
	return st;
}

/* Under the lock: the history again (another runner may have applied some), then the rest. */
/* migrate.transaction = all: the pending files in one transaction, none without one. */
static enum status apply_together(PGconn *conn, const struct config *cfg, struct history *h,
				  const struct mig_list *list, size_t *applied)
{
	const struct migration **files = xcalloc(list->n + 1, sizeof(*files));
	enum status st = ST_OK;
	size_t n = 0;

	for (size_t i = 0; st == ST_OK && i < list->n; i++) {
		struct apply_info info;

		if (history_find(h, list->items[i].version))
			continue;
		if (apply_describe(&list->items[i], &info) < 0) {
			st = ST_MIGRATION;
		} else if (info.no_transaction) {
			log_error("\"%s\" runs without a transaction, so it cannot join the one "
				  "transaction of migrate.transaction = all: nothing was applied",
				  list->items[i].path);
			st = ST_MIGRATION;
		}
		files[n++] = &list->items[i];
	}
	if (st == ST_OK)
		st = apply_all(conn, cfg, &h->t, files, n, applied);
	free(files);
	return st;
}

static enum status apply_locked(PGconn *conn, const struct config *cfg, struct history *h,
				const struct mig_list *list, size_t *applied)
{
	size_t pending, seen = 0;
	enum status st = history_read(conn, h);

	*applied = 0;
	if (st == ST_OK && h->table_missing)
		st = cfg->lock_per_transaction ? history_create_locked(conn, cfg, h)
					       : history_create(conn, cfg, h);
	if (st == ST_OK)
		st = history_check(cfg, h, list, &pending);
	if (st == ST_OK && cfg->one_transaction)
		return apply_together(conn, cfg, h, list, applied);
	for (size_t i = 0; st == ST_OK && i < list->n; i++) {
		const struct migration *m = &list->items[i];
		char label[48];
		bool skipped;

		if (history_find(h, m->version))
			continue;
		snprintf(label, sizeof(label), "[%zu/%zu]", ++seen, pending);
		st = apply_file(conn, cfg, &h->t, m, label, &skipped);
		*applied += st == ST_OK && !skipped;
	}
	return st;
}

enum status mig_apply(const struct config *cfg, PGconn *conn, const struct mig_list *list)
{
	int64_t start = clock_ms();
	char elapsed[32];
	bool no_slot = false;
	struct history h;
	size_t pending = 0, applied = 0;
	enum status st;

	history_init(conn, cfg, &h);
	st = history_read(conn, &h);
	if (st == ST_OK)
		st = history_check(cfg, &h, list, &pending);
	if (st != ST_OK || pending == 0) {
		if (st == ST_OK)
			log_info("no pending migrations (%zu applied)", h.n);
		goto out;
	}
	/* Writes are about to start: a standby fails here, unless wait.for_primary waited. */
	if ((st = wait_primary(cfg, conn, 0, false)) != ST_OK)
		goto out;
	if (!cfg->lock_per_transaction && (st = lock_hold(cfg, &h, &no_slot)) != ST_OK)
		goto out;
	if (no_slot) {
		/* A shallow copy, read-only: the same settings, with per-transaction locks. */
		struct config degraded = *cfg;

		log_warn("no connection slot left for the migration lock (too many connections): "
			 "taking it in each migration's transaction instead");
		degraded.lock_per_transaction = true;
		st = apply_locked(conn, &degraded, &h, list, &applied);
	} else {
		st = apply_locked(conn, cfg, &h, list, &applied);
	}
	lock_drop(&h);
	format_seconds(clock_ms() - start, elapsed, sizeof(elapsed));
	if (st == ST_OK && applied == 0)
		log_info("no pending migrations: another runner applied them");
	else if (st == ST_OK)
		log_info("applied %zu migration%s in %s", applied, applied == 1 ? "" : "s", elapsed);
out:
	history_free(&h);
	return st;
}

/* Statements done of partly applied no-transaction files: version -> count, or 0. */
static long partial_count(PGresult *progress, int64_t version)
{
	for (int i = 0; progress && i < PQntuples(progress); i++)
		if (strtoll(PQgetvalue(progress, i, 0), NULL, 10) == version)
			return strtol(PQgetvalue(progress, i, 1), NULL, 10);
	return 0;
}

static PGresult *progress_counts(PGconn *conn, const struct history *h)
{
	char *sql = xasprintf("SELECT version, count(*) FROM %s GROUP BY version", h->t.progress);
	struct db_error err;
	PGresult *res = db_query(conn, sql, 0, NULL, &err);

	free(sql);
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	PQclear(res); /* no progress table yet: nothing is partly applied */
	return NULL;
}

/* One line of the report: a file, an applied row, or both. */
struct report_row {
	int64_t version;
	const char *name;
	const char *state; /* applied, changed, pending, out-of-order, partial, missing */
	const struct applied *a;
	long done;
};

static void print_text(const struct report_row *r)
{
	if (r->a)
		printf("%s %s %s %sms%s\n", r->state, r->name, r->a->applied_at, r->a->duration_ms,
		       strcmp(r->state, "missing") == 0 ? " (no file)" : "");
	else if (r->done)
		printf("%s %s (%ld statements done)\n", r->state, r->name, r->done);
	else
		printf("%s %s\n", r->state, r->name);
}

static void print_json(struct buf *out, const struct report_row *r, bool first)
{
	buf_printf(out, "%s{\"version\":%" PRId64 ",\"name\":", first ? "" : ",", r->version);
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
static int file_row(const struct history *h, const struct migration *m, PGresult *progress,
		    struct report_row *r)
{
	const struct applied *newest = h->n ? &h->rows[h->n - 1] : NULL;

	*r = (struct report_row){ m->version, m->file, "pending", history_find(h, m->version), 0 };
	if (r->a) {
		char sum[65];

		if (file_checksum(m, sum) < 0)
			return -1;
		r->state = strcmp(sum, r->a->checksum) ? "changed" : "applied";
	} else if ((r->done = partial_count(progress, m->version))) {
		r->state = "partial";
	} else if (newest && m->version < newest->version) {
		r->state = "out-of-order";
	}
	return 0;
}

enum status mig_status(const struct config *cfg, PGconn *conn, const struct mig_list *list,
		       bool json, bool check)
{
	struct history h = { 0 };
	size_t count[2] = { 0, 0 }, fi = 0, hi = 0; /* applied, not */
	PGresult *progress = NULL;
	struct buf out;
	enum status st = ST_OK;

	buf_init(&out);
	if (conn) {
		history_init(conn, cfg, &h);
		st = history_read(conn, &h);
		progress = st == ST_OK && !h.table_missing ? progress_counts(conn, &h) : NULL;
	}
	buf_printf(&out, "{\"database_exists\":%s,\"migrations\":[", conn ? "true" : "false");
	while (st == ST_OK && (fi < list->n || hi < h.n)) {
		const struct migration *m = fi < list->n ? &list->items[fi] : NULL;
		const struct applied *a = hi < h.n ? &h.rows[hi] : NULL;
		struct report_row r;

		if (m && (!a || m->version <= a->version)) {
			if (file_row(&h, m, progress, &r) < 0)
				st = ST_MIGRATION;
			fi++;
			hi += a && a->version == m->version;
		} else {
			/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference): no file left, so a row is */
			r = (struct report_row){ a->version, a->name, "missing", a, 0 };
			hi++;
		}
		if (st != ST_OK)
			break;
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
	PQclear(progress);
	history_free(&h);
	buf_release(&out);
	return st;
}

enum status mig_plan(const struct config *cfg, PGconn *conn, const struct mig_list *list)
{
	struct history h = { 0 };
	PGresult *progress = NULL;
	size_t pending = 0, shown = 0;
	enum status st = ST_OK;

	if (conn) {
		history_init(conn, cfg, &h);
		st = history_read(conn, &h);
		progress = st == ST_OK && !h.table_missing ? progress_counts(conn, &h) : NULL;
	}
	if (st == ST_OK)
		st = history_check(cfg, &h, list, &pending);
	for (size_t i = 0; st == ST_OK && i < list->n; i++) {
		const struct migration *m = &list->items[i];
		struct apply_info info;
		long done = partial_count(progress, m->version);

		if (history_find(&h, m->version))
			continue;
		if (apply_describe(m, &info) < 0) {
			st = ST_MIGRATION;
			break;
		}
		printf("apply %s (%s, %zu statement%s", m->file,
		       info.no_transaction ? "no transaction"
		       : info.wrapped      ? "one transaction, the file's own BEGIN"
					   : "one transaction",
		       info.statements, info.statements == 1 ? "" : "s");
		if (done)
			printf(", resumes at statement %ld", done + 1);
		printf(")\n");
		shown++;
	}
	fflush(stdout);
	if (st == ST_OK)
		log_info("dry run: %zu migration%s would be applied; nothing was changed", shown,
			 shown == 1 ? "" : "s");
	PQclear(progress);
	history_free(&h);
	return st;
}

/* The lock for the commands that change the history; released by lock_drop. */
static enum status lock(PGconn *conn, const struct config *cfg, struct history *h)
{
	enum status st = wait_primary(cfg, conn, 0, false);
	bool no_slot = false;

	if (st == ST_OK && !cfg->lock_per_transaction)
		st = lock_hold(cfg, h, &no_slot);
	if (st == ST_OK && no_slot) {
		log_error("no connection slot left for the migration lock (too many connections)");
		st = ST_UNAVAILABLE;
	}
	if (st == ST_OK)
		st = history_read(conn, h);
	if (st != ST_OK)
		lock_drop(h);
	return st;
}

static const struct migration *list_find(const struct mig_list *list, int64_t version)
{
	for (size_t i = 0; i < list->n; i++)
		if (list->items[i].version == version)
			return &list->items[i];
	return NULL;
}

/* A down part ready to run: read and checked before anything is rolled back. */
struct down {
	struct migration view; /* where the down part was read, for messages */
	struct buf sql;
};

static enum status prepare_down(const struct mig_list *list, const struct applied *a,
				struct down *d)
{
	const struct migration *m = list_find(list, a->version);
	char sum[65];
	int rc;

	buf_init(&d->sql);
	d->view = (struct migration){ a->version, a->name, NULL, 0 };
	if (!m) {
		log_error("applied migration \"%s\" has no file: nothing was rolled back", a->name);
		return ST_MIGRATION;
	}
	if (file_checksum(m, sum) < 0)
		return ST_MIGRATION;
	if (strcmp(sum, a->checksum) != 0) {
		log_error("\"%s\" has changed since it was applied: its down part may not undo what "
			  "ran; nothing was rolled back", m->path);
		return ST_MIGRATION;
	}
	d->view.file = m->file;
	rc = mig_read_down(m, &d->sql, &d->view.path, &d->view.line_offset);
	if (rc == 0)
		log_error("\"%s\" has no down part (a \"-- pgboot:down\" section or a .down.sql file): "
			  "nothing was rolled back", m->path);
	return rc == 1 ? ST_OK : ST_MIGRATION;
}

/* The applied migrations to undo, newest first: the last steps, or all above to. */
static size_t rollback_targets(const struct history *h, int64_t steps, int64_t to)
{
	size_t n = 0;

	while (n < h->n && (to >= 0 ? h->rows[h->n - 1 - n].version > to : (int64_t)n < steps))
		n++;
	return n;
}

enum status mig_rollback(const struct config *cfg, PGconn *conn, const struct mig_list *list,
			 int64_t steps, int64_t to)
{
	struct history h;
	struct down *downs = NULL;
	size_t n = 0, ready = 0;
	enum status st;

	history_init(conn, cfg, &h);
	st = lock(conn, cfg, &h);
	if (st != ST_OK)
		goto out;
	if (to > 0 && !history_find(&h, to)) {
		log_error("version %" PRId64 " is not applied: nothing was rolled back", to);
		st = ST_USAGE;
		goto unlock;
	}
	n = rollback_targets(&h, steps, to);
	downs = xcalloc(n ? n : 1, sizeof(*downs));
	for (; st == ST_OK && ready < n; ready++)
		st = prepare_down(list, &h.rows[h.n - 1 - ready], &downs[ready]);
	for (size_t i = 0; st == ST_OK && i < n; i++) {
		char label[48];

		snprintf(label, sizeof(label), "[%zu/%zu]", i + 1, n);
		st = apply_down(conn, cfg, &h.t, &downs[i].view, &downs[i].sql, label);
	}
	if (st == ST_OK && n == 0)
		log_info("nothing to roll back");
	else if (st == ST_OK)
		log_info("rolled back %zu migration%s", n, n == 1 ? "" : "s");
unlock:
	lock_drop(&h);
out:
	for (size_t i = 0; i < ready; i++) {
		free(downs[i].view.path);
		buf_release(&downs[i].sql);
	}
	free(downs);
	history_free(&h);
	return st;
}

/* Records m as applied without running it (baseline), in the caller's transaction. */
static enum status record_baseline(PGconn *conn, const struct history *h,
				   const struct migration *m)
{
	char version[24], sum[65];
	const char *params[] = { version, m->file, sum };
	char *sql = xasprintf("INSERT INTO %s (version, name, checksum, duration_ms, applied_by) "
			      "VALUES ($1, $2, $3, 0, session_user || ' (baseline)')", h->t.history);
	struct db_error err;
	int rc;

	snprintf(version, sizeof(version), "%" PRId64, m->version);
	if (file_checksum(m, sum) < 0) {
		free(sql);
		return ST_MIGRATION;
	}
	rc = db_exec(conn, sql, 3, params, &err);
	free(sql);
	if (rc < 0)
		return db_report(&err, "record the baseline");
	log_info("recorded %s as applied (baseline: not run)", m->file);
	return ST_OK;
}

/* Runs step for each of the given files in one transaction. */
static enum status in_transaction(PGconn *conn, const struct history *h,
				  const struct migration **files, size_t n,
				  enum status (*step)(PGconn *, const struct history *,
						      const struct migration *))
{
	struct db_error err;
	enum status st = ST_OK;

	if (db_exec(conn, "BEGIN", 0, NULL, &err) < 0)
		return db_report(&err, "begin a transaction");
	for (size_t i = 0; st == ST_OK && i < n; i++)
		st = step(conn, h, files[i]);
	if (st == ST_OK && db_exec(conn, "COMMIT", 0, NULL, &err) < 0)
		st = db_report(&err, "commit");
	if (st != ST_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
		db_exec(conn, "ROLLBACK", 0, NULL, &err);
	return st;
}

enum status mig_baseline(const struct config *cfg, PGconn *conn, const struct mig_list *list,
			 int64_t version)
{
	const struct migration **files = xcalloc(list->n + 1, sizeof(*files));
	struct history h;
	size_t n = 0;
	enum status st;

	history_init(conn, cfg, &h);
	st = lock(conn, cfg, &h);
	if (st != ST_OK)
		goto out;
	if (h.table_missing)
		st = cfg->lock_per_transaction ? history_create_locked(conn, cfg, &h)
					       : history_create(conn, cfg, &h);
	for (size_t i = 0; st == ST_OK && i < list->n && list->items[i].version <= version; i++)
		if (!history_find(&h, list->items[i].version))
			files[n++] = &list->items[i];
	if (st == ST_OK && (!list->n || list->items[0].version > version)) {
		log_error("no migration has a version up to %" PRId64, version);
		st = ST_USAGE;
	} else if (st == ST_OK) {
		st = in_transaction(conn, &h, files, n, record_baseline);
	}
	if (st == ST_OK)
		log_info("baseline: %zu migration%s recorded as applied", n, n == 1 ? "" : "s");
	lock_drop(&h);
out:
	free(files);
	history_free(&h);
	return st;
}

/* Re-records the checksum of an applied file that was edited (repair). */
static enum status record_checksum(PGconn *conn, const struct history *h,
				   const struct migration *m)
{
	const struct applied *a = history_find(h, m->version);
	char version[24], sum[65];
	const char *params[] = { version, sum };
	char *sql = xasprintf("UPDATE %s SET checksum = $2 WHERE version = $1", h->t.history);
	struct db_error err;
	int rc;

	snprintf(version, sizeof(version), "%" PRId64, m->version);
	if (file_checksum(m, sum) < 0) {
		free(sql);
		return ST_MIGRATION;
	}
	rc = db_exec(conn, sql, 2, params, &err);
	free(sql);
	if (rc < 0)
		return db_report(&err, "re-record the checksum");
	log_warn("re-recorded the checksum of %s, edited after it was applied: %s -> %s (the "
		 "edit itself was not run)", m->file, a->checksum, sum);
	return ST_OK;
}

enum status mig_repair(const struct config *cfg, PGconn *conn, const struct mig_list *list)
{
	const struct migration **files = xcalloc(list->n + 1, sizeof(*files));
	struct history h;
	size_t n = 0;
	enum status st;

	history_init(conn, cfg, &h);
	st = lock(conn, cfg, &h);
	if (st != ST_OK)
		goto out;
	for (size_t i = 0; st == ST_OK && i < list->n; i++) {
		const struct applied *a = history_find(&h, list->items[i].version);
		char sum[65];

		if (!a)
			continue;
		if (file_checksum(&list->items[i], sum) < 0)
			st = ST_MIGRATION;
		else if (strcmp(sum, a->checksum) != 0)
			files[n++] = &list->items[i];
	}
	if (st == ST_OK && n)
		st = in_transaction(conn, &h, files, n, record_checksum);
	if (st == ST_OK && n == 0)
		log_info("every applied file matches its checksum: nothing to repair");
	lock_drop(&h);
out:
	free(files);
	history_free(&h);
	return st;
}
