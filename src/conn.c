#include "conn.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util.h"

/* libpq's own variables, by keyword, as "env NAME" sources. */
static const struct {
	const char *keyword, *source;
} libpq_env[] = {
	{ "host", "env PGHOST" },	  { "port", "env PGPORT" },
	{ "user", "env PGUSER" },	  { "password", "env PGPASSWORD" },
	{ "dbname", "env PGDATABASE" },	  { "sslmode", "env PGSSLMODE" },
	{ "sslrootcert", "env PGSSLROOTCERT" }, { "sslcert", "env PGSSLCERT" },
	{ "sslkey", "env PGSSLKEY" },	  { "application_name", "env PGAPPNAME" },
};

static const char *env_source(const char *keyword)
{
	for (size_t i = 0; i < ARRAY_SIZE(libpq_env); i++)
		if (strcmp(libpq_env[i].keyword, keyword) == 0)
			return libpq_env[i].source;
	return NULL;
}

const char *conn_env_name(const char *keyword)
{
	const char *source = env_source(keyword);

	return source ? source + 4 : NULL;
}

bool conn_valid_ports(const char *s)
{
	do {
		int64_t port;
		const char *comma = strchr(s, ',');
		char *one = xstrndup(s, comma ? (size_t)(comma - s) : strlen(s));
		int rc = parse_int64(one, 1, 65535, &port);

		free(one);
		if (rc < 0)
			return false;
		s = comma ? comma + 1 : NULL;
	} while (s);
	return true;
}

static const char *url_value(PQconninfoOption *url_opts, const char *keyword)
{
	for (PQconninfoOption *o = url_opts; o && o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0 && o->val && *o->val)
			return o->val;
	return NULL;
}

char *conn_url_part(const char *url, const char *keyword)
{
	PQconninfoOption *opts = url ? PQconninfoParse(url, NULL) : NULL;
	const char *v = url_value(opts, keyword);
	char *copy = v ? xstrdup(v) : NULL;

	PQconninfoFree(opts);
	return copy;
}

/*
 * One keyword: the setting, the URL's part (libpq takes it from there) or the variable,
 * whichever has the highest tier; within one tier the setting beats the URL and the URL
 * beats the variable.
 */
static void resolve_one(const struct conn_request *req, PQconninfoOption *url_opts,
			const struct conn_setting *s, struct conn_params *out)
{
	const char *value = s->value, *source = s->source, *env;
	int tier = value ? s->tier : -1;

	if (req->url && url_value(url_opts, s->keyword) && req->url_tier > tier) {
		tier = req->url_tier;
		value = NULL;
	}
	env = conn_env_name(s->keyword) ? getenv(conn_env_name(s->keyword)) : NULL;
	if (env && *env && req->env_tier > tier) {
		value = env;
		source = env_source(s->keyword);
	}
	if (value && out->n < CONN_MAX_PARAMS)
		out->params[out->n++] = (struct conn_param){ s->keyword, value, source };
}

/* The value libpq will use for keyword, as resolved here, or NULL for libpq's default. */
static const char *effective(const struct conn_request *req, const struct conn_params *p,
			     PQconninfoOption *url_opts, const char *keyword, const char **source)
{
	for (int i = p->n - 1; i >= (p->has_url ? 1 : 0); i--) {
		if (strcmp(p->params[i].keyword, keyword) == 0) {
			*source = p->params[i].source;
			return p->params[i].value;
		}
	}
	*source = req->url_source;
	return url_value(url_opts, keyword);
}

/*
 * Without /etc/hosts, musl resolves "localhost" by asking a DNS server at 127.0.0.1 and
 * gives up after two 2.5 s timeouts. Such hosts get hostaddr 127.0.0.1 instead; the host
 * name stays "localhost", which is what verify-full checks the certificate against.
 */
static char *map_localhost(const struct conn_request *req, const struct conn_params *p,
			   PQconninfoOption *url_opts)
{
	const char *source, *host = effective(req, p, url_opts, "host", &source);
	const char *hostaddr = effective(req, p, url_opts, "hostaddr", &source);
	struct buf addrs;
	bool any = false;

	if (!host || hostaddr || getenv("PGHOSTADDR") || access("/etc/hosts", F_OK) == 0)
		return NULL;
	buf_init(&addrs);
	for (const char *h = host;;) {
		size_t n = strcspn(h, ",");
		bool local = n == 9 && strncmp(h, "localhost", 9) == 0;

		buf_puts(&addrs, local ? "127.0.0.1" : "");
		any = any || local;
		if (!h[n])
			break;
		buf_puts(&addrs, ",");
		h += n + 1;
	}
	if (!any) {
		buf_release(&addrs);
		return NULL;
	}
	return buf_detach(&addrs);
}

/* "database" or "admin": the settings' section, for messages. */
static const char *section(const struct conn_request *req)
{
	return req->section ? req->section : "database";
}

/* TLS files that are named but cannot be read are a configuration error, not a wait. */
static int check_tls_files(const struct conn_request *req, const struct conn_params *p,
			   PQconninfoOption *url_opts, char *err, size_t errsize)
{
	static const char *const keys[] = { "sslrootcert", "sslcert", "sslkey" };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *source, *path = effective(req, p, url_opts, keys[i], &source);

		if (path && access(path, R_OK) != 0) {
			snprintf(err, errsize, "%s: \"%s.%s\" file \"%s\" cannot be read: %s",
				 source, section(req), keys[i], path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* How a character that may not appear raw in a URI's user-info is written. */
static const char *percent_form(unsigned char c)
{
	static const struct {
		char c;
		const char *encoded;
	} forms[] = {
		{ '@', "%40" }, { '/', "%2F" }, { ':', "%3A" }, { '?', "%3F" }, { '#', "%23" },
		{ '%', "%25" }, { '[', "%5B" }, { ']', "%5D" }, { '\'', "%27" }, { ' ', "%20" },
		{ '"', "%22" }, { '\\', "%5C" }, { '<', "%3C" }, { '>', "%3E" }, { '^', "%5E" },
		{ '`', "%60" }, { '{', "%7B" }, { '|', "%7C" }, { '}', "%7D" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(forms); i++)
		if ((unsigned char)forms[i].c == c)
			return forms[i].encoded;
	return NULL;
}

/* True for what RFC 3986 allows raw in a user-info, but ':' and the quote ' (see below). */
static bool userinfo_char(unsigned char c)
{
	return isalnum(c) || c >= 0x80 || (c && strchr("-._~!$&()*+,;=", c));
}

/*
 * Refuses a postgres:// URI whose user-info (user:password@) libpq would split where the
 * writer did not mean: libpq ends it at the first '@' and the host at a '/', so a raw '@'
 * or '/' in a generated password sends its pieces to DNS and into messages, and a wait
 * for a host that does not exist. Everything up to the last '@' is the user-info; only
 * RFC 3986's characters, one ':' and %XX escapes may appear in it (a quote neither: it
 * quotes values in key=value strings). The message names the character, never the text.
 */
static int check_userinfo(const char *url, const char *where, const char *sect, char *err,
			  size_t errsize)
{
	const char *rest = NULL, *at;
	bool colon = false;

	if (strncmp(url, "postgresql://", 13) == 0)
		rest = url + 13;
	else if (strncmp(url, "postgres://", 11) == 0)
		rest = url + 11;
	if (!rest || !(at = strrchr(rest, '@')))
		return 0;
	for (const char *p = rest; p < at; p++) {
		unsigned char c = (unsigned char)*p;
		const char *why = NULL;

		if (c == '%' && !(isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])))
			why = "a \"%\" that does not start a %XX escape";
		else if (c == '%' || userinfo_char(c) || (c == ':' && !colon)) {
			colon = colon || c == ':';
			continue;
		}
		if (!why && c == '@')
			why = "more than one \"@\"";
		else if (!why && c == ':')
			why = "a second \":\"";
		if (why)
			snprintf(err, errsize, "%s: invalid value for \"%s.url\": the part before "
				 "the host holds %s; percent-encode the user name and the password (\"%c\" "
				 "as %s)", where, sect, why, c, percent_form(c));
		else if (percent_form(c))
			snprintf(err, errsize, "%s: invalid value for \"%s.url\": the part before "
				 "the host holds a raw \"%c\"; percent-encode the user name and the "
				 "password (\"%c\" as %s)", where, sect, c, c, percent_form(c));
		else
			snprintf(err, errsize, "%s: invalid value for \"%s.url\": the part before "
				 "the host holds a control character; percent-encode the user name and the "
				 "password (byte 0x%02X as %%%02X)", where, sect, c, c);
		return -1;
	}
	return 0;
}

/*
 * Parses database.url with libpq's own parser. The error never shows the string, and shows
 * libpq's message (which quotes the offending part) only when the string holds no password.
 */
static PQconninfoOption *parse_url(const char *url, const char *where, const char *sect,
				   char *err, size_t errsize)
{
	char *msg = NULL;
	PQconninfoOption *opts;

	if (check_userinfo(url, where, sect, err, errsize) < 0)
		return NULL;
	opts = PQconninfoParse(url, &msg);
	if (!opts) {
		const char *scheme = strstr(url, "://");
		/* libpq quotes what it could not parse: any part may be a password */
		bool secret = scheme || strchr(url, '@') || strstr(url, "password");
		char *nl = msg ? strchr(msg, '\n') : NULL;

		if (nl)
			*nl = '\0';
		if (scheme && strncmp(url, "postgres://", 11) != 0 &&
		    strncmp(url, "postgresql://", 13) != 0)
			snprintf(err, errsize, "%s: invalid value for \"%s.url\": scheme \"%.*s://\" "
				 "is not postgres:// or postgresql://", where, sect,
				 (int)(scheme - url) > 20 ? 20 : (int)(scheme - url), url);
		else
			snprintf(err, errsize, "%s: invalid value for \"%s.url\": %s", where, sect,
				 !msg ? "out of memory" : secret ? "not a valid URI or connection string" : msg);
		PQfreemem(msg);
	} else {
		const char *port = url_value(opts, "port");

		if (port && !conn_valid_ports(port)) {
			snprintf(err, errsize, "%s: invalid port in \"%s.url\": \"%s\" (expected "
				 "1 to 65535)", where, sect, port);
			PQconninfoFree(opts);
			opts = NULL;
		}
	}
	return opts;
}

bool conn_names_utf8(void)
{
	const char *enc = getenv("PGCLIENTENCODING");

	return !enc || !*enc || strcasecmp(enc, "UTF8") == 0 || strcasecmp(enc, "UTF-8") == 0 ||
	       strcasecmp(enc, "UNICODE") == 0;
}

/*
 * The database's name, wherever it came from (a setting, the URL, PGDATABASE), must be
 * valid UTF-8: pgboot talks UTF-8, and PostgreSQL could neither quote nor create it.
 */
static int check_dbname(const struct conn_request *req, const struct conn_params *p,
			PQconninfoOption *url_opts, char *err, size_t errsize)
{
	const char *source, *name = effective(req, p, url_opts, "dbname", &source);
	struct buf shown;

	if (!name || !conn_names_utf8() || utf8_valid(name))
		return 0;
	buf_init(&shown);
	buf_escaped(&shown, name);
	snprintf(err, errsize, "%s: invalid value for \"%s.dbname\": \"%s\" (not valid UTF-8, "
		 "which PostgreSQL names are in)", source, section(req), shown.data);
	buf_release(&shown);
	return -1;
}

int conn_resolve(const struct conn_request *req, struct conn_params *out, char *err,
		 size_t errsize)
{
	PQconninfoOption *url_opts = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (req->url && !(url_opts = parse_url(req->url, req->url_source, section(req), err, errsize)))
		return -1;
	if (req->url) {
		out->params[out->n++] = (struct conn_param){ "dbname", req->url, req->url_source };
		out->has_url = true;
	}
	for (int i = 0; i < req->nsettings; i++)
		resolve_one(req, url_opts, &req->settings[i], out);
	out->localhost_addrs = map_localhost(req, out, url_opts);
	rc = check_tls_files(req, out, url_opts, err, errsize);
	if (rc == 0)
		rc = check_dbname(req, out, url_opts, err, errsize);
	PQconninfoFree(url_opts);
	return rc;
}

void conn_params_release(struct conn_params *p)
{
	free(p->localhost_addrs);
	memset(p, 0, sizeof(*p));
}

static bool is_password_key(const char *key, size_t len)
{
	return len == 8 && strncmp(key, "password", 8) == 0;
}

/* key=value form: every value is copied but a password's, quoted or not. */
static void redact_keyvalue(struct buf *b, const char *p)
{
	while (*p) {
		const char *key, *key_end, *val;

		while (*p && isspace((unsigned char)*p))
			buf_append(b, p++, 1);
		key = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		key_end = p;
		while (*p && isspace((unsigned char)*p))
			p++;
		if (*p != '=') {
			buf_append(b, key, (size_t)(p - key));
			continue;
		}
		p++;
		while (*p && isspace((unsigned char)*p))
			p++;
		val = p;
		if (*p == '\'') {
			for (p++; *p && *p != '\''; p++)
				if (*p == '\\' && p[1])
					p++;
			if (*p)
				p++;
		} else {
			for (; *p && !isspace((unsigned char)*p); p++)
				if (*p == '\\' && p[1])
					p++;
		}
		buf_append(b, key, (size_t)(val - key));
		if (is_password_key(key, (size_t)(key_end - key)))
			buf_puts(b, "********");
		else
			buf_append(b, val, (size_t)(p - val));
	}
}

/* A URI query key as libpq reads it: percent-decoded, so "%70assword" is "password". */
static bool is_password_param(const char *key, size_t len)
{
	char decoded[8];
	size_t n = 0;

	for (size_t i = 0; i < len; i++, n++) {
		char c = key[i];

		if (n == sizeof(decoded))
			return false;
		if (c == '%' && i + 2 < len && isxdigit((unsigned char)key[i + 1]) &&
		    isxdigit((unsigned char)key[i + 2])) {
			char hex[3] = { key[i + 1], key[i + 2], '\0' };

			c = (char)strtol(hex, NULL, 16);
			i += 2;
		}
		decoded[n] = c;
	}
	return is_password_key(decoded, n);
}

/* URI form: the password of the user info and a password= query parameter. */
static void redact_uri(struct buf *b, const char *s, const char *rest)
{
	const char *end = rest, *query;

	buf_append(b, s, (size_t)(rest - s));
	while (*end && *end != '@' && *end != '/')
		end++;
	if (*end == '@') {
		const char *colon = memchr(rest, ':', (size_t)(end - rest));

		buf_append(b, rest, (size_t)((colon ? colon : end) - rest));
		if (colon)
			buf_puts(b, ":********");
		rest = end;
	}
	query = strchr(rest, '?');
	if (!query) {
		buf_puts(b, rest);
		return;
	}
	buf_append(b, rest, (size_t)(query - rest));
	for (const char *p = query; *p;) {
		const char *param = p + 1, *amp = strchr(param, '&');
		const char *stop = amp ? amp : param + strlen(param);
		const char *eq = memchr(param, '=', (size_t)(stop - param));

		buf_append(b, p, 1);
		if (eq && is_password_param(param, (size_t)(eq - param))) {
			buf_append(b, param, (size_t)(eq - param) + 1);
			buf_puts(b, "********");
		} else {
			buf_append(b, param, (size_t)(stop - param));
		}
		p = stop;
	}
}

char *conn_redact(const char *s)
{
	static const char *const schemes[] = { "postgresql://", "postgres://" };
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++) {
		size_t len = strlen(schemes[i]);

		if (strncmp(s, schemes[i], len) == 0) {
			redact_uri(&b, s, s + len);
			return buf_detach(&b);
		}
	}
	redact_keyvalue(&b, s);
	return buf_detach(&b);
}

bool conn_has_password(const char *s)
{
	char *safe = conn_redact(s);
	bool differs = strcmp(safe, s) != 0;

	free(safe);
	return differs;
}
