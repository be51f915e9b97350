#include "sig.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
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

/* The names exec.init_signal_map accepts, with or without "SIG". */
static const struct {
	const char *name;
	int signo;
} names[] = {
	{ "HUP", SIGHUP },     { "INT", SIGINT },	{ "QUIT", SIGQUIT },   { "ABRT", SIGABRT },
	{ "KILL", SIGKILL },   { "USR1", SIGUSR1 },	{ "USR2", SIGUSR2 },   { "PIPE", SIGPIPE },
	{ "ALRM", SIGALRM },   { "TERM", SIGTERM },	{ "CHLD", SIGCHLD },   { "CONT", SIGCONT },
	{ "STOP", SIGSTOP },   { "TSTP", SIGTSTP },	{ "TTIN", SIGTTIN },   { "TTOU", SIGTTOU },
	{ "URG", SIGURG },     { "XCPU", SIGXCPU },	{ "XFSZ", SIGXFSZ },   { "VTALRM", SIGVTALRM },
	{ "PROF", SIGPROF },   { "WINCH", SIGWINCH },	{ "IO", SIGIO },       { "PWR", SIGPWR },
	{ "SYS", SIGSYS },
};

int sig_from_name(const char *name, size_t len)
{
	if (len > 3 && strncasecmp(name, "SIG", 3) == 0)
		name += 3, len -= 3;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strlen(names[i].name) == len && strncasecmp(names[i].name, name, len) == 0)
			return names[i].signo;
	return 0;
}

/* One "FROM:TO" pair of length len into map; -1 when a name is unknown or ':' is missing. */
static int parse_pair(const char *pair, size_t len, struct sig_map *map)
{
	const char *colon = memchr(pair, ':', len);
	int from, to;

	if (!colon)
		return -1;
	from = sig_from_name(pair, (size_t)(colon - pair));
	to = sig_from_name(colon + 1, len - (size_t)(colon - pair) - 1);
	if (!from || !to || from == SIGKILL || from == SIGSTOP || from == SIGCHLD)
		return -1;
	map->to[from] = (unsigned char)to;
	return 0;
}

int sig_map_parse(const char *spec, struct sig_map *map, char *bad, size_t badsize)
{
	const char *p = spec, *w;
	size_t len;

	memset(map, 0, sizeof(*map));
	while (list_next(&p, &w, &len)) {
		if (parse_pair(w, len, map) < 0) {
			snprintf(bad, badsize, "%.*s", (int)(len > 40 ? 40 : len), w);
			return -1;
		}
	}
	return 0;
}

int sig_map_apply(const struct sig_map *map, int signo)
{
	return signo > 0 && signo < SIG_MAP_SIZE && map->to[signo] ? map->to[signo] : signo;
}

/* Faults stay deliverable to pgboot itself; SIGTTIN and SIGTTOU are ignored, as tini does. */
static const int own_signals[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS,
				   SIGTTIN, SIGTTOU };

void sig_supervise_block(sigset_t *waited)
{
	struct sigaction chld;

	/*
	 * An ignored SIGCHLD would reap the application before its status is read. Set here,
	 * before there is a child: setting SIG_DFL later would discard a pending SIGCHLD.
	 */
	if (sigaction(SIGCHLD, NULL, &chld) == 0 && chld.sa_handler == SIG_IGN) {
		chld.sa_handler = SIG_DFL;
		chld.sa_flags = 0;
		sigaction(SIGCHLD, &chld, NULL);
	}
	sigfillset(waited);
	for (size_t i = 0; i < ARRAY_SIZE(own_signals); i++)
		sigdelset(waited, own_signals[i]);
	sigprocmask(SIG_SETMASK, waited, NULL);
}

void sig_supervise_setup(void)
{
	struct sigaction ign = { 0 };

	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGTTIN, &ign, NULL);
	sigaction(SIGTTOU, &ign, NULL);
}
