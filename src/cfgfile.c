#include "cfgfile.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* inih reads lines through this state, so errors can name the line. */
struct cfgfile_state {
	struct cfgfile *file;
	cfgfile_known known;
	FILE *stream;
	char *raw;        /* the current line as read */
	size_t rawcap;
	int line;
	int error_line;   /* the first error's line, or 0 */
	char *err;
	size_t errsize;
	char prev[200];   /* the previous pair's section and key, for continuation lines */
	size_t cap;
};

static int ini_fail(struct cfgfile_state *st, const char *fmt, ...) PRINTF_LIKE(2, 3);
static int ini_fail(struct cfgfile_state *st, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (st->error_line)
		return 0;
	st->error_line = st->line;
	len = snprintf(st->err, st->errsize, "%s:%d: ", st->file->path, st->line);
	va_start(ap, fmt);
	if (len >= 0 && (size_t)len < st->errsize)
		vsnprintf(st->err + len, st->errsize - (size_t)len, fmt, ap);
	va_end(ap);
	return 0;
}

/* "create.production" -> base "create", overlay "production". Returns false when bad. */
static bool split_section(const char *section, char **base, char **overlay)
{
	const char *dot = strchr(section, '.');

	*base = xstrndup(section, dot ? (size_t)(dot - section) : strlen(section));
	*overlay = dot ? xstrdup(dot + 1) : NULL;
	if (!dot)
		return true;
	for (const char *p = dot + 1; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return false;
	return dot[1] != '\0';
}

/* Section headers are checked as read, so the error names their line, even when empty. */
static void check_section_line(struct cfgfile_state *st)
{
	const char *p = st->raw, *end;
	char *name, *base, *overlay;

	while (isspace((unsigned char)*p))
		p++;
	if (*p != '[' || !(end = strchr(p, ']')))
		return;
	name = xstrndup(p + 1, (size_t)(end - p - 1));
	if (!split_section(name, &base, &overlay) || !st->known(base, NULL))
		ini_fail(st, "unknown section \"[%s]\"", name);
	else if (overlay && strcmp(base, "pgboot") == 0)
		ini_fail(st, "section \"[%s]\": [pgboot] takes no environment overlay", name);
	free(name);
	free(base);
	free(overlay);
}

static char *read_line(char *str, int num, void *stream)
{
	struct cfgfile_state *st = stream;
	ssize_t n = getline(&st->raw, &st->rawcap, st->stream);

	if (n < 0)
		return NULL;
	st->line++;
	if (n >= num) {
		ini_fail(st, "line longer than %d bytes", num - 2);
		return NULL;
	}
	if (memchr(st->raw, '\0', (size_t)n)) {
		ini_fail(st, "line contains a NUL byte");
		return NULL;
	}
	check_section_line(st);
	memcpy(str, st->raw, (size_t)n + 1);
	return str;
}

static bool same_place(const struct cfgfile_pair *p, const char *base, const char *overlay,
		       const char *key)
{
	return strcmp(p->section, base) == 0 && strcmp(p->key, key) == 0 &&
	       (p->overlay ? overlay && strcasecmp(p->overlay, overlay) == 0 : !overlay);
}

/* Refuses a key set twice in one section, also as key and key_file. */
static bool duplicate(struct cfgfile_state *st, const char *base, const char *overlay,
		      const char *key, bool from_file, const char *section)
{
	for (size_t i = 0; i < st->file->n; i++) {
		const struct cfgfile_pair *p = &st->file->pairs[i];

		if (!same_place(p, base, overlay, key))
			continue;
		if (p->from_file != from_file)
			ini_fail(st, "both \"%s\" and \"%s_file\" are set in [%s] (the other on line %d)",
				 key, key, section, p->line);
		else
			ini_fail(st, "duplicate key \"%s.%s\" (first set on line %d)", section,
				 from_file ? p->key : key, p->line);
		return true;
	}
	return false;
}

static void add_pair(struct cfgfile_state *st, char *base, char *overlay, char *key, bool from_file,
		     char *value)
{
	struct cfgfile *f = st->file;

	if (f->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 32;
		f->pairs = xrealloc(f->pairs, st->cap * sizeof(*f->pairs));
	}
	f->pairs[f->n++] = (struct cfgfile_pair){ base, overlay, key, from_file, value, st->line };
}

static int handle_pair(void *user, const char *section, const char *name, const char *value)
{
	struct cfgfile_state *st = user;
	size_t n = strlen(name);
	bool from_file;
	char *base = NULL, *overlay = NULL, *key = NULL, *expanded = NULL, here[200];

	if (st->error_line)
		return 0;
	if (!*section)
		return ini_fail(st, "key \"%s\" is outside of any section", name);
	if (!split_section(section, &base, &overlay) || !st->known(base, NULL))
		goto fail; /* reported at the section's line */
	/* <key>_file, unless that is a key of its own (database.secret_file) */
	from_file = n > 5 && strcmp(name + n - 5, "_file") == 0 && !st->known(base, name);
	key = xstrndup(name, from_file ? n - 5 : n);
	snprintf(here, sizeof(here), "%s.%s", section, key);
	if (!st->known(base, key))
		ini_fail(st, "unknown key \"%s.%s\"", base, name);
	else if (isspace((unsigned char)st->raw[0]) && strcmp(st->prev, here) == 0)
		ini_fail(st, "continuation lines are not supported (key \"%s\")", here);
	else if (!duplicate(st, base, overlay, key, from_file, section))
		expanded = xstrdup(value);
	if (!expanded)
		goto fail;
	snprintf(st->prev, sizeof(st->prev), "%s", here);
	add_pair(st, base, overlay, key, from_file, expanded);
	return 1;
fail:
	free(base);
	free(overlay);
	free(key);
	return 0;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return NULL;
	return slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
}

int cfgfile_read(const char *path, cfgfile_known known, struct cfgfile *out, char *err, size_t errsize)
{
	struct cfgfile_state st = { .file = out, .known = known, .err = err, .errsize = errsize };
	int rc, ret = -1;

	memset(out, 0, sizeof(*out));
	out->path = xstrdup(path);
	out->dir = dir_of(path);
	st.stream = fopen(path, "re");
	if (!st.stream) {
		snprintf(err, errsize, "could not open configuration file \"%s\": %s", path,
			 strerror(errno));
		return -1;
	}
	rc = ini_parse_stream(read_line, &st, handle_pair, &st);
	if (ferror(st.stream))
		snprintf(err, errsize, "could not read configuration file \"%s\": %s", path,
			 strerror(errno));
	else if (rc > 0 && (!st.error_line || rc < st.error_line))
		snprintf(err, errsize, "%s:%d: syntax error (expected \"[section]\" or \"key = value\")",
			 path, rc);
	else if (rc < 0 && !st.error_line)
		snprintf(err, errsize, "could not read configuration file \"%s\"", path);
	else if (rc == 0 && !st.error_line)
		ret = 0;
	fclose(st.stream);
	free(st.raw);
	return ret;
}

void cfgfile_release(struct cfgfile *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->pairs[i].section);
		free(f->pairs[i].overlay);
		free(f->pairs[i].key);
		free(f->pairs[i].value);
	}
	free(f->pairs);
	free(f->path);
	free(f->dir);
	memset(f, 0, sizeof(*f));
}
