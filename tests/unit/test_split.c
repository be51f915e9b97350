#include <stdlib.h>

#include "split.h"
#include "unit.h"

/* Splits sql and checks the statements' texts, joined with "|", and their kinds. */
static void check_split(const char *sql, const char *want, const char *want_kinds)
{
	static const char kind_letter[] = { 'S', 'B', 'C', 'R', 'T', 'P' };
	struct splitter sp;
	struct stmt st;
	char got[2048] = "", kinds[64] = "";
	int rc;

	split_init(&sp, sql, strlen(sql));
	while ((rc = split_next(&sp, &st)) == 1) {
		size_t n = strlen(got);

		snprintf(got + n, sizeof(got) - n, "%s%.*s", n ? "|" : "", (int)(st.end - st.start),
			 sql + st.start);
		n = strlen(kinds);
		kinds[n] = kind_letter[st.kind];
		kinds[n + 1] = '\0';
	}
	CHECK(rc == 0);
	CHECK_STR(got, want);
	CHECK_STR(kinds, want_kinds);
}

static void check_place(const char *sql, int index, int line, int column)
{
	struct splitter sp;
	struct stmt st;

	split_init(&sp, sql, strlen(sql));
	for (int i = 0; i <= index; i++)
		CHECK(split_next(&sp, &st) == 1);
	if (st.line != line || st.column != column) {
		fprintf(stderr, "  statement %d of \"%s\": at %d:%d, want %d:%d\n", index, sql, st.line,
			st.column, line, column);
		unit_failures++;
	}
}

static void test_quotes(void)
{
	check_split("SELECT 1; SELECT 2;", "SELECT 1;|SELECT 2;", "SS");
	check_split("SELECT 'a;b''c;'; SELECT \"x;\"\"y\" FROM t",
		    "SELECT 'a;b''c;';|SELECT \"x;\"\"y\" FROM t", "SS");
	check_split("SELECT E'it\\'s;\\\\'; SELECT 2;", "SELECT E'it\\'s;\\\\';|SELECT 2;", "SS");
	/* A backslash ends nothing in a standard string. */
	check_split("SELECT 'a\\'; SELECT 2;", "SELECT 'a\\';|SELECT 2;", "SS");
	check_split("SELECT U&'d\\0061t;a', U&\"x;\", B'01', X'1f', N'n;';",
		    "SELECT U&'d\\0061t;a', U&\"x;\", B'01', X'1f', N'n;';", "S");
	check_split("SELECT $$a;b$$; SELECT $fn$ $$ ; $$ $fn$;",
		    "SELECT $$a;b$$;|SELECT $fn$ $$ ; $$ $fn$;", "SS");
	/* \t at the start of a line inside a body is no meta-command. */
	check_split("CREATE FUNCTION f() RETURNS int AS $$\n\tSELECT 1;\n$$ LANGUAGE sql;",
		    "CREATE FUNCTION f() RETURNS int AS $$\n\tSELECT 1;\n$$ LANGUAGE sql;", "S");
	/* $1 is a parameter and a$b$ an identifier: neither opens a dollar quote. */
	check_split("PREPARE p AS SELECT $1; SELECT a$b$ FROM t; SELECT 3",
		    "PREPARE p AS SELECT $1;|SELECT a$b$ FROM t;|SELECT 3", "SSS");
	check_split("SELECT 'unterminated; SELECT 2;", "SELECT 'unterminated; SELECT 2;", "S");
}

static void test_structure(void)
{
	check_split("-- a; comment\nSELECT 1 /* x; /* nested; */ y; */ + 1; -- tail;\n",
		    "SELECT 1 /* x; /* nested; */ y; */ + 1;", "S");
	check_split("CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); "
		    "INSERT INTO b VALUES (2)); SELECT 1;",
		    "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); "
		    "INSERT INTO b VALUES (2));|SELECT 1;", "SS");
	check_split("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; "
		    "SELECT CASE WHEN true THEN 2 END; END; SELECT 3;",
		    "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; "
		    "SELECT CASE WHEN true THEN 2 END; END;|SELECT 3;", "SS");
	check_split("CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t "
		    "VALUES (1); END; SELECT 1",
		    "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t "
		    "VALUES (1); END;|SELECT 1", "SS");
	/* Outside CREATE FUNCTION, BEGIN and CASE ... END do not nest statements. */
	check_split("SELECT CASE WHEN x THEN 1 END; SELECT 2;",
		    "SELECT CASE WHEN x THEN 1 END;|SELECT 2;", "SS");
	check_split("-- only a comment\n/* and another; */\n", "", "");
	check_split(";;SELECT 1;", ";|;|SELECT 1;", "SSS");
	/* An unterminated comment is sent as it is, as psql does: the server refuses it. */
	check_split("SELECT 1;\n/* open\nSELECT 2;", "SELECT 1;|/* open\nSELECT 2;", "SS");
	check_split("SELECT 1;\r\nSELECT 2;\r\n", "SELECT 1;|SELECT 2;", "SS");
}

static void test_kinds(void)
{
	check_split("BEGIN; START TRANSACTION ISOLATION LEVEL SERIALIZABLE; COMMIT; END; "
		    "ROLLBACK; ABORT; ROLLBACK TO SAVEPOINT s; ROLLBACK WORK TO s; SAVEPOINT s; "
		    "COMMIT PREPARED 'x'; PREPARE TRANSACTION 'x'; commit and chain;",
		    "BEGIN;|START TRANSACTION ISOLATION LEVEL SERIALIZABLE;|COMMIT;|END;|ROLLBACK;|"
		    "ABORT;|ROLLBACK TO SAVEPOINT s;|ROLLBACK WORK TO s;|SAVEPOINT s;|"
		    "COMMIT PREPARED 'x';|PREPARE TRANSACTION 'x';|commit and chain;",
		    "BBCCRRSSSTTC");
	check_split("COPY t (a, b) FROM stdin;\n1\tx;y\n\\.\nSELECT 1;",
		    "COPY t (a, b) FROM stdin;|SELECT 1;", "PS");
	check_split("COPY t TO STDOUT; COPY t FROM '/tmp/f';", "COPY t TO STDOUT;|COPY t FROM '/tmp/f';",
		    "SS");
}

static void test_copy_and_meta(void)
{
	const char *sql = "COPY t FROM STDIN;\n1\t\\N\n\\.x\n2\tb\n\\.\r\nSELECT 2;\n";
	const char *eof = "copy t from stdin;\n1\n2";
	struct splitter sp;
	struct stmt st;

	split_init(&sp, sql, strlen(sql));
	CHECK(split_next(&sp, &st) == 1 && st.kind == STMT_COPY_IN);
	CHECK(st.data_end - st.data_start == strlen("1\t\\N\n\\.x\n2\tb\n"));
	CHECK(strncmp(sql + st.data_start, "1\t\\N\n\\.x\n2\tb\n", st.data_end - st.data_start) == 0);
	CHECK(split_next(&sp, &st) == 1 && st.line == 6 && st.column == 1);
	CHECK(split_next(&sp, &st) == 0);

	split_init(&sp, eof, strlen(eof));
	CHECK(split_next(&sp, &st) == 1 && st.kind == STMT_COPY_IN);
	CHECK(st.data_end == strlen(eof) && strcmp(eof + st.data_start, "1\n2") == 0);

	split_init(&sp, "SELECT 1;\n\\set x 1\nSELECT :x;", 29);
	CHECK(split_next(&sp, &st) == 1);
	CHECK(split_next(&sp, &st) == -1);
	CHECK(sp.error_line == 2);
	CHECK(strstr(sp.error, "\"\\set\"") != NULL);
	split_init(&sp, "SELECT 1 \\gset", 14);
	CHECK(split_next(&sp, &st) == -1 && sp.error_line == 1);
}

static void test_places(void)
{
	struct splitter sp;
	struct stmt st;
	int line, col;
	const char *sql = "SELECT 1;\n-- c\n  SELECT\n    nope FROM t;";

	check_place("SELECT 1;\n-- c\n  SELECT 2;", 1, 3, 3);
	check_place("/* é */ SELECT 1;", 0, 1, 9);
	split_init(&sp, sql, strlen(sql));
	CHECK(split_next(&sp, &st) == 1);
	CHECK(split_next(&sp, &st) == 1);
	split_position(&sp, &st, 1, &line, &col);
	CHECK(line == 3 && col == 3);
	split_position(&sp, &st, 12, &line, &col); /* "nope" */
	CHECK(line == 4 && col == 5);
}

/* goose's StatementBegin ... StatementEnd: one statement, whatever its semicolons. */
static void test_goose_blocks(void)
{
	check_split("SELECT 1;\n-- +goose StatementBegin\nSELECT 2; SELECT 3\n-- +goose StatementEnd\nSELECT 4;",
		    "SELECT 1;|SELECT 2; SELECT 3\n|SELECT 4;", "SSS");
	/* in goose's own spelling rules: any case, "--" and "+goose" anywhere on the line */
	check_split("--  +goose statementbegin\nA; B;\n-- +goose STATEMENTEND\n", "A; B;\n", "S");
	/* an unterminated block runs to the end; an empty one is no statement */
	check_split("-- +goose StatementBegin\nA; B", "A; B", "S");
	check_split("-- +goose StatementBegin\n\n-- +goose StatementEnd\nC;", "C;", "S");
	/* only in column 1, as goose reads it; elsewhere a comment */
	check_split(" -- +goose StatementBegin\nA; B;", "A;|B;", "SS");
	check_place("X;\n-- +goose StatementBegin\nA;\n-- +goose StatementEnd\nB;", 1, 3, 1);
	check_place("X;\n-- +goose StatementBegin\nA;\n-- +goose StatementEnd\nB;", 2, 5, 1);
}

void test_split(void)
{
	test_goose_blocks();
	test_quotes();
	test_structure();
	test_kinds();
	test_copy_and_meta();
	test_places();
}
