#include <stdint.h>

#include "unit.h"
#include "util.h"
#include "db.h"

void test_util(void)
{
	int64_t ms, n;

	CHECK(parse_duration("250ms", &ms) == 0 && ms == 250);
	CHECK(parse_duration("30s", &ms) == 0 && ms == 30000);
	CHECK(parse_duration("5m", &ms) == 0 && ms == 300000);
	CHECK(parse_duration("1h", &ms) == 0 && ms == 3600000);
	CHECK(parse_duration("1m30s", &ms) == 0 && ms == 90000);
	CHECK(parse_duration("1s500ms", &ms) == 0 && ms == 1500);
	CHECK(parse_duration("0", &ms) == 0 && ms == 0);
	CHECK(parse_duration("0s", &ms) == 0 && ms == 0);
	CHECK(parse_duration("30", &ms) < 0);        /* a unit is required */
	CHECK(parse_duration("", &ms) < 0);
	CHECK(parse_duration("s", &ms) < 0);
	CHECK(parse_duration("-5s", &ms) < 0);
	CHECK(parse_duration("5 s", &ms) < 0);
	CHECK(parse_duration("5sec", &ms) < 0);
	CHECK(parse_duration("1.5s", &ms) < 0);
	CHECK(parse_duration("5d", &ms) < 0);
	CHECK(parse_duration("99999999999999999999s", &ms) < 0);
	CHECK(parse_duration("9223372036854775807h", &ms) < 0);

	CHECK(parse_int64("5432", 1, 65535, &n) == 0 && n == 5432);
	CHECK(parse_int64("0", 1, 65535, &n) < 0);
	CHECK(parse_int64("65536", 1, 65535, &n) < 0);
	CHECK(parse_int64("-1", 1, 65535, &n) < 0);
	CHECK(parse_int64("12a", 1, 65535, &n) < 0);
	CHECK(parse_int64(" 12", 1, 65535, &n) < 0);
	CHECK(parse_int64("+12", 1, 65535, &n) < 0);
	CHECK(parse_int64("99999999999999999999", 0, INT64_MAX, &n) < 0);
}

void test_backoff(void)
{
	for (int k = 0; k < 50; k++) {
		struct db_backoff b;

		db_backoff_init(&b, 50, 250, false);
		for (int attempt = 1; attempt < 80; attempt++) {
			int64_t cap = 50;
			int64_t d = db_backoff_next(&b);

			for (int i = 0; i < attempt && cap < 250; i++)
				cap *= 2;
			if (cap > 250)
				cap = 250;
			CHECK(d >= 0 && d <= cap);
		}
	}
	/* Full jitter: delays spread up to the cap. */
	{
		int64_t max_seen = 0;

		for (int k = 0; k < 1000; k++) {
			struct db_backoff b;

			db_backoff_init(&b, 50, 250, false);
			b.attempt = 9;
			int64_t d = db_backoff_next(&b);

			if (d > max_seen)
				max_seen = d;
		}
		CHECK(max_seen > 200);
	}
	/* Half fixed (lock-timeout retries): 1 s, 2 s, 4 s ... at most 30 s, half of it always. */
	{
		struct db_backoff b;
		int64_t cap = 1000;

		db_backoff_init(&b, 500, 30000, true);
		for (int attempt = 1; attempt < 12; attempt++, cap = cap * 2 > 30000 ? 30000 : cap * 2) {
			int64_t d = db_backoff_next(&b);

			CHECK(d >= cap / 2 && d <= cap);
		}
	}
}
