/*
 * fuzz_config: the input is an entrypoint.ini, loaded the way main does it (cfg_init,
 * cfg_load, cfg_print when it loads, cfg_release): inih and cfgfile_read, overlays,
 * ${VAR} expansion, <key>_file, database.secret_file and database.url through libpq.
 * Nothing may crash, leak or hit undefined behaviour; a failure must say why.
 *
 * The environment is replaced by a fixed one, and files are read only from the fuzz
 * directory (read_file is wrapped at link time: -Wl,--wrap=read_file), where a few
 * files the seeds name are made: /dev/zero or a FIFO would only hang the fuzzer.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "fuzz.h"
#include "util.h"

int __real_read_file(const char *path, struct buf *out);
int __wrap_read_file(const char *path, struct buf *out);

int __wrap_read_file(const char *path, struct buf *out)
{
	char real[PATH_MAX];
	size_t n = strlen(fuzz_dir());
	struct stat st;

	if (!realpath(path, real) || strncmp(real, fuzz_dir(), n) != 0 || real[n] != '/' ||
	    stat(real, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 65536) {
		errno = EACCES;
		return -1;
	}
	return __real_read_file(path, out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char secret[] = "{\"username\": \"app\", \"password\": \"s3cr3t\", "
				     "\"host\": \"db\", \"port\": 5432, \"dbname\": \"app\", "
				     "\"engine\": \"postgres\"}\n";

	(void)argc;
	(void)argv;
	fuzz_dir();
	fuzz_write("password", "s3cr3t\n", 7);
	fuzz_write("url", "postgres://app:s3cr3t@db:5432/app\n", 34);
	fuzz_write("secret.json", secret, sizeof(secret) - 1);
	fuzz_write("empty", "", 0);
	fuzz_write("nul", "a\0b\n", 4);
	fuzz_write("ca.crt", "not a certificate\n", 18);
	if (clearenv() != 0)
		abort();
	setenv("BRANCH", "feature/Login-Page_2", 1);
	setenv("EMPTY", "", 1);
	setenv("PASS", "s3cr3t", 1);
	setenv("LONG", "a-very-long-branch-name-that-does-not-fit-in-a-postgresql-identifier-at-all", 1);
	setenv("UNI", "h\xc3\xa9llo w\xc3\xb6rld", 1);
	setenv("PGBOOT_WAIT_TIMEOUT", "5s", 1);
	if (!freopen("/dev/null", "w", stdout))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_write("entrypoint.ini", data, size);
	struct config cfg;
	char err[1024] = "";

	cfg_init(&cfg);
	if (cfg_load(&cfg, path, err, sizeof(err)) == 0)
		cfg_print(&cfg);
	else if (!err[0])
		fuzz_fail("cfg_load failed without a message");
	cfg_release(&cfg);
	return 0;
}
