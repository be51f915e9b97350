/*
 * sig: signals. While pgboot works, SIGTERM, SIGINT and SIGHUP stay blocked except inside
 * sig_wait, so a signal is never lost between a check and a wait: every wait of pgboot
 * (backoff sleeps, connecting, queries) goes through sig_wait. While it supervises the
 * application (exec.init), every signal it forwards stays blocked and is taken synchronously.
 */
#ifndef PGBOOT_SIG_H
#define PGBOOT_SIG_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* Installs the handlers and blocks the signals, remembering what was there before. */
void sig_setup(void);
/* Restores the dispositions and the mask found at sig_setup (before exec). */
void sig_restore(void);
/* The number of the first termination signal received, or 0. */
int sig_caught(void);
/*
 * Waits up to timeout_ms (negative: no limit) for events on fd (fd < 0: just sleeps) with
 * the signals unblocked. Returns 1 when fd is ready, 0 on timeout or when a signal came
 * (callers check sig_caught()), -1 on error (errno).
 */
int sig_wait(int fd, short events, int64_t timeout_ms);

/* exec.init_signal_map: the signal to send in place of each signal received (0: the same). */
#define SIG_MAP_SIZE 65
struct sig_map {
	unsigned char to[SIG_MAP_SIZE];
};

/* The number of a signal name of length len ("TERM", "SIGTERM", any case), or 0. */
int sig_from_name(const char *name, size_t len);
/*
 * Parses "TERM:QUIT,INT:TERM" into map. Returns 0, or -1 with the pair that is not two
 * known signal names (or that rewrites KILL, STOP or CHLD) copied into bad.
 */
int sig_map_parse(const char *spec, struct sig_map *map, char *bad, size_t badsize);
/* The signal to forward for signo. */
int sig_map_apply(const struct sig_map *map, int signo);

/*
 * For the supervisor, before fork: blocks every signal but the faults, SIGTTIN and SIGTTOU,
 * and fills waited with the blocked set, for sigtimedwait; an ignored SIGCHLD is set back
 * to its default. The mask saved by sig_setup stays the one sig_restore restores.
 */
void sig_supervise_block(sigset_t *waited);
/* In the supervisor after fork: ignores SIGTTIN and SIGTTOU, as tini does. */
void sig_supervise_setup(void);

#endif
