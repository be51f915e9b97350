#include "prehash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

void prehash_init(struct prehash *p, struct mig_list *list)
{
	p->list = list;
	p->sums = list->n ? xcalloc(list->n, sizeof(*p->sums)) : NULL;
	p->next = 0;
}

/* The file's checksum as mig_read would give its up part, or -1 when that takes more. */
static int hash_whole(const struct migration *m, struct buf *sql, char out[65])
{
	struct stat sb;

	/* Other layouts' checksums cover their up section as layout.c rebuilds it. */
	if (m->format != MIG_FORMAT_PGBOOT || stat(m->path, &sb) < 0 ||
	    (size_t)sb.st_size > MIG_WHOLE_MAX_BYTES || read_file(m->path, sql) < 0)
		return -1;
	return mig_whole_checksum(sql->data, sql->len, out);
}

bool prehash_step(void *arg)
{
	struct prehash *p = arg;
	struct migration *m;
	struct buf sql;

	/* the layout's detection may have read and hashed some already (mig_scan) */
	while (p->next < p->list->n && p->list->items[p->next].sum_ahead)
		p->next++;
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
		if (p->list->items[i].sum_ahead == p->sums[i])
			p->list->items[i].sum_ahead = NULL;
	free(p->sums);
	p->sums = NULL;
}
