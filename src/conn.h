/*
 * conn: the libpq connection parameters. Resolves each keyword across pgboot's settings,
 * database.url and libpq's own variables (PGHOST...), checks what libpq would only find
 * out later (unreadable TLS files, bad ports in the URL), and redacts passwords from
 * connection strings. It never prints: failures come back in the caller's buffer.
 */
#ifndef PGBOOT_CONN_H
#define PGBOOT_CONN_H

#include <stdbool.h>
#include <stddef.h>

#define CONN_MAX_PARAMS 16

/* A libpq keyword/value; value and source are borrowed from the request or the environment. */
struct conn_param {
	const char *keyword;
	const char *value;
	const char *source;
};

/* One of pgboot's settings that sets a libpq keyword. tier ranks it; -1 when unset. */
struct conn_setting {
	const char *keyword;
	const char *value;
	const char *source;
	int tier;
};

struct conn_request {
	const char *section;    /* "database" (NULL) or "admin": the settings named in messages */
	const char *url;        /* database.url, or NULL */
	const char *url_source;
	int url_tier;
	int env_tier;           /* the tier libpq's own variables rank at */
	struct conn_setting settings[CONN_MAX_PARAMS];
	int nsettings;
};

struct conn_params {
	/* In libpq's order: a later keyword overrides an earlier one; the URL comes first. */
	struct conn_param params[CONN_MAX_PARAMS];
	int n;
	bool has_url;           /* params[0] is database.url, passed as an expandable dbname */
	/*
	 * hostaddr for a host list that names "localhost" when /etc/hosts is missing (a
	 * scratch image): musl would ask DNS and time out. NULL otherwise; owned.
	 */
	char *localhost_addrs;
};

/*
 * Resolves req into out (released with conn_params_release): for each keyword the
 * highest tier among the setting, the URL's part and libpq's variable; within a tier the
 * setting beats the URL and the URL beats the variable, as libpq itself does. Returns 0,
 * or -1 with a message naming the source in err (a URL that does not parse, a bad port in
 * it, a TLS file that cannot be read). The message never holds a password.
 */
int conn_resolve(const struct conn_request *req, struct conn_params *out, char *err,
		 size_t errsize);
void conn_params_release(struct conn_params *p);
/* The name of libpq's variable for keyword ("PGHOST"), or NULL. */
const char *conn_env_name(const char *keyword);
/* keyword's part of a URI or connection string, or NULL. The caller frees it. */
char *conn_url_part(const char *url, const char *keyword);
/* True for a port or a comma-separated list of ports, each from 1 to 65535. */
bool conn_valid_ports(const char *s);

/* True unless PGCLIENTENCODING names another encoding than UTF-8 for the names sent. */
bool conn_names_utf8(void);

/*
 * Returns a copy of a postgres:// URI or key=value connection string with any password
 * replaced by ********. The caller frees it.
 */
char *conn_redact(const char *s);
/* True when the connection string holds a password. */
bool conn_has_password(const char *s);

#endif
