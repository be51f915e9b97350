#include "migfile.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

void mig_list_init(struct mig_list *list)
{
	list->items = NULL;
	list->n = 0;
}

void mig_list_release(struct mig_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->items[i].file);
		free(list->items[i].path);
	}
	free(list->items);
	mig_list_init(list);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int mig_parse_name(const char *file, int64_t *version)
{
	const char *p = file;
	int64_t v = 0;

	if (*p < '0' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	/* A name after the underscore, a .sql ending, and not a down migration. */
	if (*p != '_' || p[1] == '\0' || !ends_with(p + 1, ".sql") || strlen(p + 1) <= 4 ||
	    ends_with(p + 1, ".down.sql"))
		return 0;
	*version = v;
	return 1;
}

static int by_version(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return strcmp(x->file, y->file);
}

static bool is_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static enum status check_duplicates(const struct mig_list *list)
{
	for (size_t i = 1; i < list->n; i++) {
		if (list->items[i].version == list->items[i - 1].version) {
			log_error("migrations \"%s\" and \"%s\" have the same version %lld",
				  list->items[i - 1].path, list->items[i].path,
				  (long long)list->items[i].version);
			return ST_MIGRATION;
		}
	}
	return ST_OK;
}

enum status mig_scan(const char *dir, struct mig_list *out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;

	if (!d) {
		log_error("could not open migrations directory \"%s\": %s", dir, strerror(errno));
		return ST_CONFIG;
	}
	while ((errno = 0, de = readdir(d))) {
		int64_t version;
		char *path;
		int rc = mig_parse_name(de->d_name, &version);

		if (rc < 0) {
			log_error("migration \"%s/%s\": version does not fit in 63 bits", dir, de->d_name);
			closedir(d);
			return ST_MIGRATION;
		}
		path = xasprintf("%s/%s", dir, de->d_name);
		if (rc == 0) {
			if (de->d_name[0] != '.' && ends_with(de->d_name, ".sql") &&
			    !ends_with(de->d_name, ".down.sql"))
				log_warn("ignoring \"%s\": not named <version>_<name>.sql", path);
			else if (de->d_name[0] != '.')
				log_debug("ignoring \"%s\": not a migration file", path);
			free(path);
			continue;
		}
		/* d_type spares a stat per file; links and unknown types are looked up */
		if (de->d_type != DT_REG && !is_regular(path)) {
			log_error("migration \"%s\" is not a regular file (a dangling link, a directory "
				  "or a pipe)", path);
			free(path);
			closedir(d);
			return ST_MIGRATION;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 32;
			out->items = xrealloc(out->items, cap * sizeof(*out->items));
		}
		out->items[out->n++] = (struct migration){ version, xstrdup(de->d_name), path, 0 };
	}
	if (errno) {
		log_error("could not read migrations directory \"%s\": %s", dir, strerror(errno));
		closedir(d);
		return ST_CONFIG;
	}
	closedir(d);
	if (out->n)
		qsort(out->items, out->n, sizeof(*out->items), by_version);
	return check_duplicates(out);
}

/* The offset of the line "-- pgboot:down", or len when the file has none. */
static size_t down_marker(const char *sql, size_t len)
{
	for (size_t p = 0; p < len;) {
		const char *nl = memchr(sql + p, '\n', len - p);
		size_t end = nl ? (size_t)(nl - sql) : len, n = end - p;

		while (n && (sql[p + n - 1] == '\r' || sql[p + n - 1] == ' ' || sql[p + n - 1] == '\t'))
			n--;
		if (n == strlen("-- pgboot:down") && memcmp(sql + p, "-- pgboot:down", n) == 0)
			return p;
		p = end + 1;
	}
	return len;
}

static int read_whole(const char *path, struct buf *sql)
{
	static const char bom[] = "\xef\xbb\xbf";
	const char *nul;

	if (read_file(path, sql) < 0) {
		log_error("could not read migration \"%s\": %s", path, strerror(errno));
		return -1;
	}
	/* Only the bytes read are looked at: an empty file has none. */
	nul = memchr(sql->data, '\0', sql->len);
	if (nul) {
		log_error("migration \"%s\" contains a NUL byte at offset %zu", path,
			  (size_t)(nul - sql->data));
		return -1;
	}
	if (sql->len >= 3 && memcmp(sql->data, bom, 3) == 0) {
		memmove(sql->data, sql->data + 3, sql->len - 2);
		sql->len -= 3;
	}
	return 0;
}

int mig_read(const struct migration *m, struct buf *sql)
{
	if (read_whole(m->path, sql) < 0)
		return -1;
	sql->len = down_marker(sql->data, sql->len);
	sql->data[sql->len] = '\0';
	return 0;
}

int mig_read_down(const struct migration *m, struct buf *sql, char **where, int *line_offset)
{
	size_t marker, n = strlen(m->path) - strlen(".sql");
	char *companion;

	*where = NULL;
	*line_offset = 0;
	if (read_whole(m->path, sql) < 0)
		return -1;
	marker = down_marker(sql->data, sql->len);
	if (marker < sql->len) {
		const char *nl = memchr(sql->data + marker, '\n', sql->len - marker);
		size_t start = nl ? (size_t)(nl - sql->data) + 1 : sql->len;

		for (size_t i = 0; i < start; i++)
			*line_offset += sql->data[i] == '\n';
		memmove(sql->data, sql->data + start, sql->len - start + 1);
		sql->len -= start;
		*where = xstrdup(m->path);
		return 1;
	}
	companion = xasprintf("%.*s.down.sql", (int)n, m->path);
	sql->len = 0;
	sql->data[0] = '\0';
	if (access(companion, F_OK) != 0) {
		free(companion);
		return 0;
	}
	*where = companion;
	return read_whole(companion, sql) < 0 ? -1 : 1;
}

void mig_checksum(const char *data, size_t len, char out[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	unsigned int mdlen = 32;
	size_t start = 0;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		log_error("could not compute a SHA-256 digest");
		exit(70);
	}
	/* Feeds the spans between the CRs that precede an LF. */
	for (size_t i = 0; i + 1 < len; i++) {
		if (data[i] == '\r' && data[i + 1] == '\n') {
			EVP_DigestUpdate(ctx, data + start, i - start);
			start = i + 1;
		}
	}
	EVP_DigestUpdate(ctx, data + start, len - start);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	hex_encode(md, 32, out);
}

void mig_position(const char *sql, size_t len, int position, int *line, int *column)
{
	int chars = 0, last_line = 1, last_column = 1;

	*line = 1;
	*column = 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)sql[i];

		if ((c & 0xc0) == 0x80)
			continue; /* a UTF-8 continuation byte: not a character of its own */
		if (++chars >= position)
			return;
		last_line = *line;
		last_column = *column;
		if (c == '\n') {
			(*line)++;
			*column = 1;
		} else if (!(c == '\r' && i + 1 < len && sql[i + 1] == '\n')) {
			(*column)++;
		}
	}
	*line = last_line; /* past the end: the last character */
	*column = last_column;
}

/* "Add users!" -> "add_users": lower case, runs of anything else as one underscore. */
static char *slug(const char *name)
{
	struct buf b;

	buf_init(&b);
	for (const char *p = name; *p; p++) {
		char c = *p >= 'A' && *p <= 'Z' ? (char)(*p + 32) : *p;
		bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (keep)
			buf_append(&b, &c, 1);
		else if (b.len && b.data[b.len - 1] != '_')
			buf_append(&b, "_", 1);
	}
	while (b.len && b.data[b.len - 1] == '_')
		b.data[--b.len] = '\0';
	return buf_detach(&b);
}

/* The next version: a timestamp when the directory uses them, else the newest plus one. */
static void next_version(const struct mig_list *list, char *out, size_t size)
{
	const struct migration *newest = list->n ? &list->items[list->n - 1] : NULL;
	int width = newest ? (int)strspn(newest->file, "0123456789") : 4;

	if (newest && newest->version >= 10000000000000LL) {
		time_t now = time(NULL);
		struct tm tm;
		int64_t v;

		gmtime_r(&now, &tm);
		strftime(out, size, "%Y%m%d%H%M%S", &tm);
		v = strtoll(out, NULL, 10);
		if (v <= newest->version)
			snprintf(out, size, "%" PRId64, newest->version + 1);
		return;
	}
	snprintf(out, size, "%0*" PRId64, width, (newest ? newest->version : 0) + 1);
}

enum status mig_new(const char *dir, const char *name)
{
	char *base = slug(name), *path = NULL, version[32];
	struct mig_list list;
	enum status st = ST_CONFIG;
	int fd;

	mig_list_init(&list);
	if (!*base) {
		log_error("migration name \"%s\" has no letters or digits", name);
		goto out;
	}
	if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
		log_error("could not create migrations directory \"%s\": %s", dir, strerror(errno));
		goto out;
	}
	if ((st = mig_scan(dir, &list)) != ST_OK)
		goto out;
	st = ST_CONFIG;
	next_version(&list, version, sizeof(version));
	path = xasprintf("%s/%s_%s.sql", dir, version, base);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0) {
		log_error("could not create \"%s\": %s", path, strerror(errno));
		goto out;
	}
	{
		char *text = xasprintf("-- %s\n-- Runs in one transaction with its history row. Make "
				       "\"-- pgboot:no-transaction\" the first\n-- line to run it statement "
				       "by statement; add a \"-- pgboot:down\" line before\n-- the SQL "
				       "that undoes it.\n", name);
		ssize_t n = write(fd, text, strlen(text));

		free(text);
		if (close(fd) < 0 || n < 0) {
			log_error("could not write \"%s\": %s", path, strerror(errno));
			goto out;
		}
	}
	printf("%s\n", path);
	st = ST_OK;
out:
	mig_list_release(&list);
	free(base);
	free(path);
	return st;
}
