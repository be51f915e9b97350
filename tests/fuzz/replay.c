/*
 * replay.c: runs a fuzz target without libFuzzer, on each file named and on each file in
 * each directory named (sorted), so saved crashes and the seed corpora run in every build
 * (make fuzz-replay). Prints "replay: NAME: N inputs" and returns 0. A failing input
 * aborts, or the sanitizers stop the process; either way "replay: failed on FILE" names it.
 */
#include <dirent.h>
#include <sanitizer/common_interface_defs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static void say_which(void)
{
	if (fuzz_current_input)
		fprintf(stderr, "replay: failed on %s\n", fuzz_current_input);
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		perror(path);
		return -1;
	}
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			data = realloc(data, cap);
			if (!data)
				abort();
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		perror(path);
		fclose(f);
		free(data);
		return -1;
	}
	fclose(f);
	fuzz_current_input = path;
	LLVMFuzzerTestOneInput(data, len);
	fuzz_current_input = NULL;
	free(data);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Returns the number of inputs run, or -1. */
static int run_path(const char *path)
{
	struct dirent **list;
	struct stat st;
	int n, count = 0;

	if (stat(path, &st) < 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path) < 0 ? -1 : 1;
	n = scandir(path, &list, NULL, by_name);
	if (n < 0) {
		perror(path);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char *file;

		if (list[i]->d_name[0] != '.' && count >= 0) {
			file = malloc(strlen(path) + strlen(list[i]->d_name) + 2);
			if (!file)
				abort();
			sprintf(file, "%s/%s", path, list[i]->d_name);
			count = run_file(file) < 0 ? -1 : count + 1;
			free(file);
		}
		free(list[i]);
	}
	free(list);
	return count;
}

int main(int argc, char **argv)
{
	int total = 0;
	const char *name = strrchr(argv[0], '/');

	__sanitizer_set_death_callback(say_which);
	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		int n = run_path(argv[i]);

		if (n < 0)
			return 1;
		total += n;
	}
	fprintf(stderr, "replay: %s: %d inputs\n", name ? name + 1 : argv[0], total);
	return 0;
}
