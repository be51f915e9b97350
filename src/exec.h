/*
 * exec: starts the application. Either pgboot replaces itself with it (the application
 * keeps the PID and gets the signals), or, as the container's init (exec.init), pgboot
 * forks it and stays as a small supervisor that forwards signals, reaps every child and
 * exits with the application's status.
 */
#ifndef PGBOOT_EXEC_H
#define PGBOOT_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "sig.h"

/* What exec_run needs from the settings, copied so the configuration can be freed first. */
struct exec_init {
	bool supervise;          /* exec.init = on, or auto and pgboot is PID 1 */
	bool group;              /* exec.init_group: signals go to the application's group */
	int64_t kill_timeout_ms; /* exec.init_kill_timeout, 0 for none */
	struct sig_map map;      /* exec.init_signal_map */
};

/* Fills init from the loaded settings. */
void exec_init_load(struct exec_init *init, const struct config *cfg);

/*
 * Checks that command can be run, as execvp would find it (PATH lookup when it holds no
 * slash). Returns 0, or logs and returns 127 when it was not found, 126 when it cannot be
 * executed. main calls it before anything is waited for or changed.
 */
int exec_check(const char *command);

/*
 * Runs argv[0] (searched in PATH, no shell) with the environment intact: by exec, or under
 * supervision when init->supervise. The caller must have closed every connection and freed
 * what it no longer needs. Before exec the logs are flushed and the signal dispositions and
 * mask found at start restored. Returns the exit code for main: after exec only on failure
 * (127 not found, 126 not executable, logged); when supervising, the application's exit code,
 * or 128+N when it was killed by signal N.
 */
int exec_run(char *const argv[], const struct exec_init *init);

#endif
