#include "preflight.h"

#include <string.h>

#include "lint.h"
#include "log.h"
#include "split.h"

/*
 * The first line may hold a directive: "-- pgboot:no-transaction", or an allow comment
 * (lint.h, which checks its rules). Any other "pgboot:" word there is a mistake worth
 * stopping for (a typo would silently change how it runs).
 */
static int read_directive(const struct migration *m, const struct buf *sql, bool *no_txn)
{
	const char *p = sql->data;
	size_t n = strcspn(p, "\n");

	*no_txn = false;
	while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n < 2 || strncmp(p, "--", 2) != 0)
		return 0;
	for (p += 2, n -= 2; n && (*p == ' ' || *p == '\t'); p++, n--)
		;
	if (n < 7 || strncmp(p, "pgboot:", 7) != 0)
		return 0;
	if (n == strlen("pgboot:no-transaction") && strncmp(p, "pgboot:no-transaction", n) == 0) {
		*no_txn = true;
		return 0;
	}
	if (lint_is_allow(p, n))
		return 0;
	log_error("%s:%d: unknown directive \"%.*s\" (pgboot knows \"pgboot:no-transaction\" "
		  "and \"pgboot:allow\")",
		  m->path, m->line_offset + 1, (int)n, p);
	return -1;
}

/* The "pgboot:..." word of a line that is a "--" comment, with its length, or NULL. */
static const char *directive_word(const char *line, size_t n, size_t *len)
{
	while (n && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	if (n < 2 || strncmp(line, "--", 2) != 0)
		return NULL;
	for (line += 2, n -= 2; n && (*line == ' ' || *line == '\t'); line++, n--)
		;
	if (n < 7 || strncmp(line, "pgboot:", 7) != 0)
		return NULL;
	*len = strcspn(line, " \t\r\n");
	*len = *len < n ? *len : n;
	return line;
}

/*
 * A directive anywhere but the first line would be read as a comment: the file would run
 * otherwise than its author meant (a no-transaction file in a transaction). Allow comments
 * belong above statements; lint.c checks where they are.
 */
static int check_stray_directives(const struct migration *m, const struct buf *sql)
{
	const char *p = memchr(sql->data, '\n', sql->len), *end = sql->data + sql->len, *word;
	const struct log_field fields[] = {
		{ "hint", "directives are read on the first line only (in a down part, the first line "
			  "after \"-- pgboot:down\"): move it there, or write the comment otherwise" },
		{ NULL, NULL },
	};
	size_t len;

	for (int line = 2; p && p + 1 < end; line++) {
		const char *start = p + 1;

		p = memchr(start, '\n', (size_t)(end - start));
		word = directive_word(start, (size_t)((p ? p : end) - start), &len);
		if (!word || lint_is_allow(word, len))
			continue;
		log_event(LOG_ERROR, fields, "%s:%d: \"-- %.*s\" is not on the first line, so pgboot "
			  "would take it for a comment", m->path, line + m->line_offset, (int)len, word);
		return -1;
	}
	return 0;
}

static const char *kind_name(enum stmt_kind kind)
{
	switch (kind) {
	case STMT_BEGIN:
		return "BEGIN";
	case STMT_COMMIT:
		return "COMMIT";
	case STMT_ROLLBACK:
		return "ROLLBACK";
	default:
		return "a prepared transaction";
	}
}

/*
 * Meta-commands anywhere, and transaction control in a transactional file, where only a
 * BEGIN ... COMMIT around everything is accepted.
 */
static int check_statements(const struct migration *m, const struct buf *sql,
			    struct preflight *pl)
{
	struct stmt st, first = { 0 }, bad = { 0 };
	struct splitter sp;
	size_t txn = 0;
	bool last_commit = false;
	int rc;

	split_init(&sp, sql->data, sql->len);
	while ((rc = split_next(&sp, &st)) == 1) {
		bool control = st.kind != STMT_SQL && st.kind != STMT_COPY_IN;

		if (pl->count++ == 0)
			first = st;
		if (control && txn++ == (first.kind == STMT_BEGIN ? 1 : 0))
			bad = st;
		last_commit = st.kind == STMT_COMMIT;
	}
	if (rc < 0) {
		log_error("%s:%d: %s", m->path, sp.error_line + m->line_offset, sp.error);
		return -1;
	}
	if (pl->no_transaction || txn == 0)
		return 0;
	pl->wrapped = txn == 2 && first.kind == STMT_BEGIN && last_commit;
	if (pl->wrapped)
		return 0;
	if (!bad.line)
		bad = first;
	log_error("%s:%d:%d: %s is not allowed here: pgboot runs this migration in one transaction "
		  "with its history row; to control transactions yourself, make "
		  "\"-- pgboot:no-transaction\" the file's first line", m->path,
		  bad.line + m->line_offset, bad.column, kind_name(bad.kind));
	return -1;
}

/* A no-transaction file needs the session lock, and cannot join one transaction for all. */
static int check_settings(const struct migration *m, const struct config *cfg,
			  enum lock_mode mode, bool down)
{
	if (!down && cfg->one_transaction) {
		log_error("\"%s\" runs without a transaction, so it cannot join the one "
			  "transaction of migrate.transaction = all: nothing was applied", m->path);
		return -1;
	}
	if (mode != LOCK_TRANSACTION)
		return 0;
	if (down)
		log_error("the down part of \"%s\" runs without a transaction, which migrate.lock = "
			  "transaction cannot protect", m->path);
	else
		log_error("\"%s\" runs without a transaction, which migrate.lock = transaction cannot "
			  "protect: apply it through a direct connection with migrate.lock = session",
			  m->path);
	return -1;
}

int preflight_check(const struct migration *m, const struct buf *sql, const struct config *cfg,
		    enum lock_mode mode, bool down, struct preflight *out)
{
	memset(out, 0, sizeof(*out));
	if (read_directive(m, sql, &out->no_transaction) < 0 ||
	    check_stray_directives(m, sql) < 0 || check_statements(m, sql, out) < 0)
		return -1;
	if (out->no_transaction && check_settings(m, cfg, mode, down) < 0)
		return -1;
	return 0;
}

int preflight_read(const struct migration *m, const struct config *cfg, enum lock_mode mode,
		   struct buf *sql, struct preflight *out)
{
	if (mig_read(m, sql) < 0)
		return -1;
	return preflight_check(m, sql, cfg, mode, false, out);
}

int preflight_lint(struct lint *l, const struct mig_list *list, const struct history *h)
{
	for (size_t i = 0; i < list->n; i++) {
		const struct migration *m = &list->items[i];

		if ((!h || !history_applied(h, m)) && lint_migration(l, m) < 0)
			return -1;
	}
	return 0;
}

enum status preflight_lint_verdict(struct lint *l)
{
	const struct log_field fields[] = {
		{ "hint", "change what would hurt a database in use (README \"Safety in "
			  "production\"), or say it is meant with \"-- pgboot:allow RULE\" on the line "
			  "above the statement" },
		{ NULL, NULL },
	};
	size_t errors = lint_count(l, LINT_ERROR);

	lint_log(l);
	if (!errors)
		return ST_OK;
	log_event(LOG_ERROR, fields, "%zu lint error%s in the pending migrations: nothing was "
		  "applied", errors, errors == 1 ? "" : "s");
	return ST_MIGRATION;
}

enum status preflight_lint_pending(const struct config *cfg, const struct mig_list *list,
				   const struct history *h)
{
	enum status st = ST_OK;
	struct lint l;

	if (cfg->lint == CFG_LINT_OFF)
		return ST_OK;
	lint_init(&l, cfg->lint == CFG_LINT_ERROR);
	st = preflight_lint(&l, list, h) < 0 ? ST_MIGRATION : preflight_lint_verdict(&l);
	lint_release(&l);
	return st;
}
