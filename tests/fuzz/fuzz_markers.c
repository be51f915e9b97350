/*
 * fuzz_markers: mig_find_marker and mig_layout_of_name (src/migfile.h). The input is a
 * migration's text. A marker found is one of the three tools', on a line that exists, and
 * the first down marker is not before the first marker; the find depends only on the text
 * up to the end of the marker's line (cutting the text there, or adding lines after it,
 * finds the same); the text as a file name is another tool's only with a .sql ending.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "migfile.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static bool same(const struct mig_marker *a, const struct mig_marker *b)
{
	return strcmp(a->tool, b->tool) == 0 && strcmp(a->marker, b->marker) == 0 && a->line == b->line;
}

/* The offset just after line n (1-based) of sql, or len. */
static size_t line_end(const char *sql, size_t len, int n)
{
	size_t i = 0;

	for (int line = 1; i < len; i++)
		if (sql[i] == '\n' && ++line > n)
			return i;
	return len;
}

static void check_find(const char *sql, size_t len)
{
	struct mig_marker mk, cut, more;
	int lines = 1;
	char *longer;

	for (size_t i = 0; i < len; i++)
		lines += sql[i] == '\n';
	if (!mig_find_marker(sql, len, &mk))
		return;
	if (strcmp(mk.tool, "dbmate") != 0 && strcmp(mk.tool, "goose") != 0 &&
	    strcmp(mk.tool, "node-pg-migrate") != 0)
		fuzz_fail("unknown tool \"%s\"", mk.tool);
	if (mk.line < 1 || mk.line > lines || (mk.down_line && mk.down_line < mk.line) ||
	    mk.down_line > lines)
		fuzz_fail("marker on line %d, down on line %d, in %d lines", mk.line, mk.down_line, lines);
	if (!mig_find_marker(sql, line_end(sql, len, mk.line), &cut) || !same(&mk, &cut))
		fuzz_fail("the text cut after line %d finds another marker", mk.line);
	longer = malloc(len + 16);
	if (!longer)
		abort();
	memcpy(longer, sql, len);
	memcpy(longer + len, "\nSELECT 1;\n", 11);
	if (!mig_find_marker(longer, len + 11, &more) || !same(&mk, &more))
		fuzz_fail("a line added at the end changes the first marker");
	free(longer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	const char *tool = mig_layout_of_name(s);

	if (tool && (size < 5 || strcmp(s + strlen(s) - 4, ".sql") != 0))
		fuzz_fail("\"%s\" taken for a %s file name", s, tool);
	check_find((const char *)data, size);
	free(s);
	return 0;
}
