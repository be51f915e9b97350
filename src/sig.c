#include "sig.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <time.h>

#include "util.h"

static const int handled[] = { SIGTERM, SIGINT, SIGHUP };
static struct sigaction saved_actions[ARRAY_SIZE(handled)];
static sigset_t saved_mask;
static volatile sig_atomic_t caught;

static void on_signal(int signo)
{
	if (!caught)
		caught = signo;
}

void sig_setup(void)
{
	struct sigaction sa = { 0 };
	sigset_t block;

	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < ARRAY_SIZE(handled); i++) {
		sigaction(handled[i], &sa, &saved_actions[i]);
		sigaddset(&block, handled[i]);
	}
	sigprocmask(SIG_BLOCK, &block, &saved_mask);
}

void sig_restore(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(handled); i++)
		sigaction(handled[i], &saved_actions[i], NULL);
	sigprocmask(SIG_SETMASK, &saved_mask, NULL);
}

int sig_caught(void)
{
	return caught;
}

int sig_wait(int fd, short events, int64_t timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	struct timespec ts, *tsp = NULL;
	int n;

	if (timeout_ms >= 0) {
		ts.tv_sec = (time_t)(timeout_ms / 1000);
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
		tsp = &ts;
	}
	n = ppoll(fd >= 0 ? &pfd : NULL, fd >= 0 ? 1 : 0, tsp, &saved_mask);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	return n > 0 ? 1 : 0;
}
