/*
 * prehash: the checksums of the migration files, computed while the first connection is
 * being set up (a step at a time, whenever the connection waits on the server), so that a
 * start with nothing pending does not read and hash every file after the history query.
 * It is quiet: a file it cannot take as a whole (unreadable, a NUL byte, a down part or
 * another tool's markers), and every file of another tool's layout (layout.c rebuilds
 * what its checksum covers), is left to the usual path, which reads it again and says why.
 */
#ifndef PGBOOT_PREHASH_H
#define PGBOOT_PREHASH_H

#include <stdbool.h>
#include <stddef.h>

#include "migfile.h"

struct prehash {
	struct mig_list *list;
	char (*sums)[65];
	size_t next; /* the next file to hash */
};

/* Prepares the hashing of list's files; nothing is read yet. prehash_release ends it. */
void prehash_init(struct prehash *p, struct mig_list *list);
/*
 * Hashes the next file and sets its migration's sum_ahead. Returns false when no file was
 * left (the step did nothing). arg is the struct prehash: a db_idle step.
 */
bool prehash_step(void *arg);
/* Clears every sum_ahead it set and frees the checksums. */
void prehash_release(struct prehash *p);

#endif
