/* log: the one way pgboot writes to stderr, as text or as one JSON object per line. */
#ifndef PGBOOT_LOG_H
#define PGBOOT_LOG_H

#include <stdbool.h>

#include "util.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_TEXT, LOG_JSON };

/*
 * An extra key/value for an event. In text mode "detail", "hint" and "context" print as
 * lines of their own ("pgboot: hint: ..."); the others appear only in JSON. A NULL value
 * is skipped.
 */
struct log_field {
	const char *key;
	const char *value;
};

/* Sets the threshold and the format; the defaults are info and text. */
void log_setup(enum log_level level, enum log_format fmt);
bool log_enabled(enum log_level level);
/*
 * Writes one event: fields is NULL or ends with a {NULL, NULL} entry. Trailing newlines of
 * the message (libpq's) are stripped and inner ones folded, so an event stays one line.
 * errno is preserved.
 */
void log_event(enum log_level level, const struct log_field *fields, const char *fmt, ...)
	PRINTF_LIKE(3, 4);

#define log_debug(...) log_event(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_event(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...) log_event(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_event(LOG_ERROR, NULL, __VA_ARGS__)

#endif
