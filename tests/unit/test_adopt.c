/* Flyway's checksum (flyway-core's ChecksumCalculator): CRC-32 of the lines without breaks. */
#include <string.h>

#include "adopt.h"
#include "unit.h"

static int32_t flyway(const char *s)
{
	return adopt_flyway_checksum(s, strlen(s));
}

void test_adopt(void)
{
	/* CRC-32 of "123456789" is 0xCBF43926, the standard check value */
	CHECK(flyway("123456789") == (int32_t)-873187034);
	/* line breaks of any kind, and a leading byte order mark, are left out */
	CHECK(flyway("1234\n56789") == flyway("123456789"));
	CHECK(flyway("1234\r\n56789\r\n") == flyway("123456789"));
	CHECK(flyway("1234\r56789\n\n") == flyway("123456789"));
	CHECK(flyway("\xEF\xBB\xBF" "123456789") == flyway("123456789"));
	/* a byte order mark elsewhere is content */
	CHECK(flyway("1234\n\xEF\xBB\xBF" "56789") != flyway("123456789"));
	CHECK(flyway("") == 0);
	/* past 2^31 the value is negative, as Java's (int) cast makes it; below, positive */
	CHECK(flyway("a") == (int32_t)0xE8B7BE43u);
	CHECK(flyway("abc") == 0x352441C2);
}
