/* util: memory, growable buffers, number and duration parsing, clocks, hashing. */
#ifndef PGBOOT_UTIL_H
#define PGBOOT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocators that print an error and exit 70 when memory runs out. */
void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a new string formatted like printf; the caller frees it. */
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* A growable, always NUL-terminated byte buffer. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};
void buf_init(struct buf *b);
void buf_release(struct buf *b);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Appends s as a JSON string, quoted and escaped. */
void buf_json_string(struct buf *b, const char *s);
/* Appends s with control characters and every byte above 0x7E written as \xNN. */
void buf_escaped(struct buf *b, const char *s);
/* Takes the buffer's string; the buffer is left empty and the caller frees the result. */
char *buf_detach(struct buf *b);

/*
 * Appends the whole file at path to out (initialised by the caller), reading until end of
 * file (short reads and EINTR are retried). Returns 0, or -1 with errno set. Either way
 * out->data is allocated and NUL-terminated at out->len, also for an empty file. A file that
 * contains a NUL byte reads fine: check out->len against strlen.
 */
int read_file(const char *path, struct buf *out);

/*
 * Parses a duration with units: "250ms", "30s", "5m", "1h", "1m30s", or "0".
 * Returns 0 and stores milliseconds, or -1 for anything else (including overflow).
 */
int parse_duration(const char *s, int64_t *ms);
/*
 * Walks a comma-separated list: sets *word and *len to the next item with its surrounding
 * spaces cut (it may be empty) and advances *p past it. Returns false at the end.
 */
bool list_next(const char **p, const char **word, size_t *len);
/* Parses a whole decimal number in [min, max]. Returns 0, or -1. */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Formats milliseconds as seconds with 3 decimals ("1.250s") into out. */
void format_seconds(int64_t ms, char *out, size_t size);

/* Milliseconds on the monotonic clock. */
int64_t clock_ms(void);

/* Writes n bytes as lowercase hex into out (2n + 1 bytes with the NUL). */
void hex_encode(const unsigned char *bytes, size_t n, char *out);
/* OpenSSL's SHA-256, looked up once. */
const EVP_MD *sha256_md(void);
/* Lowercase hex SHA-256 of data into out (65 bytes with the NUL). */
void sha256_hex(const void *data, size_t len, char out[65]);
/* The first 8 bytes of SHA-256 of s, as a signed 64-bit number (advisory lock keys). */
int64_t sha256_int64(const char *s);

/* True when s is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
bool utf8_valid(const char *s);

/* A small xorshift generator for jitter, seeded from the OS. */
uint64_t random_seed(void);
uint64_t random_next(uint64_t *state);

#endif
