/* Unit tests of pgboot's pure parts; prints TAP-like lines that tests/run counts. */
#include <stdlib.h>

#include "unit.h"

int unit_failures;

int main(void)
{
	static const struct unit_test tests[] = {
		{ "durations and numbers", test_util },
		{ "reading whole files", test_read_file },
		{ "migration names, checksums and positions", test_migfile },
		{ "configuration files, environment and flags", test_config },
		{ "redaction of connection strings", test_redact },
		{ "backoff bounds", test_backoff },
		{ "retry pause by failure", test_retry },
		{ "migration checksums ahead of the connection", test_prehash },
		{ "migration checksums of the layout's detection", test_detect_sums },
		{ "statement splitting", test_split },
		{ "variable expansion and identifiers", test_expand },
		{ "pre-flight checks of migration files", test_preflight },
		{ "JSON log fields", test_log },
		{ "migration linting", test_lint },
		{ "Flyway's checksum of a file", test_adopt },
	};
	int failed = 0, n = (int)(sizeof(tests) / sizeof(tests[0]));

	for (int i = 0; i < n; i++) {
		int before = unit_failures;

		tests[i].fn();
		if (unit_failures != before)
			failed++;
		printf("%sok %d - unit: %s\n", unit_failures != before ? "not " : "", i + 1,
		       tests[i].name);
	}
	return failed ? 1 : 0;
}
