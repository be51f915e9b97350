#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "util.h"
#include "db.h"

/* The items list_next finds in s, joined with "|". */
static void check_list(const char *s, const char *want)
{
	char got[128] = "";
	const char *p = s, *w;
	size_t len, used = 0;
	bool first = true;

	while (list_next(&p, &w, &len)) {
		used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%.*s", first ? "" : "|",
					 (int)len, w);
		first = false;
	}
	CHECK_STR(got, want);
}

static void test_list_next(void)
{
	check_list("", "");
	check_list("production", "production");
	check_list(" production , staging,qa ", "production|staging|qa");
	check_list("a,,b", "a||b");
	check_list("a,", "a");
	check_list(",", "");
	check_list("  ", "");
}

void test_util(void)
{
	int64_t ms, n;

	test_list_next();

	CHECK(parse_duration("250ms", &ms) == 0 && ms == 250);
	CHECK(parse_duration("30s", &ms) == 0 && ms == 30000);
	CHECK(parse_duration("5m", &ms) == 0 && ms == 300000);
	CHECK(parse_duration("1h", &ms) == 0 && ms == 3600000);
	CHECK(parse_duration("1m30s", &ms) == 0 && ms == 90000);
	CHECK(parse_duration("1s500ms", &ms) == 0 && ms == 1500);
	CHECK(parse_duration("0", &ms) == 0 && ms == 0);
	CHECK(parse_duration("0s", &ms) == 0 && ms == 0);
	CHECK(parse_duration("30", &ms) < 0);        /* a unit is required */
	CHECK(parse_duration("", &ms) < 0);
	CHECK(parse_duration("s", &ms) < 0);
	CHECK(parse_duration("-5s", &ms) < 0);
	CHECK(parse_duration("5 s", &ms) < 0);
	CHECK(parse_duration("5sec", &ms) < 0);
	CHECK(parse_duration("1.5s", &ms) < 0);
	CHECK(parse_duration("5d", &ms) < 0);
	CHECK(parse_duration("99999999999999999999s", &ms) < 0);
	CHECK(parse_duration("9223372036854775807h", &ms) < 0);

	CHECK(parse_int64("5432", 1, 65535, &n) == 0 && n == 5432);
	CHECK(parse_int64("0", 1, 65535, &n) < 0);
	CHECK(parse_int64("65536", 1, 65535, &n) < 0);
	CHECK(parse_int64("-1", 1, 65535, &n) < 0);
	CHECK(parse_int64("12a", 1, 65535, &n) < 0);
	CHECK(parse_int64(" 12", 1, 65535, &n) < 0);
	CHECK(parse_int64("+12", 1, 65535, &n) < 0);
	CHECK(parse_int64("99999999999999999999", 0, INT64_MAX, &n) < 0);
}

void test_backoff(void)
{
	for (int k = 0; k < 50; k++) {
		struct db_backoff b;

		db_backoff_init(&b, 50, 250, false);
		for (int attempt = 1; attempt < 80; attempt++) {
			int64_t cap = 50;
			int64_t d = db_backoff_next(&b);

			for (int i = 0; i < attempt && cap < 250; i++)
				cap *= 2;
			if (cap > 250)
				cap = 250;
			CHECK(d >= 0 && d <= cap);
		}
	}
	/* Full jitter: delays spread up to the cap. */
	{
		int64_t max_seen = 0;

		for (int k = 0; k < 1000; k++) {
			struct db_backoff b;

			db_backoff_init(&b, 50, 250, false);
			b.attempt = 9;
			int64_t d = db_backoff_next(&b);

			if (d > max_seen)
				max_seen = d;
		}
		CHECK(max_seen > 200);
	}
	/* Half fixed (lock-timeout retries): 1 s, 2 s, 4 s ... at most 30 s, half of it always. */
	{
		struct db_backoff b;
		int64_t cap = 1000;

		db_backoff_init(&b, 500, 30000, true);
		for (int attempt = 1; attempt < 12; attempt++, cap = cap * 2 > 30000 ? 30000 : cap * 2) {
			int64_t d = db_backoff_next(&b);

			CHECK(d >= cap / 2 && d <= cap);
		}
	}
}

static bool between(int64_t d, int64_t lo, int64_t hi)
{
	return d >= lo && d <= hi;
}

/* The pause after a failed connection attempt depends on what it met (db_retry_next). */
void test_retry(void)
{
	struct config cfg;
	struct db_retry r;
	struct db_error refused, starting, auth;

	memset(&cfg, 0, sizeof(cfg));
	cfg.initial_delay_ms = 50;
	cfg.max_delay_ms = 250;
	memset(&refused, 0, sizeof(refused));
	snprintf(refused.message, sizeof(refused.message), "connection to server at \"127.0.0.1\", "
		 "port 5432 failed: Connection refused");
	memset(&starting, 0, sizeof(starting));
	snprintf(starting.sqlstate, sizeof(starting.sqlstate), "57P03");
	snprintf(starting.message, sizeof(starting.message), "the database system is starting up");
	memset(&auth, 0, sizeof(auth));
	snprintf(auth.sqlstate, sizeof(auth.sqlstate), "28P01");
	db_retry_init(&r, &cfg);
	/* nothing listens: every 10 ms, however long it lasts */
	for (int i = 0; i < 100; i++)
		CHECK(db_retry_next(&r, &refused) == 10);
	/* starting up: 10-20 ms for the first second it says so, then 50-100 ms */
	for (int i = 0; i < 50; i++)
		CHECK(between(db_retry_next(&r, &starting), 10, 20));
	r.starting_since -= 1000;
	for (int i = 0; i < 50; i++)
		CHECK(between(db_retry_next(&r, &starting), 50, 100));
	/* anything else: the configured backoff, whose first cap is 2 x 50 ms */
	CHECK(between(db_retry_next(&r, &auth), 0, 100));
	/* wait.max_delay bounds them all */
	cfg.max_delay_ms = 5;
	db_retry_init(&r, &cfg);
	CHECK(db_retry_next(&r, &refused) == 5);
	CHECK(between(db_retry_next(&r, &starting), 2, 5));
	r.starting_since -= 1000;
	CHECK(between(db_retry_next(&r, &starting), 2, 5));
}

static volatile sig_atomic_t alarms;

static void count_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* A temporary file holding len bytes of data; the caller unlinks and frees the path. */
static char *temp_file(const char *data, size_t len)
{
	char *path = xstrdup("/tmp/pgboot-unit-XXXXXX");
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, data, len) == (ssize_t)len);
		close(fd);
	}
	return path;
}

/* "ab", a pause, "cd", a pause, end of file: short reads, with signals arriving meanwhile. */
static void read_file_from_slow_pipe(void)
{
	static const struct timespec pause = { 0, 150 * 1000 * 1000 };
	struct sigaction sa = { 0 }, old;
	struct itimerval every = { { 0, 10000 }, { 0, 10000 } }, off = { { 0, 0 }, { 0, 0 } };
	struct buf b;
	char path[64];
	int fds[2], rc;
	pid_t pid;

	CHECK(pipe(fds) == 0);
	/* Nothing buffered for the child to write again (valgrind flushes stdio at _exit). */
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		if (write(fds[1], "ab", 2) != 2 || nanosleep(&pause, NULL) != 0 ||
		    write(fds[1], "cd", 2) != 2 || nanosleep(&pause, NULL) != 0)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	/* No SA_RESTART: a blocked read() fails with EINTR at each tick. */
	sa.sa_handler = count_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	alarms = 0;
	setitimer(ITIMER_REAL, &every, NULL);
	snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
	buf_init(&b);
	rc = read_file(path, &b);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	CHECK(rc == 0);
	CHECK(alarms > 0);
	CHECK(b.len == 4);
	CHECK_STR(b.data, "abcd");
	buf_release(&b);
	close(fds[0]);
	CHECK(waitpid(pid, &rc, 0) == pid && WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
}

void test_read_file(void)
{
	char *empty = temp_file("", 0), *text = temp_file("x\0y\n", 4);
	struct buf b;

	/* An empty file: terminated, also in a buffer that held bytes beyond its length. */
	buf_init(&b);
	CHECK(read_file(empty, &b) == 0);
	CHECK(b.data && b.len == 0 && b.data[0] == '\0');
	buf_release(&b);
	b.cap = 64;
	b.data = xmalloc(b.cap);
	memset(b.data, 'z', b.cap);
	CHECK(read_file(empty, &b) == 0);
	CHECK(b.len == 0 && b.data[0] == '\0');
	buf_release(&b);
	/* Appends to what the buffer holds. */
	buf_puts(&b, "abc");
	CHECK(read_file(empty, &b) == 0);
	CHECK(b.len == 3);
	CHECK_STR(b.data, "abc");
	CHECK(read_file(text, &b) == 0);
	CHECK(b.len == 7 && memcmp(b.data, "abcx\0y\n", 8) == 0);
	buf_release(&b);
	/* Failures leave a terminated buffer too, and errno. */
	CHECK(read_file("/nonexistent/pgboot-unit", &b) < 0 && errno == ENOENT);
	CHECK(b.data && b.len == 0 && b.data[0] == '\0');
	buf_release(&b);
	CHECK(read_file("/tmp", &b) < 0 && errno == EISDIR);
	CHECK(b.data && b.len == 0 && b.data[0] == '\0');
	buf_release(&b);
	read_file_from_slow_pipe();
	unlink(empty);
	unlink(text);
	free(empty);
	free(text);
}
