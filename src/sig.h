/*
 * sig: termination signals while pgboot works. SIGTERM, SIGINT and SIGHUP stay blocked
 * except inside sig_wait, so a signal is never lost between a check and a wait: every wait
 * of pgboot (backoff sleeps, connecting, queries) goes through sig_wait.
 */
#ifndef PGBOOT_SIG_H
#define PGBOOT_SIG_H

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

#endif
