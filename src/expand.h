/*
 * expand: ${VAR}, ${VAR:-default} and ${VAR:ident} in configuration file values, so one
 * entrypoint.ini serves every environment. $$ is a literal $; a $ before anything else
 * stays as it is.
 */
#ifndef PGBOOT_EXPAND_H
#define PGBOOT_EXPAND_H

#include <stdbool.h>
#include <stddef.h>

/* Returns the value of an environment variable, or NULL when it is not set. */
typedef const char *(*expand_lookup)(const char *name);

/*
 * Expands s. ${VAR} must be set (an empty value counts as set); ${VAR:-default} uses
 * default when VAR is unset or empty; ${VAR:ident} turns VAR's value into an identifier
 * (see expand_ident) that fits 63 bytes together with the identifier characters around it.
 * Returns a new string (the caller frees it), or NULL with a message in err.
 */
char *expand_value(const char *s, expand_lookup lookup, char *err, size_t errsize);
/*
 * Finds in s a ${VAR} or ${VAR:ident} whose variable is set but empty, and writes its name
 * into name. ${VAR:-default} is never such a reference: its empty value was chosen.
 * Returns false when there is none.
 */
bool expand_empty_reference(const char *s, expand_lookup lookup, char *name, size_t size);
/*
 * Writes the identifier form of raw into out: lower case, every character outside
 * [a-z0-9_] as "_", runs of "_" as one, no "_" at either end, "_" before a leading digit.
 * When that is empty or longer than max bytes, it is cut and "_" and 8 hex digits of the
 * SHA-256 of raw are added, so long names stay distinct. max must be at least 10.
 */
void expand_ident(const char *raw, size_t max, char *out, size_t outsize);

#endif
