#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

static int saved_fd = -1;
static FILE *captured;

void unit_capture_stderr(void)
{
	fflush(stderr);
	captured = tmpfile();
	saved_fd = dup(2);
	if (captured && saved_fd >= 0)
		dup2(fileno(captured), 2);
}

void unit_captured_stderr(char *out, size_t size)
{
	size_t n = 0;

	fflush(stderr);
	if (saved_fd >= 0) {
		dup2(saved_fd, 2);
		close(saved_fd);
		saved_fd = -1;
	}
	out[0] = '\0';
	if (!captured)
		return;
	rewind(captured);
	n = fread(out, 1, size - 1, captured);
	out[n] = '\0';
	fclose(captured);
	captured = NULL;
}

/* One JSON event with a single field key = value, as log_event writes it. */
static void json_field(const char *key, const char *value, char *out, size_t size)
{
	const struct log_field fields[] = { { key, value }, { NULL, NULL } };

	log_setup(LOG_INFO, LOG_JSON);
	unit_capture_stderr();
	log_event(LOG_INFO, fields, "event");
	unit_captured_stderr(out, size);
	log_setup(LOG_INFO, LOG_TEXT);
}

static void check_field(const char *key, const char *value, const char *want)
{
	char out[512];

	json_field(key, value, out, sizeof(out));
	if (!strstr(out, want)) {
		fprintf(stderr, "  %s = \"%s\": got %s  want %s\n", key, value, out, want);
		unit_failures++;
	}
}

void test_log(void)
{
	/* numbers are JSON numbers; a duration in seconds loses its unit */
	check_field("attempts", "3", "\"attempts\":3}");
	check_field("line", "12", "\"line\":12}");
	check_field("column", "1", "\"column\":1}");
	check_field("elapsed", "1.250s", "\"elapsed\":1.250}");
	check_field("elapsed", "0.021s", "\"elapsed\":0.021}");
	check_field("duration_ms", "-4", "\"duration_ms\":-4}");
	/* what is not a plain number stays a string, whatever its key */
	check_field("line", "12a", "\"line\":\"12a\"}");
	check_field("line", "012", "\"line\":\"012\"}");
	check_field("elapsed", "1.s", "\"elapsed\":\"1.s\"}");
	check_field("attempts", "", "\"attempts\":\"\"}");
	check_field("sqlstate", "42601", "\"sqlstate\":\"42601\"}");
	check_field("file", "7", "\"file\":\"7\"}");
}
