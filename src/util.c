#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * For failures that leave nothing to do but exit 70 (out of memory, a broken libcrypto).
 * Writes directly: the logger allocates, and util sits below it.
 */
static void die(const char *msg)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "pgboot: error: %s\n", msg);

	if (n < 0 || write(STDERR_FILENO, line, (size_t)n) < 0)
		_exit(70);
	exit(70);
}

static void out_of_memory(void)
{
	die("out of memory");
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		out_of_memory();
	return p;
}

void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);

	if (!p)
		out_of_memory();
	return p;
}

void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (!p)
		out_of_memory();
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory();
	s = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

void buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

static void buf_grow(struct buf *b, size_t extra)
{
	size_t need;

	if (extra > SIZE_MAX - b->len - 1)
		out_of_memory();
	need = b->len + extra + 1;
	if (need <= b->cap && b->data)
		return;
	if (b->cap < 64)
		b->cap = 64;
	while (b->cap < need)
		b->cap = b->cap > SIZE_MAX / 2 ? need : b->cap * 2;
	b->data = xrealloc(b->data, b->cap);
}

void buf_append(struct buf *b, const void *data, size_t len)
{
	buf_grow(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void buf_json_string(struct buf *b, const char *s)
{
	buf_puts(b, "\"");
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\u%04x", c);
		else
			buf_append(b, p, 1);
	}
	buf_puts(b, "\"");
}

char *buf_detach(struct buf *b)
{
	char *s = b->data ? b->data : xstrdup("");

	buf_init(b);
	return s;
}

int read_file(const char *path, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int ret = -1;

	if (fd < 0)
		goto out;
	/* Sized once from the file, so a large migration is not copied by doubling. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size < SIZE_MAX / 2 && out->cap < out->len + (size_t)st.st_size + 2) {
		out->cap = out->len + (size_t)st.st_size + 2;
		out->data = xrealloc(out->data, out->cap);
	}
	for (;;) {
		ssize_t n;

		if (out->cap - out->len < 2)
			buf_grow(out, 65536);
		n = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		out->len += (size_t)n;
	}
	ret = 0;
out:
	{
		int saved = errno;

		/* Terminated on every path: an empty file or a failed read writes no byte. */
		buf_append(out, "", 0);
		if (fd >= 0)
			close(fd);
		errno = saved;
	}
	return ret;
}

bool list_next(const char **p, const char **word, size_t *len)
{
	const char *w = *p;
	size_t n = strcspn(w, ",");

	if (!*w)
		return false;
	*p = w + n + (w[n] == ',');
	while (n && *w == ' ')
		w++, n--;
	while (n && w[n - 1] == ' ')
		n--;
	*word = w;
	*len = n;
	return true;
}

int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	/* strtoll would skip leading white space ("\t5") and take a "+": neither is a number here. */
	if (!s || !(*s == '-' || (*s >= '0' && *s <= '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	int64_t total = 0;

	if (!s || !*s)
		return -1;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*s) {
		int64_t n = 0;
		size_t i;

		if (*s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (n > (INT64_MAX - 9) / 10)
				return -1;
			n = n * 10 + (*s - '0');
		}
		for (i = 0; i < ARRAY_SIZE(units); i++) {
			size_t len = strlen(units[i].unit);

			/* "m" must not swallow the "m" of "ms". */
			if (strncmp(s, units[i].unit, len) == 0 &&
			    !(len == 1 && s[0] == 'm' && s[1] == 's'))
				break;
		}
		if (i == ARRAY_SIZE(units))
			return -1;
		if (n > (INT64_MAX - total) / units[i].ms)
			return -1;
		total += n * units[i].ms;
		s += strlen(units[i].unit);
	}
	*ms = total;
	return 0;
}

void format_seconds(int64_t ms, char *out, size_t size)
{
	snprintf(out, size, "%lld.%03llds", (long long)(ms / 1000), (long long)(ms % 1000));
}

int64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const EVP_MD *sha256_md(void)
{
	/*
	 * Fetched once: with EVP_sha256(), every digest looks the algorithm up in OpenSSL 3's
	 * providers again, which cost more than hashing a migration file (28,000 instructions
	 * a digest, 5.7 million for 200 files: callgrind, 2026-12-07).
	 */
	static EVP_MD *md;

	if (!md)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	return md ? md : EVP_sha256();
}

static void sha256_raw(const void *data, size_t len, unsigned char md[32])
{
	unsigned int mdlen = 32;

	if (!EVP_Digest(data, len, md, &mdlen, sha256_md(), NULL))
		die("could not compute a SHA-256 digest");
}

void hex_encode(const unsigned char *bytes, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}

void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];

	sha256_raw(data, len, md);
	hex_encode(md, 32, out);
}

int64_t sha256_int64(const char *s)
{
	unsigned char md[32];
	uint64_t v = 0;
	int i;

	sha256_raw(s, strlen(s), md);
	for (i = 0; i < 8; i++)
		v = (v << 8) | md[i];
	return (int64_t)v;
}

uint64_t random_seed(void)
{
	uint64_t seed = 0;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (uint64_t)clock_ms() ^ ((uint64_t)getpid() << 32);
	return seed ? seed : 0x9e3779b97f4a7c15u;
}

uint64_t random_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2
			: (*p & 0xF8) == 0xF0 ? 3 : -1;
		unsigned cp;

		if (n < 0 || (n == 1 && *p < 0xC2))
			return false;
		cp = n == 0 ? *p : n == 1 ? *p & 0x1Fu : n == 2 ? *p & 0x0Fu : *p & 0x07u;
		for (int i = 1; i <= n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3Fu);
		}
		/* overlong forms, UTF-16 surrogates and beyond U+10FFFF */
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		p += n + 1;
	}
	return true;
}

void buf_escaped(struct buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p >= 0x7F)
			buf_printf(b, "\\x%02X", *p);
		else
			buf_append(b, p, 1);
	}
}
