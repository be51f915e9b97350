#include <stdlib.h>

#include "conn.h"
#include "unit.h"

static void check_redact(const char *in, const char *want)
{
	char *got = conn_redact(in);

	CHECK_STR(got, want);
	free(got);
}

void test_redact(void)
{
	check_redact("postgres://app:s3cret@db:5432/app", "postgres://app:********@db:5432/app");
	check_redact("postgresql://app:p%40ss@db/app?sslmode=require",
		     "postgresql://app:********@db/app?sslmode=require");
	check_redact("postgres://app@db/app", "postgres://app@db/app");
	check_redact("postgres://db/app?user=u&password=pw&sslmode=require",
		     "postgres://db/app?user=u&password=********&sslmode=require");
	check_redact("postgres://a:b@h1,h2/db?password=x", "postgres://a:********@h1,h2/db?password=********");
	check_redact("postgres:///app?host=/run/pg", "postgres:///app?host=/run/pg");
	check_redact("host=db password=secret user=app", "host=db password=******** user=app");
	check_redact("host=db password = 'it\\'s a secret' dbname=x",
		     "host=db password = ******** dbname=x");
	check_redact("password='a b' password=c", "password=******** password=********");
	check_redact("password=", "password=********");
	check_redact("dbname=app", "dbname=app");
	check_redact("", "");
	check_redact("garbage without equals", "garbage without equals");
}
