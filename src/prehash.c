#include "prehash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

/* Files larger than this are hashed when needed: only a pending file is ever that big. */
#define PREHASH_MAX_BYTES ((size_t)1024 * 1024)

void prehash_init(struct prehash *p, struct mig_list *list)
{
	p->list = list;
	p->sums = list->n ? xcalloc(list->n, sizeof(*p->sums)) : NULL;
	p->next = 0;
}

/* The file's checksum as mig_read would give its up part, or -1 when that takes more. */
static int hash_whole(const struct migration *m, struct buf *sql, char out[65])
{
	static const char bom[] = "\xef\xbb\xbf";
	struct mig_marker mk;
	struct stat sb;
	size_t skip;

	/* Other layouts' checksums cover their up section as layout.c rebuilds it. */
	if (m->format != MIG_FORMAT_PGBOOT || stat(m->path, &sb) < 0 ||
	    (size_t)sb.st_size > PREHASH_MAX_BYTES || read_file(m->path, sql) < 0 ||
	    sql->len > PREHASH_MAX_BYTES ||
	    memchr(sql->data, '\0', sql->len))
		return -1;
	skip = sql->len >= 3 && memcmp(sql->data, bom, 3) == 0 ? 3 : 0;
	if (memmem(sql->data, sql->len, "pgboot:down", 11) ||
	    mig_find_marker(sql->data + skip, sql->len - skip, &mk))
		return -1;
	mig_checksum(sql->data + skip, sql->len - skip, out);
	return 0;
}

bool prehash_step(void *arg)
{
	struct prehash *p = arg;
	struct migration *m;
	struct buf sql;

	if (p->next >= p->list->n)
		return false;
	m = &p->list->items[p->next];
	buf_init(&sql);
	if (hash_whole(m, &sql, p->sums[p->next]) == 0)
		m->sum_ahead = p->sums[p->next];
	buf_release(&sql);
	p->next++;
	return true;
}

void prehash_release(struct prehash *p)
{
	for (size_t i = 0; i < p->next && i < p->list->n; i++)
		p->list->items[i].sum_ahead = NULL;
	free(p->sums);
	p->sums = NULL;
}
