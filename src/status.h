/* status: why a phase stopped. Phases log the reason and return one; main maps it to the exit code. */
#ifndef PGBOOT_STATUS_H
#define PGBOOT_STATUS_H

enum status {
	ST_OK = 0,
	ST_PENDING,     /* 1: status --check found migrations to apply or out of sync */
	ST_FINDINGS,    /* 1: lint found an error */
	ST_USAGE,       /* 64: a command-line value that cannot be used */
	ST_MIGRATION,   /* 65: a migration failed, or the files do not match the history */
	ST_UNAVAILABLE, /* 69: the database did not become ready in time, or the connection was lost */
	ST_INTERNAL,    /* 70: an unexpected server error */
	ST_PERMISSION,  /* 77: the role may not do what is needed */
	ST_CONFIG,      /* 78: the configuration can never work */
	ST_SIGNAL,      /* 128+N: a termination signal arrived */
};

#endif
