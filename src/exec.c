#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* execvp's search path when PATH is unset (musl's; glibc's is a subset). */
#define DEFAULT_PATH "/usr/local/bin:/bin:/usr/bin"

void exec_init_load(struct exec_init *init, const struct config *cfg)
{
	init->supervise = cfg->init_mode == CFG_INIT_ON ||
			  (cfg->init_mode == CFG_INIT_AUTO && getpid() == 1);
	init->group = cfg->init_group;
	init->kill_timeout_ms = cfg->init_kill_timeout_ms;
	init->map = cfg->init_signal_map;
}

static int exit_for_errno(int err)
{
	return err == ENOENT || err == ENOTDIR ? 127 : 126;
}

/* 0 when execve could run path; else its errno (a directory is EACCES, as for execve). */
static int check_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno;
	if (!S_ISREG(st.st_mode))
		return EACCES;
	return access(path, X_OK) < 0 ? errno : 0;
}

/*
 * Finds command as execvp does: taken as is when it holds a slash, else the first
 * executable file of that name in PATH (an empty entry is the current directory). Writes
 * a path that holds a slash into path. Returns 0, or the errno execvp would report.
 */
static int resolve(const char *command, char *path, size_t size)
{
	const char *dirs = getenv("PATH");
	int err = ENOENT;

	if (!*command)
		return ENOENT;
	if (strchr(command, '/')) {
		if (strlen(command) >= size)
			return ENAMETOOLONG;
		snprintf(path, size, "%s", command);
		return check_file(path);
	}
	for (const char *p = dirs ? dirs : DEFAULT_PATH;; p++) {
		size_t n = strcspn(p, ":");
		int len = snprintf(path, size, "%.*s/%s", (int)(n ? n : 1), n ? p : ".", command);
		int e = len > 0 && (size_t)len < size ? check_file(path) : ENAMETOOLONG;

		if (e == 0)
			return 0;
		if (e == EACCES)
			err = EACCES; /* execvp reports EACCES when no later entry is executable */
		p += n;
		if (!*p)
			break;
	}
	return err;
}

int exec_check(const char *command)
{
	char path[PATH_MAX];
	int err = resolve(command, path, sizeof(path));

	if (err)
		log_error("could not execute \"%s\": %s", command, strerror(err));
	return err ? exit_for_errno(err) : 0;
}

/* Replaces pgboot with the application. Returns only on failure. */
static int exec_replace(char *const argv[])
{
	char path[PATH_MAX];
	int err = resolve(argv[0], path, sizeof(path));

	log_debug("executing \"%s\"", argv[0]);
	fflush(stdout);
	fflush(stderr);
	if (!err) {
		sig_restore();
		execvp(path, argv);
		err = errno;
	}
	log_error("could not execute \"%s\": %s", argv[0], strerror(err));
	return exit_for_errno(err);
}

/*
 * The forked child, up to exec: only async-signal-safe calls, no stdio, no allocation.
 * Its own process group, in pgboot's session, as tini does: a new session would orphan the
 * group, and the kernel discards SIGTSTP, SIGTTIN and SIGTTOU sent to an orphaned group.
 * When stdin is the terminal, the group becomes its foreground (SIGTTOU blocked for that).
 * An exec failure goes to the parent as an errno through errfd (closed by a successful exec).
 */
static _Noreturn void start_child(const char *path, char *const argv[], int errfd)
{
	sigset_t ttou;
	int err;

	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, NULL);
	setpgid(0, 0);
	tcsetpgrp(STDIN_FILENO, getpgrp()); /* fails harmlessly (ENOTTY) without a terminal */
	sig_restore();
	execvp(path, argv);
	err = errno;
	if (write(errfd, &err, sizeof(err)) < 0)
		err = errno;
	_exit(exit_for_errno(err));
}

/* Waits for the child's exec: 0 when it ran, else the exit code, logged. */
static int wait_exec(int fd, const char *command, pid_t child)
{
	ssize_t n;
	int err;

	do
		n = read(fd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(err))
		return 0;
	waitpid(child, NULL, 0);
	log_error("could not execute \"%s\": %s", command, strerror(err));
	return exit_for_errno(err);
}

/* The next signal; 0 when deadline (clock_ms, or -1 for none) passed first. */
static int take_signal(const sigset_t *waited, int64_t deadline)
{
	struct timespec ts;
	int64_t left;
	int signo;

	if (deadline < 0) {
		signo = sigwaitinfo(waited, NULL);
	} else {
		left = deadline - clock_ms();
		left = left < 0 ? 0 : left;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000;
		signo = sigtimedwait(waited, NULL, &ts);
	}
	return signo < 0 ? 0 : signo;
}

/* Reaps every child that has exited. Returns true, with its status, once the application has. */
static bool reap(pid_t child, int *status)
{
	bool done = false;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == child) {
			*status = st;
			done = true;
		}
	}
	return done;
}

/*
 * Forwards every signal to the application (rewritten by the map) until it exits; after the
 * first SIGTERM or SIGINT, with a kill timeout, SIGKILLs its group when that time is up.
 */
static int supervise_loop(pid_t child, const sigset_t *waited, const struct exec_init *init)
{
	int64_t deadline = -1;
	bool armed = false;
	int status = 0;

	for (;;) {
		int signo = take_signal(waited, deadline);

		if (signo == SIGCHLD || signo == 0) {
			if (reap(child, &status))
				break;
		} else if (kill(init->group ? -child : child, sig_map_apply(&init->map, signo)) < 0 &&
			   errno != ESRCH) {
			log_warn("could not forward signal %d to the application: %s", signo,
				 strerror(errno));
		}
		if ((signo == SIGTERM || signo == SIGINT) && init->kill_timeout_ms > 0 && !armed) {
			armed = true;
			deadline = clock_ms() + init->kill_timeout_ms;
		} else if (signo == 0 && deadline >= 0 && clock_ms() >= deadline) {
			deadline = -1;
			log_warn("the application did not exit within exec.init_kill_timeout: sending "
				 "SIGKILL to its process group");
			kill(-child, SIGKILL);
		}
	}
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* One loaded object's read-only segments: see drop_code_pages. */
static int drop_segments(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);

	(void)size;
	(void)data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;

		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W) || (vdso >= start && vdso < end))
			continue;
		start = (start + page - 1) & ~(page - 1); /* whole pages of the segment only */
		end &= ~(page - 1);
		if (end <= start)
			continue;
		/* NOLINTNEXTLINE(performance-no-int-to-ptr): an ELF segment's address is a number */
		madvise((void *)start, end - start, MADV_DONTNEED);
	}
	return 0;
}

/*
 * The code and constants that the phases used (libpq, OpenSSL, the parsers) stay resident
 * until the process ends. They are read-only file pages, so the supervisor lets them go: a
 * page it touches again is read back from the page cache. This is what keeps it small.
 */
static void drop_code_pages(void)
{
	dl_iterate_phdr(drop_segments, NULL);
}

/* Forks the application and supervises it: pgboot's job as the container's init. */
static int supervise(char *const argv[], const struct exec_init *init)
{
	char path[PATH_MAX];
	sigset_t waited;
	int fds[2], rc, err = resolve(argv[0], path, sizeof(path));
	pid_t child;

	if (err) {
		log_error("could not execute \"%s\": %s", argv[0], strerror(err));
		return exit_for_errno(err);
	}
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("could not become a child subreaper: %s", strerror(errno));
	if (pipe2(fds, O_CLOEXEC) < 0) {
		log_error("could not create a pipe: %s", strerror(errno));
		return 70;
	}
	log_debug("starting \"%s\" under supervision", argv[0]);
	fflush(stdout);
	fflush(stderr);
	sig_supervise_block(&waited);
	child = fork();
	if (child == 0)
		start_child(path, argv, fds[1]);
	close(fds[1]);
	if (child < 0) {
		log_error("could not start \"%s\": fork: %s", argv[0], strerror(errno));
		close(fds[0]);
		return 70;
	}
	sig_supervise_setup();
	rc = wait_exec(fds[0], argv[0], child);
	close(fds[0]);
	if (rc)
		return rc;
	drop_code_pages();
	return supervise_loop(child, &waited, init);
}

/*
 * The administrator's settings given to pgboot by its own names (PGBOOT_ADMIN_*, and the
 * read-only role's password) are not the application's: they are removed before it starts.
 * Any other variable is the user's to scope: pgboot cannot know what else it means.
 */
static void scrub_admin_env(void)
{
	static const char *const prefixes[] = { "PGBOOT_ADMIN_", "PGBOOT_PROVISION_READONLY_PASSWORD" };
	bool again = true;

	while (again) { /* unsetenv reshuffles environ: start over after each removal */
		again = false;
		for (char **ep = environ; ep && *ep && !again; ep++) {
			for (size_t i = 0; i < ARRAY_SIZE(prefixes) && !again; i++) {
				size_t len = strcspn(*ep, "=");
				char *name;

				if (strncmp(*ep, prefixes[i], strlen(prefixes[i])) != 0)
					continue;
				name = xstrndup(*ep, len);
				unsetenv(name);
				free(name);
				again = true;
			}
		}
	}
}

int exec_run(char *const argv[], const struct exec_init *init)
{
	scrub_admin_env();
	return init->supervise ? supervise(argv, init) : exec_replace(argv);
}
