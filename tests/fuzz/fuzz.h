/*
 * fuzz.h: what pgboot's libFuzzer targets share. Each target defines
 * LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize); the same file links with
 * libFuzzer under `make fuzz` and with replay.c under `make fuzz-replay`.
 *
 * A failed property calls fuzz_fail, which prints it and aborts, so libFuzzer saves the
 * input like any crash.
 */
#ifndef PGBOOT_FUZZ_H
#define PGBOOT_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The file being replayed (replay.c), named when a property fails; NULL under libFuzzer. */
extern const char *fuzz_current_input;

/* Prints "fuzz: property failed: ..." and aborts. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* The input as a NUL-terminated copy (the caller frees it); inner NULs stay. */
char *fuzz_string(const uint8_t *data, size_t size);
/* A private directory made once per process (mkdtemp), removed at exit. */
const char *fuzz_dir(void);
/* Writes the input to fuzz_dir()/name and returns that path (static storage). */
const char *fuzz_write(const char *name, const void *data, size_t size);

#endif
