/* exec: replaces pgboot with the application, which keeps the PID and gets the signals. */
#ifndef PGBOOT_EXEC_H
#define PGBOOT_EXEC_H

/*
 * Restores the signal dispositions and mask found at start, flushes the logs and runs
 * argv[0] (searched in PATH, no shell) with the environment intact. The caller must have
 * closed every connection. Returns only on failure, after logging: 127 when the command
 * was not found, 126 when it could not be run.
 */
int exec_command(char *const argv[]);

#endif
