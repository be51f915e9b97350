/*
 * secret: database.secret_file, a JSON secret as AWS Secrets Manager and the Secrets
 * Store CSI driver write it: {"username", "password", "host", "port", "dbname", "engine"}.
 */
#ifndef PGBOOT_SECRET_H
#define PGBOOT_SECRET_H

#include <stddef.h>

struct secret {
	char *user, *password, *host, *port, *dbname; /* NULL when absent */
};

/*
 * Reads path into out (release with secret_release, also on failure). Returns 0, or -1
 * with a message naming the file (and the line of a JSON syntax error) in err; the message
 * never holds the secret's values.
 */
int secret_load(const char *path, struct secret *out, char *err, size_t errsize);
void secret_release(struct secret *s);

#endif
