/*
 * fuzz_position: mig_position and mig_checksum (src/migfile.h). The first two bytes are
 * the server's position (big-endian, signed), the rest the SQL. Line and column are at
 * least 1 and the line exists; a position past the end maps to the last character; the
 * checksum is the SHA-256 of the text with every CRLF read as LF (in one pass: "\r\r\n"
 * is read as "\r\n").
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "migfile.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_checksum(const char *sql, size_t len)
{
	char *lf = malloc(len + 1);
	char a[65], b[65];
	size_t n = 0;

	if (!lf)
		abort();
	for (size_t i = 0; i < len; i++)
		if (!(sql[i] == '\r' && i + 1 < len && sql[i + 1] == '\n'))
			lf[n++] = sql[i];
	mig_checksum(sql, len, a);
	sha256_hex(lf, n, b);
	if (strcmp(a, b) != 0)
		fuzz_fail("mig_checksum is not the SHA-256 of the text with CRLF read as LF (%zu and %zu bytes)",
			  len, n);
	free(lf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int position, line, column, lines = 1, chars = 0;
	const char *sql;
	size_t len;

	if (size < 2)
		return 0;
	position = (int16_t)(uint16_t)((data[0] << 8) | data[1]);
	sql = (const char *)data + 2;
	len = size - 2;
	for (size_t i = 0; i < len; i++) {
		lines += sql[i] == '\n';
		chars += ((unsigned char)sql[i] & 0xc0) != 0x80;
	}
	mig_position(sql, len, position, &line, &column);
	if (line < 1 || column < 1 || line > lines)
		fuzz_fail("mig_position(%d) = %d:%d in %d lines", position, line, column, lines);
	if (chars > 0 && position > chars) {
		int l, c;

		mig_position(sql, len, chars, &l, &c);
		if (l != line || c != column)
			fuzz_fail("mig_position(%d) past the end = %d:%d, the last character (%d) is at %d:%d",
				  position, line, column, chars, l, c);
	}
	check_checksum(sql, len);
	return 0;
}
