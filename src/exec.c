#include "exec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sig.h"

int exec_command(char *const argv[])
{
	int err;

	log_debug("executing \"%s\"", argv[0]);
	fflush(stdout);
	fflush(stderr);
	sig_restore();
	execvp(argv[0], argv);
	err = errno;
	log_error("could not execute \"%s\": %s", argv[0], strerror(err));
	return err == ENOENT || err == ENOTDIR ? 127 : 126;
}
