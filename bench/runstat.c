/*
 * runstat: run one command and record what it cost, for bench/run.
 *
 *   runstat [-t SECONDS] OUTFILE COMMAND [ARG...]
 *
 * Runs COMMAND (execvp, stdio inherited) and appends one line to OUTFILE:
 *
 *   exit wall_us user_us sys_us maxrss_kb start_ns end_ns
 *
 * wall_us is CLOCK_MONOTONIC from just before fork to the return of wait4; user_us and sys_us
 * are the child's CPU time (with its waited-for descendants) and maxrss_kb the largest
 * resident set among them, from wait4's rusage: microseconds where /usr/bin/time prints
 * hundredths of a second. start_ns and end_ns are CLOCK_REALTIME, the clock of PostgreSQL's
 * %m log timestamps. exit is the exit status, or 128+N after signal N.
 *
 * With -t, COMMAND gets SIGTERM after SECONDS and SIGKILL 5 s later, so that no benchmark
 * step can hang. SIGTERM, SIGINT and SIGHUP sent to runstat are passed on to COMMAND.
 * runstat exits with COMMAND's status, 125 when it could not run it at all (127 when
 * COMMAND was not found, 126 when it could not be executed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;
static volatile sig_atomic_t timed_out;

static int64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t tv_us(struct timeval tv)
{
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void forward(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

/* First alarm: SIGTERM; the next one, 5 s later: SIGKILL. */
static void on_alarm(int sig)
{
	(void)sig;
	if (child_pid <= 0)
		return;
	if (!timed_out) {
		timed_out = 1;
		kill((pid_t)child_pid, SIGTERM);
		alarm(5);
	} else {
		kill((pid_t)child_pid, SIGKILL);
	}
}

static void handle(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static int usage(void)
{
	fprintf(stderr, "usage: runstat [-t SECONDS] OUTFILE COMMAND [ARG...]\n");
	return 125;
}

int main(int argc, char **argv)
{
	struct rusage ru;
	int64_t t0, t1, r0, r1;
	unsigned limit = 0;
	int status, code, arg = 1;
	pid_t pid;
	FILE *out;

	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		char *end;
		long v = strtol(argv[2], &end, 10);

		if (*end || v <= 0 || v > 86400)
			return usage();
		limit = (unsigned)v;
		arg = 3;
	}
	if (argc - arg < 2)
		return usage();
	out = fopen(argv[arg], "a");
	if (!out) {
		fprintf(stderr, "runstat: could not open \"%s\": %s\n", argv[arg], strerror(errno));
		return 125;
	}
	handle(SIGTERM, forward);
	handle(SIGINT, forward);
	handle(SIGHUP, forward);
	handle(SIGALRM, on_alarm);
	r0 = now_ns(CLOCK_REALTIME);
	t0 = now_ns(CLOCK_MONOTONIC);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "runstat: could not fork: %s\n", strerror(errno));
		return 125;
	}
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		execvp(argv[arg + 1], argv + arg + 1);
		dprintf(2, "runstat: could not run \"%s\": %s\n", argv[arg + 1], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	if (limit)
		alarm(limit);
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "runstat: wait4: %s\n", strerror(errno));
			return 125;
		}
	}
	t1 = now_ns(CLOCK_MONOTONIC);
	r1 = now_ns(CLOCK_REALTIME);
	alarm(0);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (timed_out)
		fprintf(stderr, "runstat: \"%s\" ran longer than %u s and was stopped\n",
			argv[arg + 1], limit);
	fprintf(out, "%d %lld %lld %lld %ld %lld %lld\n", code, (long long)((t1 - t0) / 1000),
		(long long)tv_us(ru.ru_utime), (long long)tv_us(ru.ru_stime), ru.ru_maxrss,
		(long long)r0, (long long)r1);
	if (fclose(out) != 0) {
		fprintf(stderr, "runstat: could not write \"%s\"\n", argv[arg]);
		return 125;
	}
	return code;
}
