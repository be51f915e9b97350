/*
 * fuzz_lint: the linter (src/lint.h) on any bytes. The first byte picks strict or not;
 * the rest is one file, linted twice in one set. Every finding lies inside the file (its
 * line exists, its column at most one past the line's last character), has a rule, a
 * category, a message and a hint, and its severity follows from the rule's category and
 * the allow comment above it (which is on an earlier line). The second pass sees what the
 * first created as new, so it can only find less of what depends on that; allow-comment
 * findings repeat exactly. The text and JSON outputs are written for every input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lint.h"

/* The number of characters of each line: widths[i] for line i + 1. */
static int *line_widths(const char *s, size_t len, int *nlines)
{
	int *widths = calloc(len + 2, sizeof(*widths));
	int line = 0;

	if (!widths)
		abort();
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			line++;
		else if (((unsigned char)s[i] & 0xc0) != 0x80)
			widths[line]++;
	}
	*nlines = line + 1;
	return widths;
}

static void check_finding(const struct lint *l, const struct lint_finding *f, const int *widths,
			  int nlines)
{
	enum lint_severity want;

	if (f->line < 1 || f->line > nlines || f->column < 1 || f->column > widths[f->line - 1] + 1)
		fuzz_fail("%s at %d:%d, outside the file (%d lines)", f->rule, f->line, f->column,
			  nlines);
	if (!f->rule || !f->message[0] || !f->hint[0] || strcmp(f->file, "f.sql") != 0)
		fuzz_fail("a finding without rule, message, hint or file at %d:%d", f->line,
			  f->column);
	if (f->allowed_by && (f->allowed_by >= f->line || f->category == LINT_DIRECTIVE))
		fuzz_fail("%s at line %d allowed by line %d", f->rule, f->line, f->allowed_by);
	want = f->allowed_by				? LINT_INFO
	       : f->category == LINT_DIRECTIVE		? LINT_ERROR
	       : f->category == LINT_COMPATIBILITY ? LINT_WARNING
	       : l->strict				? LINT_ERROR
							: LINT_WARNING;
	if (f->severity != want)
		fuzz_fail("%s at %d:%d is %s, want %s", f->rule, f->line, f->column,
			  lint_severity_name(f->severity), lint_severity_name(want));
}

static size_t count_directive(const struct lint *l, size_t from, size_t to)
{
	size_t n = 0;

	for (size_t i = from; i < to; i++)
		n += l->findings[i].category == LINT_DIRECTIVE;
	return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *sql = fuzz_string(data, size);
	const char *text = size ? sql + 1 : sql;
	size_t len = size ? size - 1 : 0, first;
	int nlines, rc1, rc2, *widths = line_widths(text, len, &nlines);
	struct lint l;
	struct buf json;
	FILE *null = fopen("/dev/null", "w");

	lint_init(&l, size && (data[0] & 1));
	rc1 = lint_file(&l, "f.sql", text, len);
	first = l.n;
	rc2 = lint_file(&l, "f.sql", text, len);
	if (rc1 != rc2 || (rc1 == -1 && !l.error[0]) || (rc1 != 0 && rc1 != -1))
		fuzz_fail("lint_file returned %d, then %d (\"%s\")", rc1, rc2, l.error);
	if (l.n - first > first || count_directive(&l, 0, first) != count_directive(&l, first, l.n))
		fuzz_fail("the second pass found %zu after %zu", l.n - first, first);
	for (size_t i = 0; i < l.n; i++)
		check_finding(&l, &l.findings[i], widths, nlines);
	buf_init(&json);
	lint_print_json(&l, &json);
	if (!null || !json.len || json.data[json.len - 1] != '\n')
		fuzz_fail("no JSON document");
	lint_print_text(&l, null);
	fclose(null);
	buf_release(&json);
	lint_release(&l);
	free(widths);
	free(sql);
	return 0;
}
