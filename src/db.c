#include "db.h"

#include <ctype.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sig.h"

/* How long a cancelled query may take to end before pgboot stops waiting for it. */
#define CANCEL_GRACE_MS 5000

#define MAX_PARAMS (CONN_MAX_PARAMS + 4)

struct params {
	const char *keys[MAX_PARAMS + 1];
	const char *vals[MAX_PARAMS + 1];
	int n;
};

static void params_add(struct params *p, const char *key, const char *val)
{
	if (p->n < MAX_PARAMS) {
		p->keys[p->n] = key;
		p->vals[p->n] = val;
		p->n++;
	}
	p->keys[p->n] = NULL;
	p->vals[p->n] = NULL;
}

/*
 * The keywords in precedence order: libpq lets a later keyword override an earlier one and
 * expands only the first dbname, which is database.url when set (config.c resolved the rest).
 */
static void build_params(const struct conn_params *conn, const char *dbname, struct params *p)
{
	p->n = 0;
	if (!getenv("PGCLIENTENCODING"))
		params_add(p, "client_encoding", "UTF8");
	for (int i = 0; i < conn->n; i++)
		params_add(p, conn->params[i].keyword, conn->params[i].value);
	if (dbname)
		params_add(p, "dbname", dbname);
	if (conn->localhost_addrs)
		params_add(p, "hostaddr", conn->localhost_addrs);
	params_add(p, "fallback_application_name", "pgboot");
}

static bool is_sqlstate(const char *s)
{
	for (int i = 0; i < 5; i++)
		if (!isdigit((unsigned char)s[i]) && !isupper((unsigned char)s[i]))
			return false;
	return s[5] == ':' && s[6] == ' ';
}

/*
 * Connection failures have no PGresult: with verbose errors libpq writes them as
 * "FATAL:  3D000: database ... does not exist" followed by a LOCATION line. Takes the
 * SQLSTATE out and keeps the rest as the message.
 */
static void parse_conn_error(const char *msg, struct db_error *err)
{
	size_t out = 0;

	err->sqlstate[0] = '\0';
	for (const char *p = msg; *p && out + 1 < sizeof(err->message);) {
		if (p[0] == ':' && p[1] == ' ' && p[2] == ' ' && is_sqlstate(p + 3)) {
			if (!err->sqlstate[0]) {
				memcpy(err->sqlstate, p + 3, 5);
				err->sqlstate[5] = '\0';
			}
			err->message[out++] = ':';
			err->message[out++] = ' ';
			p += 3 + 7;
			continue;
		}
		if ((p == msg || p[-1] == '\n') && strncmp(p, "LOCATION:", 9) == 0) {
			while (*p && *p != '\n')
				p++;
			if (*p)
				p++;
			continue;
		}
		err->message[out++] = *p++;
	}
	while (out && (err->message[out - 1] == '\n' || err->message[out - 1] == ' '))
		out--;
	err->message[out] = '\0';
}

static void set_message(struct db_error *err, const char *msg)
{
	snprintf(err->message, sizeof(err->message), "%s", msg && *msg ? msg : "unknown error");
	for (size_t n = strlen(err->message); n && err->message[n - 1] == '\n'; n--)
		err->message[n - 1] = '\0';
}

/* Routes the server's NOTICE and WARNING messages into pgboot's log. */
static void receive_notice(void *arg, const PGresult *res)
{
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const struct log_field fields[] = {
		{ "detail", PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) },
		{ "hint", PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) },
		{ "sqlstate", PQresultErrorField(res, PG_DIAG_SQLSTATE) },
		{ NULL, NULL },
	};
	bool warning = severity && strcmp(severity, "WARNING") == 0;

	(void)arg;
	log_event(warning ? LOG_WARN : LOG_INFO, fields, "server %s: %s",
		  warning ? "warning" : "notice", msg ? msg : "");
}

static void note_names(PGconn *conn, struct db_error *err)
{
	snprintf(err->dbname, sizeof(err->dbname), "%s", PQdb(conn) ? PQdb(conn) : "");
	snprintf(err->user, sizeof(err->user), "%s", PQuser(conn) ? PQuser(conn) : "");
}

/* Drives PQconnectPoll until done, the deadline or a signal. Returns 0 when connected. */
static int poll_connection(PGconn *conn, int64_t deadline, struct db_idle *idle,
			   struct db_error *err)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	for (;;) {
		int64_t left = deadline < 0 ? -1 : deadline - clock_ms();
		short events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		int rc;

		if (st == PGRES_POLLING_OK)
			return 0;
		if (st == PGRES_POLLING_FAILED) {
			parse_conn_error(PQerrorMessage(conn), err);
			return -1;
		}
		if (deadline >= 0 && left <= 0) {
			set_message(err, "timeout expired while connecting");
			err->timed_out = true;
			return -1;
		}
		if (sig_caught()) {
			err->interrupted = true;
			set_message(err, "interrupted by a signal");
			return -1;
		}
		/* While the server has nothing for us: the caller's work, a step at a time. */
		while (idle && idle->step && !sig_caught() && sig_wait(PQsocket(conn), events, 0) == 0)
			if (!idle->step(idle->arg))
				idle->step = NULL;
		rc = sig_wait(PQsocket(conn), events, left);
		if (rc < 0) {
			set_message(err, "could not wait for the server");
			return -1;
		}
		if (rc > 0)
			st = PQconnectPoll(conn);
	}
}

/*
 * libpq could not use one of the client's own TLS files (sslcert, sslkey, sslrootcert): a
 * key that sslpassword does not decrypt, a key readable by others, a file it cannot read.
 * The same attempt would fail the same way: not worth a retry.
 */
static bool client_file_failed(const char *message)
{
	static const char *const says[] = {
		"could not load private key file", "could not read certificate file",
		"could not open certificate file", "could not read root certificate file",
		"certificate present, but not private key file", "has group or world access",
	};

	for (size_t i = 0; i < sizeof(says) / sizeof(says[0]); i++)
		if (strstr(message, says[i]))
			return true;
	return false;
}

static PGconn *connect_as(const struct conn_params *as, const char *dbname, int64_t timeout_ms,
			  struct db_idle *idle, struct db_error *err)
{
	int64_t deadline = timeout_ms < 0 ? -1 : clock_ms() + timeout_ms;
	struct params p;
	PGconn *conn;

	memset(err, 0, sizeof(*err));
	build_params(as, dbname, &p);
	/* Only database.url is a connection string: a dbname is a name, whatever it holds. */
	conn = PQconnectStartParams(p.keys, p.vals, as->has_url);
	if (!conn) {
		set_message(err, "out of memory");
		return NULL;
	}
	note_names(conn, err);
	if (strlen(err->dbname) > 63) {
		snprintf(err->message, sizeof(err->message),
			 "database name \"%s\" is longer than 63 bytes, which PostgreSQL would "
			 "truncate", err->dbname);
		err->no_attempt = true;
		goto fail;
	}
	if (PQstatus(conn) == CONNECTION_BAD) {
		set_message(err, PQerrorMessage(conn));
		err->immediate = true;
		goto fail;
	}
	PQsetErrorVerbosity(conn, PQERRORS_VERBOSE);
	if (poll_connection(conn, deadline, idle, err) < 0) {
		err->no_attempt = err->no_attempt || client_file_failed(err->message);
		goto fail;
	}
	PQsetErrorVerbosity(conn, PQERRORS_DEFAULT);
	PQsetNoticeReceiver(conn, receive_notice, NULL);
	return conn;
fail:
	PQfinish(conn);
	return NULL;
}

PGconn *db_connect(const struct config *cfg, const char *dbname, int64_t timeout_ms,
		   struct db_error *err)
{
	return connect_as(&cfg->conn, dbname, timeout_ms, NULL, err);
}

PGconn *db_connect_idle(const struct config *cfg, const char *dbname, int64_t timeout_ms,
			struct db_idle *idle, struct db_error *err)
{
	return connect_as(&cfg->conn, dbname, timeout_ms, idle, err);
}

bool db_params_invalid(const struct config *cfg, int64_t timeout_ms)
{
	char seconds[32];
	struct params p;

	build_params(&cfg->conn, NULL, &p);
	/* PQping is synchronous: bound it with libpq's own timeout (whole seconds, at least 2). */
	snprintf(seconds, sizeof(seconds), "%lld",
		 (long long)(timeout_ms < 2000 ? 2 : (timeout_ms + 999) / 1000));
	params_add(&p, "connect_timeout", seconds);
	return PQpingParams(p.keys, p.vals, cfg->conn.has_url) ==
	       PQPING_NO_ATTEMPT;
}

static void copy_field(char *out, size_t size, const PGresult *res, int field)
{
	const char *v = PQresultErrorField(res, field);

	snprintf(out, size, "%s", v ? v : "");
}

static void result_error(PGconn *conn, const PGresult *res, struct db_error *err)
{
	const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	int64_t position;

	copy_field(err->sqlstate, sizeof(err->sqlstate), res, PG_DIAG_SQLSTATE);
	copy_field(err->detail, sizeof(err->detail), res, PG_DIAG_MESSAGE_DETAIL);
	copy_field(err->hint, sizeof(err->hint), res, PG_DIAG_MESSAGE_HINT);
	copy_field(err->context, sizeof(err->context), res, PG_DIAG_CONTEXT);
	set_message(err, primary ? primary : PQresultErrorMessage(res));
	err->position = pos && parse_int64(pos, 1, INT_MAX, &position) == 0 ? (int)position : 0;
	err->connection_lost = PQstatus(conn) == CONNECTION_BAD;
}

/*
 * Cancels the running query once a signal has come (unless it came before the query was
 * sent: that is clean-up, such as ROLLBACK, which must run), then keeps waiting for its end for
 * a grace period: the server rolls the transaction back, and pgboot exits knowing it.
 */
static int wait_result(PGconn *conn, bool cancellable, struct db_error *err)
{
	int64_t give_up = -1;

	while (PQisBusy(conn)) {
		int rc;

		if (cancellable && sig_caught() && give_up < 0) {
			PGcancel *cancel = PQgetCancel(conn);
			char msg[256];

			err->interrupted = true;
			log_warn("cancelling the running query (signal %d)", sig_caught());
			if (cancel && !PQcancel(cancel, msg, sizeof(msg)))
				log_warn("could not cancel the query: %s", msg);
			PQfreeCancel(cancel);
			give_up = clock_ms() + CANCEL_GRACE_MS;
		}
		if (give_up >= 0 && clock_ms() >= give_up) {
			set_message(err, "the cancelled query did not end in time");
			return -1;
		}
		rc = sig_wait(PQsocket(conn), POLLIN, give_up < 0 ? -1 : give_up - clock_ms());
		if (rc < 0) {
			set_message(err, "could not wait for the server");
			return -1;
		}
		if (rc > 0 && !PQconsumeInput(conn)) {
			set_message(err, PQerrorMessage(conn));
			err->connection_lost = true;
			return -1;
		}
	}
	return 0;
}

/* COPY is not something a plain query can feed: end it so the server reports it. */
static void refuse_copy(PGconn *conn, PGresult *res)
{
	char *data;

	if (PQresultStatus(res) == PGRES_COPY_IN)
		PQputCopyEnd(conn, "COPY FROM STDIN is not supported in migrations");
	else if (PQresultStatus(res) == PGRES_COPY_OUT)
		while (PQgetCopyData(conn, &data, 0) > 0)
			PQfreemem(data);
}

/*
 * Reads the results of what was sent: the last one, or the first error's. With copy_in,
 * stops at a COPY FROM STDIN result and returns it so the caller can send the data.
 */
static PGresult *collect(PGconn *conn, bool cancellable, bool copy_in, struct db_error *err)
{
	PGresult *last = NULL, *res;
	bool failed = false;

	for (;;) {
		if (wait_result(conn, cancellable, err) < 0) {
			PQclear(last);
			return NULL;
		}
		res = PQgetResult(conn);
		if (!res)
			break;
		if (copy_in && !failed && PQresultStatus(res) == PGRES_COPY_IN) {
			PQclear(last);
			return res;
		}
		refuse_copy(conn, res);
		if (failed || PQresultStatus(res) == PGRES_COPY_IN ||
		    PQresultStatus(res) == PGRES_COPY_OUT) {
			PQclear(res);
			continue;
		}
		PQclear(last);
		last = res;
		failed = PQresultStatus(res) == PGRES_FATAL_ERROR;
	}
	if (!last) {
		set_message(err, PQerrorMessage(conn));
		err->connection_lost = PQstatus(conn) == CONNECTION_BAD;
		return NULL;
	}
	if (failed) {
		result_error(conn, last, err);
		err->interrupted = err->interrupted || sig_caught();
	}
	return last;
}

static bool send_failed(PGconn *conn, struct db_error *err)
{
	set_message(err, PQerrorMessage(conn));
	err->connection_lost = PQstatus(conn) == CONNECTION_BAD;
	return true;
}

PGresult *db_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
		   struct db_error *err)
{
	bool cancellable = !sig_caught();
	int sent;

	memset(err, 0, sizeof(*err));
	sent = params ? PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0)
		      : PQsendQuery(conn, sql);
	if (!sent && send_failed(conn, err))
		return NULL;
	return collect(conn, cancellable, false, err);
}

PGresult *db_copy_in(PGconn *conn, const char *sql, const char *data, size_t len,
		     struct db_error *err)
{
	bool cancellable = !sig_caught();
	PGresult *res;

	memset(err, 0, sizeof(*err));
	if (!PQsendQuery(conn, sql) && send_failed(conn, err))
		return NULL;
	res = collect(conn, cancellable, true, err);
	if (!res || PQresultStatus(res) != PGRES_COPY_IN)
		return res;
	PQclear(res);
	for (size_t off = 0; off < len;) {
		int n = len - off > 65536 ? 65536 : (int)(len - off);

		if (PQputCopyData(conn, data + off, n) != 1 && send_failed(conn, err))
			return NULL;
		off += (size_t)n;
	}
	if (PQputCopyEnd(conn, NULL) != 1 && send_failed(conn, err))
		return NULL;
	return collect(conn, cancellable, false, err);
}

int db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
	    struct db_error *err)
{
	PGresult *res = db_query(conn, sql, nparams, params, err);
	int ok = res && (PQresultStatus(res) == PGRES_COMMAND_OK ||
			 PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_EMPTY_QUERY);

	PQclear(res);
	return ok ? 0 : -1;
}

int db_wait(PGconn *conn, bool cancellable, struct db_error *err)
{
	return wait_result(conn, cancellable, err);
}

void db_result_error(PGconn *conn, const PGresult *res, struct db_error *err)
{
	result_error(conn, res, err);
	err->interrupted = err->interrupted || sig_caught();
}

char *db_quote_ident(PGconn *conn, const char *name)
{
	char *q = PQescapeIdentifier(conn, name, strlen(name));
	char *copy;

	if (!q) {
		log_error("could not quote identifier: %s", PQerrorMessage(conn));
		exit(70);
	}
	copy = xstrdup(q);
	PQfreemem(q);
	return copy;
}

void db_versions(char *out, size_t size)
{
	int v = PQlibVersion();

	snprintf(out, size, "libpq %d.%d, %s", v / 10000, v % 10000, OpenSSL_version(OPENSSL_VERSION));
}

enum status db_report(const struct db_error *err, const char *what)
{
	const struct log_field fields[] = {
		{ "detail", err->detail[0] ? err->detail : NULL },
		{ "hint", err->hint[0] ? err->hint : NULL },
		{ "sqlstate", err->sqlstate[0] ? err->sqlstate : NULL },
		{ NULL, NULL },
	};

	if (err->interrupted || sig_caught())
		return ST_SIGNAL;
	log_event(LOG_ERROR, fields, "could not %s: %s%s%s%s", what, err->message,
		  err->sqlstate[0] ? " (SQLSTATE " : "", err->sqlstate, err->sqlstate[0] ? ")" : "");
	return db_status(err, ST_INTERNAL);
}

/* The one SQLSTATE table: what each state pgboot knows means for a phase and a retry. */
static const struct sqlstate_row {
	const char *code;
	enum status status;
	bool transient; /* passes by itself: a connection is retried */
	const char *kind;
} sqlstates[] = {
	{ SQLSTATE_CANNOT_CONNECT_NOW, ST_UNAVAILABLE, true, "not accepting connections yet" },
	{ SQLSTATE_ADMIN_SHUTDOWN, ST_UNAVAILABLE, true, "shutting down" },
	{ SQLSTATE_TOO_MANY_CONNECTIONS, ST_UNAVAILABLE, true, "too many connections" },
	/* a class: 28P01 (password), 28000 (no pg_hba.conf entry, no such role) and the rest */
	{ SQLSTATE_CLASS_AUTHORIZATION, ST_PERMISSION, false, "authentication failed" },
	{ SQLSTATE_INSUFFICIENT_PRIVILEGE, ST_PERMISSION, false, "permission denied" },
	/* the database or the role is read-only */
	{ SQLSTATE_READ_ONLY_TRANSACTION, ST_PERMISSION, false, "read-only" },
	/* names the configuration gave (database, owner, template, encoding) */
	{ SQLSTATE_UNDEFINED_DATABASE, ST_CONFIG, false, "database does not exist" },
	{ SQLSTATE_UNDEFINED_OBJECT, ST_CONFIG, false, "undefined object" },
	{ SQLSTATE_INVALID_PARAMETER_VALUE, ST_CONFIG, false, "invalid parameter value" },
	{ SQLSTATE_WRONG_OBJECT_TYPE, ST_CONFIG, false, "wrong object type" },
	{ SQLSTATE_FEATURE_NOT_SUPPORTED, ST_CONFIG, false, "feature not supported" },
};

static const struct sqlstate_row *sqlstate_find(const struct db_error *err)
{
	if (!err->sqlstate[0])
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(sqlstates); i++)
		if (strncmp(err->sqlstate, sqlstates[i].code, strlen(sqlstates[i].code)) == 0)
			return &sqlstates[i];
	return NULL;
}

bool db_is(const struct db_error *err, const char *code)
{
	return strcmp(err->sqlstate, code) == 0;
}

enum status db_status(const struct db_error *err, enum status otherwise)
{
	const struct sqlstate_row *row = sqlstate_find(err);

	if (err->interrupted)
		return ST_SIGNAL;
	if (row)
		return row->status;
	return err->connection_lost || !err->sqlstate[0] ? ST_UNAVAILABLE : otherwise;
}

bool db_transient(const struct db_error *err)
{
	const struct sqlstate_row *row = sqlstate_find(err);

	return !err->sqlstate[0] || (row && row->transient);
}

const char *db_failure_kind(const struct db_error *err)
{
	const struct sqlstate_row *row = sqlstate_find(err);

	if (row)
		return row->kind;
	return err->sqlstate[0] ? err->sqlstate : "unreachable";
}

void db_backoff_init(struct db_backoff *b, int64_t initial_ms, int64_t max_ms, bool half_fixed)
{
	b->initial_ms = initial_ms;
	b->max_ms = max_ms;
	b->half_fixed = half_fixed;
	b->attempt = 0;
	b->rng = random_seed();
}

int64_t db_backoff_next(struct db_backoff *b)
{
	int64_t cap = b->initial_ms;
	int64_t fixed;

	b->attempt++;
	for (int i = 0; i < b->attempt && cap < b->max_ms; i++)
		cap *= 2;
	if (cap > b->max_ms)
		cap = b->max_ms;
	fixed = b->half_fixed ? cap / 2 : 0;
	return fixed + (int64_t)(random_next(&b->rng) % (uint64_t)(cap - fixed + 1));
}

/* Nothing listens: tried again this often (a refused connect costs the server nothing). */
#define RETRY_REFUSED_MS 10
/*
 * 57P03 (starting up, shutting down, recovering): each attempt forks a backend. A start
 * takes well under a second: pauses of 10-20 ms for its first second, then of 50-100 ms
 * for a long recovery.
 */
#define RETRY_STARTING_FAST_MS 10
#define RETRY_STARTING_FOR_MS 1000
#define RETRY_STARTING_SLOW_MS 50

static int64_t smaller(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

void db_retry_init(struct db_retry *r, const struct config *cfg)
{
	db_backoff_init(&r->other, cfg->initial_delay_ms, cfg->max_delay_ms, false);
	db_backoff_init(&r->fast, smaller(RETRY_STARTING_FAST_MS, cfg->max_delay_ms),
			smaller(2 * (int64_t)RETRY_STARTING_FAST_MS, cfg->max_delay_ms), true);
	db_backoff_init(&r->slow, smaller(RETRY_STARTING_SLOW_MS, cfg->max_delay_ms),
			smaller(2 * (int64_t)RETRY_STARTING_SLOW_MS, cfg->max_delay_ms), true);
	r->refused_ms = smaller(RETRY_REFUSED_MS, cfg->max_delay_ms);
	r->starting_since = -1;
}

/* Connection refused over TCP, or no socket file: no server process took the attempt. */
static bool refused(const struct db_error *err)
{
	return !err->sqlstate[0] && !err->timed_out &&
	       (strstr(err->message, "Connection refused") ||
		strstr(err->message, "No such file or directory"));
}

int64_t db_retry_next(struct db_retry *r, const struct db_error *err)
{
	if (refused(err))
		return r->refused_ms;
	if (!db_is(err, SQLSTATE_CANNOT_CONNECT_NOW))
		return db_backoff_next(&r->other);
	if (r->starting_since < 0)
		r->starting_since = clock_ms();
	if (clock_ms() - r->starting_since < RETRY_STARTING_FOR_MS)
		return db_backoff_next(&r->fast);
	return db_backoff_next(&r->slow);
}

int db_sleep(int64_t ms)
{
	int64_t until = clock_ms() + ms;

	for (;;) {
		int64_t left = until - clock_ms();

		if (sig_caught())
			return -1;
		if (left <= 0)
			return 0;
		sig_wait(-1, 0, left);
	}
}

PGconn *db_connect_retry(const struct config *cfg, const char *dbname, int64_t deadline,
			 struct db_error *err)
{
	return db_connect_retry_as(cfg, &cfg->conn, dbname, deadline, err);
}

PGconn *db_connect_retry_as(const struct config *cfg, const struct conn_params *as,
			    const char *dbname, int64_t deadline, struct db_error *err)
{
	struct db_retry retry;

	db_retry_init(&retry, cfg);
	for (int attempt = 1;; attempt++) {
		int64_t left = deadline - clock_ms(), limit = left;
		PGconn *conn;

		if (cfg->connect_timeout_ms > 0 && cfg->connect_timeout_ms < limit)
			limit = cfg->connect_timeout_ms;
		conn = connect_as(as, dbname, limit > 1000 ? limit : 1000, NULL, err);
		if (conn || err->interrupted || err->no_attempt || !db_transient(err) ||
		    clock_ms() >= deadline)
			return conn;
		if (attempt == 1)
			log_info("retrying a connection: %s", err->message);
		if (db_sleep(db_retry_next(&retry, err)) < 0) {
			err->interrupted = true;
			return NULL;
		}
	}
}

PGconn *db_connect_maintenance(const struct config *cfg, int64_t deadline, enum status *st)
{
	return db_connect_maintenance_as(cfg, &cfg->conn, deadline, st);
}

PGconn *db_connect_maintenance_as(const struct config *cfg, const struct conn_params *as,
				  int64_t deadline, enum status *st)
{
	const char *db = cfg_get(cfg, CFG_DATABASE_MAINTENANCE_DB);
	struct db_error err;
	PGconn *conn = db_connect_retry_as(cfg, as, db, deadline, &err);

	if (!conn && db_is(&err, SQLSTATE_UNDEFINED_DATABASE) && strcmp(db, "postgres") == 0) {
		log_info("maintenance database \"postgres\" does not exist; using \"template1\"");
		db = "template1";
		conn = db_connect_retry_as(cfg, as, db, deadline, &err);
	}
	if (conn)
		return conn;
	log_error("could not connect to maintenance database \"%s\": %s", db, err.message);
	*st = err.no_attempt && !err.interrupted ? ST_CONFIG : db_status(&err, ST_UNAVAILABLE);
	return NULL;
}
