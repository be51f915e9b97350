/* A minimal test harness: each CHECK counts; each test prints "ok N - name" or "not ok". */
#ifndef PGBOOT_UNIT_H
#define PGBOOT_UNIT_H

#include <stdio.h>
#include <string.h>

extern int unit_failures;

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			unit_failures++;                                                   \
		}                                                                          \
	} while (0)

#define CHECK_STR(got, want)                                                               \
	do {                                                                               \
		const char *g_ = (got), *w_ = (want);                                      \
		if (!g_ || strcmp(g_, w_) != 0) {                                          \
			fprintf(stderr, "  %s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__,  \
				g_ ? g_ : "(null)", w_);                                   \
			unit_failures++;                                                   \
		}                                                                          \
	} while (0)

typedef void (*unit_fn)(void);

struct unit_test {
	const char *name;
	unit_fn fn;
};

void test_util(void);
void test_read_file(void);
void test_migfile(void);
void test_config(void);
void test_redact(void);
void test_backoff(void);
void test_retry(void);
void test_prehash(void);
void test_detect_sums(void);
void test_split(void);
void test_expand(void);
void test_lint(void);
void test_preflight(void);
void test_log(void);
void test_adopt(void);

/* Sends stderr to a temporary file until unit_captured_stderr, which copies what came. */
void unit_capture_stderr(void);
void unit_captured_stderr(char *out, size_t size);

#endif
