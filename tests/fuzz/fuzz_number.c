/*
 * fuzz_number: parse_duration and parse_int64 (src/util.h) against small reference
 * parsers written from their contracts: a duration is "0" or one or more <digits><unit>
 * with unit ms, s, m or h; a number is -?<digits> within [min, max]. The first byte picks
 * the range; the rest, up to a NUL, is the text.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "util.h"

/* 128 bits, so the references cannot overflow. */
__extension__ typedef __int128 i128;

static const struct {
	int64_t min, max;
} ranges[] = { { INT64_MIN, INT64_MAX }, { 0, 1000 }, { 1, 65535 }, { -5, 5 }, { 0, 0 } };

/* Returns false when s is not a duration; *total saturates at a value above INT64_MAX. */
static bool ref_duration(const char *s, i128 *total)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = { { "ms", 1 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 } };
	const i128 cap = (i128)INT64_MAX * 4;

	*total = 0;
	if (strcmp(s, "0") == 0)
		return true;
	if (!*s)
		return false;
	while (*s) {
		i128 n = 0;
		size_t i;

		if (*s < '0' || *s > '9')
			return false;
		for (; *s >= '0' && *s <= '9'; s++)
			n = n > cap ? n : n * 10 + (*s - '0');
		for (i = 0; i < ARRAY_SIZE(units); i++)
			if (strncmp(s, units[i].unit, strlen(units[i].unit)) == 0)
				break;
		if (i == ARRAY_SIZE(units))
			return false;
		s += strlen(units[i].unit);
		*total += n * units[i].ms;
		if (*total > cap)
			*total = cap;
	}
	return true;
}

static bool ref_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	const char *p = s + (*s == '-');
	i128 v = 0;

	if (!*p)
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		if (v <= (i128)INT64_MAX + 1)
			v = v * 10 + (*p - '0');
	}
	if (*s == '-')
		v = -v;
	if (v < min || v > max)
		return false;
	*out = (int64_t)v;
	return true;
}

static void check_duration(const char *s)
{
	i128 want;
	bool valid = ref_duration(s, &want);
	int64_t got = -1;
	int rc = parse_duration(s, &got);
	char shown[32];

	if (rc == 0 && (!valid || got != want))
		fuzz_fail("parse_duration(\"%s\") accepted %lld", s, (long long)got);
	/* Near INT64_MAX the parser may refuse early (it checks each digit for overflow). */
	if (rc != 0 && valid && want <= INT64_MAX / 16)
		fuzz_fail("parse_duration(\"%s\") refused a valid duration", s);
	if (rc == 0)
		format_seconds(got, shown, sizeof(shown));
}

static void check_int64(const char *s, int64_t min, int64_t max)
{
	int64_t want = 0, got = 0;
	bool valid = ref_int64(s, min, max, &want);
	int rc = parse_int64(s, min, max, &got);

	if (rc == 0 && !valid)
		fuzz_fail("parse_int64(\"%s\", %lld, %lld) accepted %lld", s, (long long)min,
			  (long long)max, (long long)got);
	if (rc != 0 && valid)
		fuzz_fail("parse_int64(\"%s\", %lld, %lld) refused it", s, (long long)min,
			  (long long)max);
	if (rc == 0 && got != want)
		fuzz_fail("parse_int64(\"%s\") gave %lld, want %lld", s, (long long)got,
			  (long long)want);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	size_t r;

	if (size == 0)
		return 0;
	r = data[0] % ARRAY_SIZE(ranges);
	s = fuzz_string(data + 1, size - 1);
	check_duration(s);
	check_int64(s, ranges[r].min, ranges[r].max);
	free(s);
	return 0;
}
