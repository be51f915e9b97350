/*
 * fuzz_expand: expand_value and expand_ident (src/expand.h). The first byte picks
 * expand_ident's max (10 to 255), the rest, up to a NUL, is the value. Variables come from
 * a fixed table. Text without "$" expands to itself; an identifier is never empty, fits
 * max, holds only [a-z0-9_], has no "__", does not end with "_" and does not start with a
 * digit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expand.h"
#include "fuzz.h"
#include "util.h"

static const char *fake_env(const char *name)
{
	static const char *const vars[][2] = {
		{ "A", "x" },
		{ "EMPTY", "" },
		{ "BRANCH", "feature/Login-Page_2" },
		{ "LONG", "a-very-long-branch-name-that-does-not-fit-in-a-postgresql-identifier-at-all-x" },
		{ "UNI", "h\xc3\xa9llo w\xc3\xb6rld" },
		{ "DOLLAR", "${A}$$" },
		{ "NUM", "123abc" },
		{ "US", "___" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
		if (strcmp(vars[i][0], name) == 0)
			return vars[i][1];
	return NULL;
}

static void check_ident(const char *raw, size_t max)
{
	char out[256];
	size_t n;

	expand_ident(raw, max, out, sizeof(out));
	n = strlen(out);
	if (n == 0 || n > max)
		fuzz_fail("expand_ident(\"%s\", %zu) = \"%s\"", raw, max, out);
	for (size_t i = 0; i < n; i++) {
		char c = out[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') ||
		    (c == '_' && i > 0 && out[i - 1] == '_'))
			fuzz_fail("expand_ident(\"%s\", %zu) = \"%s\": bad character at %zu", raw, max,
				  out, i);
	}
	if (out[n - 1] == '_' || (out[0] >= '0' && out[0] <= '9'))
		fuzz_fail("expand_ident(\"%s\", %zu) = \"%s\"", raw, max, out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512] = "", *s, *got;
	size_t max;

	if (size == 0)
		return 0;
	max = 10 + data[0] % 246;
	s = fuzz_string(data + 1, size - 1);
	got = expand_value(s, fake_env, err, sizeof(err));
	if (!got && !err[0])
		fuzz_fail("expand_value(\"%s\") failed without a message", s);
	if (!strchr(s, '$') && (!got || strcmp(got, s) != 0))
		fuzz_fail("expand_value(\"%s\") = \"%s\"", s, got ? got : "(null)");
	check_ident(s, max);
	free(got);
	free(s);
	return 0;
}
