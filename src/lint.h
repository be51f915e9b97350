/*
 * lint: what a pending migration will do to a database in use, read before it runs.
 * Statements come from split.c (psql's boundaries); a small tokenizer reads the words of
 * one statement, skipping comments, strings, quoted identifiers and dollar-quoted bodies,
 * so the statements of a function body are never linted as statements.
 *
 * Files are linted in order as one set (the pending files): a table, schema, index or
 * column created earlier in the set, or earlier in the same file, is new, and changing it
 * hurts nobody, so it draws no finding. The rules and their categories are listed in
 * README.md ("Safety in production") and in lint_rule_name's table.
 *
 * A comment "-- pgboot:allow RULE[, RULE...]" (RULE: a rule or a category) on its own line
 * directly above a statement allows those findings of that statement; among the comments
 * before the file's first statement, it allows them in the whole file. Allowed findings
 * stay in the list at info level. An allow comment naming an unknown rule, or one that
 * applies to no statement, is an error finding itself.
 */
#ifndef PGBOOT_LINT_H
#define PGBOOT_LINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "migfile.h"
#include "util.h"

enum lint_category { LINT_DESTRUCTIVE, LINT_LOCKING, LINT_COMPATIBILITY, LINT_DIRECTIVE };
enum lint_severity { LINT_INFO, LINT_WARNING, LINT_ERROR };

struct lint_finding {
	char *file;                 /* as given to lint_file */
	int line, column;           /* 1-based; columns count characters */
	enum lint_severity severity;
	const char *rule;           /* static: "drop-table" */
	enum lint_category category;
	char *message;
	const char *hint;           /* static: what to write instead */
	int allowed_by;             /* the line of the allow comment, 0 when not allowed */
};

struct lint_object;

struct lint {
	bool strict;                /* destructive and locking findings are errors */
	size_t files;
	struct lint_finding *findings;
	size_t n, cap;
	struct lint_object *objects; /* what the set created so far */
	size_t nobjects, capobjects;
	char error[512];            /* why lint_file returned -1 */
};

/*
 * Starts an empty set. strict: destructive and locking findings are errors (migrate.lint
 * = error, the default in protected environments); otherwise they are warnings.
 * Compatibility findings are always warnings, broken allow comments always errors.
 */
void lint_init(struct lint *l, bool strict);
void lint_release(struct lint *l);

/*
 * Lints one file's up part (as mig_read returns it: no byte order mark, no down part),
 * after the files of the set given before it. file names the findings (copied). Returns
 * 0, or -1 with "FILE:LINE: ..." in l->error when the file holds a psql meta-command,
 * which the splitter cannot go past; the findings before it stay. Prints nothing.
 */
int lint_file(struct lint *l, const char *file, const char *sql, size_t len);

/*
 * Reads m's up part (mig_read) and lints it as the next file of the set, named by m->path.
 * Returns 0, or -1 after logging (unreadable, a NUL byte, a psql meta-command).
 */
int lint_migration(struct lint *l, const struct migration *m);

/* The number of findings of that severity (allowed ones are LINT_INFO). */
size_t lint_count(const struct lint *l, enum lint_severity severity);

/*
 * Writes every finding as "FILE:LINE:COL: SEVERITY: RULE: MESSAGE" and a "  hint: " line
 * (allowed ones say so instead of the hint).
 */
void lint_print_text(const struct lint *l, FILE *out);
/*
 * Appends one JSON document: {"findings": [{file, line, column, severity, rule, category,
 * message, hint, allowed, allowed_by}...], "files", "errors", "warnings", "allowed"}.
 */
void lint_print_json(const struct lint *l, struct buf *out);
/* Logs every finding: errors as errors, warnings as warnings, allowed findings at info. */
void lint_log(const struct lint *l);

const char *lint_severity_name(enum lint_severity severity);
const char *lint_category_name(enum lint_category category);

/*
 * The recognizer of the allow directive for whoever checks "-- pgboot:" words: text is
 * what follows "--" and any blanks on a comment line, n its length. True when it is
 * "pgboot:allow" alone or followed by a blank (the rule list is lint_file's to check).
 */
bool lint_is_allow(const char *text, size_t n);

#endif
