/*
 * fuzz_redact: conn_redact (src/conn.h) on any text, checked against libpq's own
 * parser: when libpq finds a password in the input, it must not read the same password
 * in the redacted copy. (The copy may no longer parse, when a value ran into the next key:
 * that is fine.) A password made only of "*" is left alone. The input ends at its first NUL.
 */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "fuzz.h"

/* The password libpq reads from s: NULL when s does not parse, "" when it has none. */
static char *libpq_password(const char *s, int *parsed)
{
	PQconninfoOption *opts = PQconninfoParse(s, NULL);
	char *pw = NULL;

	*parsed = opts != NULL;
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0)
			pw = strdup(o->val ? o->val : "");
	PQconninfoFree(opts);
	return pw;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	char *safe = conn_redact(s);
	char *pw, *safe_pw = NULL;
	int parsed, safe_parsed;

	if (!safe)
		fuzz_fail("conn_redact returned NULL");
	pw = libpq_password(s, &parsed);
	if (parsed && pw && pw[strspn(pw, "*")]) {
		safe_pw = libpq_password(safe, &safe_parsed);
		if (safe_parsed && safe_pw && strcmp(safe_pw, pw) == 0)
			fuzz_fail("libpq still reads the password \"%s\" in \"%s\"", safe_pw, safe);
	}
	free(safe_pw);
	free(pw);
	free(safe);
	free(s);
	return 0;
}
