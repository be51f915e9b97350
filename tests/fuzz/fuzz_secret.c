/*
 * fuzz_secret: secret_load (src/secret.h) on any file content. A failure says why, and
 * never shows the secret's password (unless the password is also part of what the
 * message may show: the path, the engine, the message's own words).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "secret.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_dir();
	return 0;
}

static const char *string_of(const cJSON *root, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* The password, when the message must not hold it. */
static char *hidden_password(const uint8_t *data, size_t size, const char *path)
{
	static const char words[] = "secret file is not a JSON object (line) \"username\" "
				    "\"password\" \"host\" \"port\" \"dbname\" is neither a string "
				    "nor a whole number is for engine not PostgreSQL could not read";
	cJSON *root = cJSON_ParseWithLength((const char *)data, size);
	const char *pw = string_of(root, "password"), *engine = string_of(root, "engine");
	char *ret = NULL;

	if (pw && strlen(pw) >= 4 && !strstr(words, pw) && !strstr(path, pw) &&
	    !(engine && strstr(engine, pw)))
		ret = strdup(pw);
	cJSON_Delete(root);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_write("secret.json", data, size);
	struct secret sec;
	char err[1024] = "", *pw;

	if (secret_load(path, &sec, err, sizeof(err)) < 0) {
		if (!err[0])
			fuzz_fail("secret_load failed without a message");
		pw = hidden_password(data, size, path);
		if (pw && strstr(err, pw))
			fuzz_fail("the message shows the password: %s", err);
		free(pw);
	}
	secret_release(&sec);
	return 0;
}
