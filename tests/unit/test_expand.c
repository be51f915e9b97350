#include <stdlib.h>

#include "expand.h"
#include "unit.h"

static const char *fake_env(const char *name)
{
	static const struct {
		const char *name, *value;
	} vars[] = {
		{ "GIT_BRANCH", "feature/X" },
		{ "EMPTY", "" },
		{ "HOST", "db.internal" },
		{ "LONG", "feature/JIRA-12345-make-the-checkout-page-load-faster-for-everyone-please" },
		{ "LONG2", "feature/JIRA-12345-make-the-checkout-page-load-faster-for-everyone-today" },
		{ "DIGITS", "2024-rewrite" },
		{ "UNICODE", "fix/caf\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac" },
		{ "ONLY_UNICODE", "\xe6\x97\xa5\xe6\x9c\xac" },
	};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (strcmp(vars[i].name, name) == 0)
			return vars[i].value;
	return NULL;
}

static void check_expand(const char *in, const char *want)
{
	char err[256] = "";
	char *got = expand_value(in, fake_env, err, sizeof(err));

	if (!got || strcmp(got, want) != 0) {
		fprintf(stderr, "  expand \"%s\": got \"%s\" (%s), want \"%s\"\n", in, got ? got : "(null)",
			err, want);
		unit_failures++;
	}
	free(got);
}

static void check_error(const char *in, const char *want)
{
	char err[256] = "";
	char *got = expand_value(in, fake_env, err, sizeof(err));

	if (got || !strstr(err, want)) {
		fprintf(stderr, "  expand \"%s\": got \"%s\", error \"%s\", want an error with \"%s\"\n", in,
			got ? got : "(null)", err, want);
		unit_failures++;
	}
	free(got);
}

void test_expand(void)
{
	char a[128], b[128];

	check_expand("plain", "plain");
	check_expand("${HOST}", "db.internal");
	check_expand("postgres://${HOST}:5432/app", "postgres://db.internal:5432/app");
	check_expand("${GIT_BRANCH:ident}_app", "feature_x_app");
	check_expand("${MISSING:-local}_app", "local_app");
	check_expand("${EMPTY:-fallback}", "fallback");
	check_expand("x${EMPTY}y", "xy");
	check_expand("pa$$word $5 $ ${HOST}$", "pa$word $5 $ db.internal$");
	check_expand("${DIGITS:ident}", "_2024_rewrite");
	check_expand("${UNICODE:ident}", "fix_caf");
	check_error("${MISSING}", "environment variable \"MISSING\" is not set");
	check_error("${MISSING:ident}", "\"MISSING\" is not set");
	check_error("${HOST", "unterminated");
	check_error("${1X}", "is not a variable name");
	check_error("${HOST:x}", "expected ${HOST}, ${HOST:-default} or ${HOST:ident}");

	/* Long names: cut to fit 63 bytes with "_app", and two of them stay distinct. */
	{
		char err[256];
		char *x = expand_value("${LONG:ident}_app", fake_env, err, sizeof(err));
		char *y = expand_value("${LONG2:ident}_app", fake_env, err, sizeof(err));

		CHECK(x && y && strlen(x) == 63 && strlen(y) == 63);
		CHECK(x && y && strcmp(x, y) != 0);
		CHECK(x && strncmp(x, "feature_jira_12345_make_the_checkout_page_load_", 47) == 0);
		CHECK(x && strcmp(x + strlen(x) - 4, "_app") == 0);
		free(x);
		free(y);
	}
	/* Only the name counts: the rest of a URL does not take room from it. */
	check_expand("postgres://${HOST}/${GIT_BRANCH:ident}?sslmode=require",
		     "postgres://db.internal/feature_x?sslmode=require");

	expand_ident("Feature//X--Y", 63, a, sizeof(a));
	CHECK_STR(a, "feature_x_y");
	expand_ident("___", 63, a, sizeof(a));
	CHECK(a[0] == '_' && strlen(a) == 9);
	expand_ident("\xe6\x97\xa5\xe6\x9c\xac", 63, b, sizeof(b));
	CHECK(b[0] == '_' && strlen(b) == 9 && strcmp(a, b) != 0);
	expand_ident("abcdefghijklmnopqrstuvwxyz", 12, a, sizeof(a));
	CHECK(strlen(a) == 12 && strncmp(a, "abc_", 4) == 0);
}
