/*
 * cfgfile: reads entrypoint.ini into a list of pairs, with inih, before any of it is applied:
 * which overlay sections ([create.production]) apply depends on the environment, which
 * may come from the file itself.
 */
#ifndef PGBOOT_CFGFILE_H
#define PGBOOT_CFGFILE_H

#include <stdbool.h>
#include <stddef.h>

struct cfgfile_pair {
	char *section;  /* "create" */
	char *overlay;  /* "production" in [create.production], else NULL */
	char *key;      /* "password", also for password_file */
	bool from_file; /* written as <key>_file: value is a path, relative to the file's dir */
	char *value;    /* as written: ${...} is expanded when the pair applies */
	int line;
};

struct cfgfile {
	char *path;
	char *dir; /* the file's directory, or NULL for the current one */
	struct cfgfile_pair *pairs;
	size_t n;
};

/* Says whether section (key NULL) or section.key exists. */
typedef bool (*cfgfile_known)(const char *section, const char *key);

/*
 * Reads path into out (released with cfgfile_release, also on failure). Unknown sections or
 * keys, a key set twice in a section (or with its _file twin), continuation lines, lines
 * over 198 bytes and syntax errors fail with "path:line: message" in err.
 */
int cfgfile_read(const char *path, cfgfile_known known, struct cfgfile *out, char *err, size_t errsize);
void cfgfile_release(struct cfgfile *f);

#endif
