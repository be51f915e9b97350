#include "secret.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A string field, or a number written as one ("port": 5432). -1 when of another type. */
static int field(const cJSON *root, const char *name, char **out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);

	if (!item || cJSON_IsNull(item))
		return 0;
	if (cJSON_IsString(item) && item->valuestring) {
		*out = xstrdup(item->valuestring);
		return 0;
	}
	/* Range first: converting a double outside long long's range is undefined. */
	if (cJSON_IsNumber(item) && item->valuedouble > -1e15 && item->valuedouble < 1e15 &&
	    item->valuedouble == (double)(long long)item->valuedouble) {
		*out = xasprintf("%lld", (long long)item->valuedouble);
		return 0;
	}
	return -1;
}

static int line_of(const char *text, const char *at)
{
	int line = 1;

	for (const char *p = text; at && p < at && *p; p++)
		line += *p == '\n';
	return line;
}

int secret_load(const char *path, struct secret *out, char *err, size_t errsize)
{
	static const char *const names[] = { "username", "password", "host", "port", "dbname" };
	char **slots[] = { &out->user, &out->password, &out->host, &out->port, &out->dbname };
	struct buf text;
	cJSON *root = NULL;
	char *engine = NULL;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	buf_init(&text);
	if (read_file(path, &text) < 0) {
		snprintf(err, errsize, "could not read secret file \"%s\": %s", path, strerror(errno));
		goto out;
	}
	root = cJSON_ParseWithLength(text.data, text.len);
	if (!root || !cJSON_IsObject(root)) {
		snprintf(err, errsize, "secret file \"%s\" is not a JSON object (line %d)", path,
			 root ? 1 : line_of(text.data, cJSON_GetErrorPtr()));
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (field(root, names[i], slots[i]) < 0) {
			snprintf(err, errsize, "secret file \"%s\": \"%s\" is neither a string nor a whole "
				 "number", path, names[i]);
			goto out;
		}
		/* empty would mean libpq's default: the user name as the database, say */
		if (*slots[i] && !**slots[i]) {
			snprintf(err, errsize, "secret file \"%s\": \"%s\" is empty", path, names[i]);
			goto out;
		}
	}
	if (field(root, "engine", &engine) < 0 || (engine && !strstr(engine, "postgres"))) {
		snprintf(err, errsize, "secret file \"%s\" is for engine \"%s\", not PostgreSQL", path,
			 engine ? engine : "?");
		goto out;
	}
	ret = 0;
out:
	free(engine);
	cJSON_Delete(root);
	buf_release(&text);
	return ret;
}

void secret_release(struct secret *s)
{
	free(s->user);
	free(s->password);
	free(s->host);
	free(s->port);
	free(s->dbname);
	memset(s, 0, sizeof(*s));
}
