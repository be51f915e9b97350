#include "split.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "migfile.h"

/* Per statement: what the lexer must remember between tokens. */
struct lex {
	int paren;
	int begin_depth;      /* BEGIN ... END of a CREATE FUNCTION/PROCEDURE body, as psql */
	int words;
	char initials[4];     /* first letters of CREATE [OR REPLACE] FUNCTION|PROCEDURE */
	char first[16], second[16], third[16];
	bool after_from;
	bool from_stdin;
};

static bool ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool ident_char(unsigned char c)
{
	return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

void split_init(struct splitter *sp, const char *sql, size_t len)
{
	memset(sp, 0, sizeof(*sp));
	sp->sql = sql;
	sp->len = len;
	sp->line = 1;
}

/* Moves to offset to, counting the lines passed. */
static void advance_to(struct splitter *sp, size_t to)
{
	const char *nl;

	while (sp->pos < to && (nl = memchr(sp->sql + sp->pos, '\n', to - sp->pos))) {
		sp->line++;
		sp->pos = (size_t)(nl - sp->sql) + 1;
		sp->line_start = sp->pos;
	}
	sp->pos = to;
}

static int column_of(const struct splitter *sp, size_t pos)
{
	int col = 1;

	for (size_t i = sp->line_start; i < pos; i++)
		if (((unsigned char)sp->sql[i] & 0xc0) != 0x80)
			col++;
	return col;
}

static size_t line_end(const struct splitter *sp, size_t p)
{
	const char *nl = memchr(sp->sql + p, '\n', sp->len - p);

	return nl ? (size_t)(nl - sp->sql) : sp->len;
}

/* p opens a block comment: returns the offset after its close; block comments nest. */
static size_t skip_block_comment(const struct splitter *sp, size_t p)
{
	int depth = 0;

	while (p + 1 < sp->len) {
		if (sp->sql[p] == '/' && sp->sql[p + 1] == '*') {
			depth++;
			p += 2;
		} else if (sp->sql[p] == '*' && sp->sql[p + 1] == '/') {
			p += 2;
			if (--depth == 0)
				return p;
		} else {
			p++;
		}
	}
	return sp->len;
}

/* p is at the opening quote q; a doubled q is part of the text, so is \x when escapes. */
static size_t skip_quoted(const struct splitter *sp, size_t p, char q, bool escapes)
{
	for (p++; p < sp->len; p++) {
		if (escapes && sp->sql[p] == '\\' && p + 1 < sp->len) {
			p++;
		} else if (sp->sql[p] == q) {
			if (p + 1 < sp->len && sp->sql[p + 1] == q)
				p++;
			else
				return p + 1;
		}
	}
	return sp->len;
}

/* The length of a dollar-quote tag ("$$", "$fn$") at p, or 0 when p starts none ($1). */
static size_t dollar_tag(const struct splitter *sp, size_t p)
{
	size_t i = p + 1;

	if (i < sp->len && sp->sql[i] != '$') {
		if (!ident_start((unsigned char)sp->sql[i]))
			return 0;
		while (i < sp->len && ident_char((unsigned char)sp->sql[i]) && sp->sql[i] != '$')
			i++;
	}
	return i < sp->len && sp->sql[i] == '$' ? i + 1 - p : 0;
}

static size_t skip_dollar_quote(const struct splitter *sp, size_t p, size_t tag)
{
	const char *hay = sp->sql + p + tag;
	size_t left = sp->len - p - tag;

	while (left >= tag) {
		const char *d = memchr(hay, '$', left);

		if (!d || (size_t)(sp->sql + sp->len - d) < tag)
			break;
		if (memcmp(d, sp->sql + p, tag) == 0)
			return (size_t)(d - sp->sql) + tag;
		left -= (size_t)(d - hay) + 1;
		hay = d + 1;
	}
	return sp->len;
}

/* True when the block comment at p never closes: psql sends such text as it is. */
static bool unterminated_comment(const struct splitter *sp, size_t p)
{
	size_t end = skip_block_comment(sp, p);

	return end == sp->len && !(end >= 2 && sp->sql[end - 2] == '*' && sp->sql[end - 1] == '/');
}

static bool word_is(const char *w, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

/*
 * A word outside any string: psql's heuristic for bodies of CREATE [OR REPLACE] FUNCTION
 * or PROCEDURE ... BEGIN ATOMIC ... END, where semicolons do not end the statement, and
 * what classification needs (the first words, COPY ... FROM STDIN).
 */
static void lex_word(struct lex *lx, const char *w, size_t n)
{
	static const char *const create_words[] = { "create", "function", "procedure", "or",
						    "replace" };
	char *slot = lx->words == 0 ? lx->first : lx->words == 1 ? lx->second
				 : lx->words == 2 ? lx->third : NULL;

	if (slot)
		snprintf(slot, 16, "%.*s", n < 15 ? (int)n : 15, w);
	if (lx->words < 4) {
		for (size_t i = 0; i < sizeof(create_words) / sizeof(create_words[0]); i++)
			if (word_is(w, n, create_words[i]))
				lx->initials[lx->words] = create_words[i][0];
	}
	lx->words++;
	if (lx->initials[0] == 'c' && lx->paren == 0 &&
	    (lx->initials[1] == 'f' || lx->initials[1] == 'p' ||
	     (lx->initials[1] == 'o' && lx->initials[2] == 'r' &&
	      (lx->initials[3] == 'f' || lx->initials[3] == 'p')))) {
		if (word_is(w, n, "begin") || (word_is(w, n, "case") && lx->begin_depth > 0))
			lx->begin_depth++;
		else if (word_is(w, n, "end") && lx->begin_depth > 0)
			lx->begin_depth--;
	}
	lx->from_stdin = lx->from_stdin || (lx->after_from && word_is(w, n, "stdin"));
	lx->after_from = word_is(w, n, "from");
}

/* A word at p: a string prefix (E'', B'', X'', N'', U&'', U&"") or an identifier. */
static size_t scan_word(const struct splitter *sp, size_t p, struct lex *lx)
{
	const char *s = sp->sql;
	size_t end = p;

	while (end < sp->len && ident_char((unsigned char)s[end]))
		end++;
	if (end - p == 1 && end < sp->len && s[end] == '\'') {
		if (s[p] == 'e' || s[p] == 'E')
			return skip_quoted(sp, end, '\'', true);
		if (strchr("bBxXnN", s[p]))
			return skip_quoted(sp, end, '\'', false);
	}
	if (end - p == 1 && (s[p] == 'u' || s[p] == 'U') && end + 1 < sp->len && s[end] == '&' &&
	    (s[end + 1] == '\'' || s[end + 1] == '"'))
		return skip_quoted(sp, end + 1, s[end + 1], false);
	lex_word(lx, s + p, end - p);
	return end;
}

/*
 * Whether the line at p is goose's annotation doc ("-- +goose StatementBegin"), as goose
 * reads it. Only goose files reach the splitter with goose's annotations: pgboot refuses
 * them in every other layout before splitting (migfile.c, layout.c).
 */
static bool goose_line(const struct splitter *sp, size_t p, const char *doc)
{
	struct mig_line_mark mk;

	return (p == 0 || sp->sql[p - 1] == '\n') &&
	       mig_line_marker(sp->sql + p, sp->sql + line_end(sp, p), &mk) && strcmp(mk.doc, doc) == 0;
}

static void skip_space_and_comments(struct splitter *sp)
{
	size_t p = sp->pos;

	while (p < sp->len) {
		unsigned char c = (unsigned char)sp->sql[p];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
			p++;
		else if (c == '-' && p + 1 < sp->len && sp->sql[p + 1] == '-' &&
			 !goose_line(sp, p, "-- +goose StatementBegin"))
			p = line_end(sp, p); /* (a goose block stops here: split_next takes it whole) */
		else if (c == '/' && p + 1 < sp->len && sp->sql[p + 1] == '*' &&
			 !unterminated_comment(sp, p))
			p = skip_block_comment(sp, p);
		else
			break; /* an unterminated comment goes to the server, which says so */
	}
	advance_to(sp, p);
}

static enum stmt_kind classify(const struct lex *lx)
{
	const char *a = lx->first, *b = lx->second;

	if (!strcasecmp(a, "begin") || (!strcasecmp(a, "start") && !strcasecmp(b, "transaction")))
		return STMT_BEGIN;
	if (!strcasecmp(a, "commit") || !strcasecmp(a, "end"))
		return strcasecmp(b, "prepared") ? STMT_COMMIT : STMT_TXN_OTHER;
	if (!strcasecmp(a, "rollback") || !strcasecmp(a, "abort")) {
		if (!strcasecmp(b, "prepared"))
			return STMT_TXN_OTHER;
		if (!strcasecmp(b, "to") || !strcasecmp(lx->third, "to"))
			return STMT_SQL; /* ROLLBACK [WORK | TRANSACTION] TO SAVEPOINT */
		return STMT_ROLLBACK;
	}
	if (!strcasecmp(a, "prepare") && !strcasecmp(b, "transaction"))
		return STMT_TXN_OTHER;
	if (!strcasecmp(a, "copy") && lx->from_stdin)
		return STMT_COPY_IN;
	return STMT_SQL;
}

/* COPY FROM STDIN data: the lines after the statement's line, up to a "\." line. */
static void take_copy_data(struct splitter *sp, struct stmt *out)
{
	size_t p = line_end(sp, out->end);

	p = p < sp->len ? p + 1 : p;
	out->data_start = p;
	while (p < sp->len) {
		size_t eol = line_end(sp, p);
		size_t n = eol - p;

		if ((n == 2 || (n == 3 && sp->sql[p + 2] == '\r')) && sp->sql[p] == '\\' &&
		    sp->sql[p + 1] == '.') {
			out->data_end = p;
			advance_to(sp, eol < sp->len ? eol + 1 : eol);
			return;
		}
		p = eol < sp->len ? eol + 1 : eol;
	}
	out->data_end = sp->len;
	advance_to(sp, sp->len);
}

static int meta_command(struct splitter *sp, size_t p)
{
	size_t n = 1;

	while (p + n < sp->len && n < 32 && ident_char((unsigned char)sp->sql[p + n]))
		n++;
	advance_to(sp, p);
	sp->error_line = sp->line;
	snprintf(sp->error, sizeof(sp->error),
		 "psql meta-command \"%.*s\" is not supported: pgboot runs SQL only", (int)n,
		 sp->sql + p);
	return -1;
}

/*
 * goose's StatementBegin ... StatementEnd: the lines between are one statement, whatever
 * their semicolons, as goose sends them (pressly/goose, internal/sqlparser/parser.go).
 * sp is at the StatementBegin line. Returns 1, or 0 for a block of white space only.
 */
static int goose_block(struct splitter *sp, struct stmt *out)
{
	size_t start = line_end(sp, sp->pos), end;

	start += start < sp->len;
	for (end = start; end < sp->len && !goose_line(sp, end, "-- +goose StatementEnd");) {
		end = line_end(sp, end);
		end += end < sp->len;
	}
	advance_to(sp, start);
	memset(out, 0, sizeof(*out));
	out->start = start;
	out->end = end;
	out->line = sp->line;
	out->column = 1;
	out->kind = STMT_SQL;
	out->block = true;
	advance_to(sp, end < sp->len ? line_end(sp, end) : end);
	return strspn(sp->sql + start, " \t\r\n") < end - start;
}

int split_next(struct splitter *sp, struct stmt *out)
{
	struct lex lx = { 0 };
	size_t p;

	for (;;) {
		skip_space_and_comments(sp);
		if (sp->pos >= sp->len)
			return 0;
		if (sp->sql[sp->pos] != '-' || !goose_line(sp, sp->pos, "-- +goose StatementBegin"))
			break;
		if (goose_block(sp, out))
			return 1;
	}
	memset(out, 0, sizeof(*out));
	out->start = p = sp->pos;
	out->line = sp->line;
	out->column = column_of(sp, p);
	out->end = sp->len;
	while (p < sp->len) {
		unsigned char c = (unsigned char)sp->sql[p];
		size_t tag;

		if (c == '-' && p + 1 < sp->len && sp->sql[p + 1] == '-') {
			p = line_end(sp, p);
		} else if (c == '/' && p + 1 < sp->len && sp->sql[p + 1] == '*') {
			p = skip_block_comment(sp, p);
		} else if (c == '\'' || c == '"') {
			p = skip_quoted(sp, p, (char)c, false);
		} else if (c == '$' && (tag = dollar_tag(sp, p))) {
			p = skip_dollar_quote(sp, p, tag);
		} else if (ident_start(c)) {
			p = scan_word(sp, p, &lx);
		} else if (c >= '0' && c <= '9') {
			while (p < sp->len && ident_char((unsigned char)sp->sql[p]))
				p++;
		} else if (c == '\\') {
			return meta_command(sp, p);
		} else {
			lx.paren += c == '(';
			lx.paren -= c == ')' && lx.paren > 0;
			p++;
			if (c == ';' && lx.paren == 0 && lx.begin_depth == 0) {
				out->end = p;
				break;
			}
		}
	}
	out->kind = classify(&lx);
	advance_to(sp, out->end);
	if (out->kind == STMT_COPY_IN)
		take_copy_data(sp, out);
	return 1;
}

void split_position(const struct splitter *sp, const struct stmt *st, int position, int *line,
		    int *column)
{
	int l, c;

	mig_position(sp->sql + st->start, st->end - st->start, position, &l, &c);
	*line = st->line + l - 1;
	*column = l == 1 ? st->column + c - 1 : c;
}
