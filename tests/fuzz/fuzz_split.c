/*
 * fuzz_split: the statement splitter (src/split.h) on any bytes. Statements come in
 * order without overlap, inside the buffer, each starting where its line and column say;
 * COPY data follows its statement; the splitter always moves forward; a meta-command
 * says where. split_position agrees with mig_position over the whole file for every
 * character of a statement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "migfile.h"
#include "split.h"

static int is_char(const char *s, size_t i)
{
	return ((unsigned char)s[i] & 0xc0) != 0x80;
}

/* The line and column of offset pos, and the characters before it, counted from the start. */
static void place(const char *s, size_t pos, int *line, int *column, int *chars)
{
	*line = 1;
	*column = 1;
	*chars = 0;
	for (size_t i = 0; i < pos; i++) {
		*chars += is_char(s, i);
		if (s[i] == '\n') {
			(*line)++;
			*column = 1;
		} else if (is_char(s, i)) {
			(*column)++;
		}
	}
}

static void check_positions(const struct splitter *sp, const struct stmt *st, int before)
{
	int nchars = 0, step;

	for (size_t i = st->start; i < st->end; i++)
		nchars += is_char(sp->sql, i);
	step = nchars > 64 ? nchars / 64 : 1;
	for (int p = 1; p <= nchars; p += step) {
		int l, c, wl, wc;

		split_position(sp, st, p, &l, &c);
		mig_position(sp->sql, sp->len, before + p, &wl, &wc);
		if (l != wl || c != wc)
			fuzz_fail("split_position(%d) of the statement at %zu: %d:%d, the file says %d:%d",
				  p, st->start, l, c, wl, wc);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *sql = fuzz_string(data, size);
	struct splitter sp;
	struct stmt st;
	size_t prev_end = 0, prev_pos = 0;
	int rc;

	split_init(&sp, sql, size);
	while ((rc = split_next(&sp, &st)) == 1) {
		int line, column, before;

		if (st.start < prev_end || st.start >= st.end || st.end > size)
			fuzz_fail("statement [%zu, %zu) after %zu in %zu bytes", st.start, st.end,
				  prev_end, size);
		place(sql, st.start, &line, &column, &before);
		if (st.line != line || st.column != column)
			fuzz_fail("statement at %zu says %d:%d, it is at %d:%d", st.start, st.line,
				  st.column, line, column);
		if (st.kind == STMT_COPY_IN &&
		    (st.data_start < st.end || st.data_end < st.data_start || st.data_end > size))
			fuzz_fail("COPY data [%zu, %zu) after a statement ending at %zu", st.data_start,
				  st.data_end, st.end);
		if (sp.pos <= prev_pos || sp.pos > size)
			fuzz_fail("splitter at %zu after %zu", sp.pos, prev_pos);
		check_positions(&sp, &st, before);
		prev_end = st.kind == STMT_COPY_IN ? st.data_end : st.end;
		prev_pos = sp.pos;
	}
	if (rc == -1 && (!sp.error[0] || sp.error_line < 1))
		fuzz_fail("a meta-command without a message or line");
	if (rc != 0 && rc != -1)
		fuzz_fail("split_next returned %d", rc);
	free(sql);
	return 0;
}
