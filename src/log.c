#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum log_level threshold = LOG_INFO;
static enum log_format format = LOG_TEXT;

static const char *const level_names[] = { "debug", "info", "warning", "error" };

void log_setup(enum log_level level, enum log_format fmt)
{
	threshold = level;
	format = fmt;
}

bool log_enabled(enum log_level level)
{
	return level >= threshold;
}

/* Folds newlines (and the tab libpq puts after them) into "; " and drops trailing ones. */
static void append_folded(struct buf *b, const char *s)
{
	size_t len = strlen(s);

	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n') {
			buf_puts(b, "; ");
			while (i + 1 < len && (s[i + 1] == '\t' || s[i + 1] == ' ' || s[i + 1] == '\n'))
				i++;
		} else {
			buf_append(b, &s[i], 1);
		}
	}
}

static void append_json_string(struct buf *b, const char *s)
{
	struct buf folded;

	buf_init(&folded);
	append_folded(&folded, s);
	buf_json_string(b, folded.data ? folded.data : "");
	buf_release(&folded);
}

/*
 * Fields that hold numbers are written as JSON numbers: counts, places in a file, and
 * durations (a duration in seconds may be given as "1.250s", as format_seconds writes it).
 */
static const char *const number_keys[] = {
	"attempts", "line", "column", "elapsed", "duration_ms", "statement", "statements", "pid",
};

/* The length of value without its unit when it is a plain decimal number, else 0. */
static size_t number_length(const char *key, const char *value)
{
	size_t n = 0, digits = 0;
	bool known = false;

	for (size_t i = 0; i < sizeof(number_keys) / sizeof(number_keys[0]); i++)
		known = known || strcmp(key, number_keys[i]) == 0;
	if (!known)
		return 0;
	n += value[n] == '-';
	for (; value[n] >= '0' && value[n] <= '9'; n++)
		digits++;
	if (value[n] == '.' && digits)
		for (n++; value[n] >= '0' && value[n] <= '9'; n++)
			;
	if (!digits || value[n - 1] == '.' || (digits > 1 && value[value[0] == '-'] == '0'))
		return 0;
	return value[n] == '\0' || (value[n] == 's' && value[n + 1] == '\0') ? n : 0;
}

static void format_json(struct buf *out, enum log_level level, const char *msg,
			const struct log_field *fields)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(out, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":", stamp,
		   ts.tv_nsec / 1000000, level == LOG_WARN ? "warn" : level_names[level]);
	append_json_string(out, msg);
	for (; fields && fields->key; fields++) {
		if (!fields->value)
			continue;
		size_t number = number_length(fields->key, fields->value);

		buf_printf(out, ",\"%s\":", fields->key);
		if (number)
			buf_append(out, fields->value, number);
		else
			append_json_string(out, fields->value);
	}
	buf_puts(out, "}\n");
}

static void format_text(struct buf *out, enum log_level level, const char *msg,
			const struct log_field *fields)
{
	buf_printf(out, "pgboot: %s: ", level_names[level]);
	append_folded(out, msg);
	buf_puts(out, "\n");
	for (; fields && fields->key; fields++) {
		if (!fields->value || (strcmp(fields->key, "detail") != 0 &&
					strcmp(fields->key, "hint") != 0 && strcmp(fields->key, "context") != 0))
			continue;
		buf_printf(out, "pgboot: %s: ", fields->key);
		append_folded(out, fields->value);
		buf_puts(out, "\n");
	}
}

void log_event(enum log_level level, const struct log_field *fields, const char *fmt, ...)
{
	int saved_errno = errno;
	struct buf msg, out;
	va_list ap;
	int n;

	if (!log_enabled(level))
		return;
	buf_init(&msg);
	buf_init(&out);
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n >= 0) {
		char *tmp = xmalloc((size_t)n + 1);

		va_start(ap, fmt);
		vsnprintf(tmp, (size_t)n + 1, fmt, ap);
		va_end(ap);
		buf_append(&msg, tmp, (size_t)n);
		free(tmp);
	}
	if (format == LOG_JSON)
		format_json(&out, level, msg.data ? msg.data : "", fields);
	else
		format_text(&out, level, msg.data ? msg.data : "", fields);
	/* One write per event, so lines from concurrent replicas do not interleave. */
	fwrite(out.data, 1, out.len, stderr);
	fflush(stderr);
	buf_release(&msg);
	buf_release(&out);
	errno = saved_errno;
}
