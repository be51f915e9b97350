/*
 * split: cuts a migration file into statements the way psql's lexer does, so files apply
 * with the same result as `psql -X -v ON_ERROR_STOP=1 -1 -f FILE`. Strings ('', E'',
 * U&'', B'', X''), quoted identifiers, dollar quotes, -- and nested block comments,
 * parenthesis depth and psql's BEGIN ... END depth of SQL-standard function bodies are
 * followed, so semicolons inside any of them do not end a statement. It works in place:
 * statements are offsets into the caller's buffer.
 */
#ifndef PGBOOT_SPLIT_H
#define PGBOOT_SPLIT_H

#include <stdbool.h>
#include <stddef.h>

enum stmt_kind {
	STMT_SQL,
	STMT_BEGIN,     /* BEGIN, START TRANSACTION */
	STMT_COMMIT,    /* COMMIT, END */
	STMT_ROLLBACK,  /* ROLLBACK, ABORT (not ROLLBACK TO SAVEPOINT) */
	STMT_TXN_OTHER, /* PREPARE TRANSACTION, COMMIT PREPARED, ROLLBACK PREPARED */
	STMT_COPY_IN,   /* COPY ... FROM STDIN, with inline data */
};

struct stmt {
	size_t start, end;           /* [start, end): the statement, with its ';' when it has one */
	int line, column;            /* where it starts, 1-based; columns count characters */
	enum stmt_kind kind;
	size_t data_start, data_end; /* COPY FROM STDIN: the data lines, without the "\." line */
	bool block;                  /* a goose StatementBegin block: may hold several commands */
};

struct splitter {
	const char *sql;
	size_t len;
	size_t pos;
	int line;            /* the line of pos */
	size_t line_start;   /* the offset where that line starts */
	char error[256];     /* why split_next returned -1 */
	int error_line;
};

void split_init(struct splitter *sp, const char *sql, size_t len);
/*
 * Finds the next statement. Returns 1 and fills out, 0 when only white space and comments
 * remain, or -1 for a psql meta-command (a backslash outside any string, comment or COPY
 * data), which pgboot cannot run: sp->error and sp->error_line say where.
 */
int split_next(struct splitter *sp, struct stmt *out);
/* The 1-based line and column in the file of a character offset (1-based, as the server
 * reports positions) within statement st. */
void split_position(const struct splitter *sp, const struct stmt *st, int position, int *line,
		    int *column);

#endif
