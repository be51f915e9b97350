/*
 * pbkdf2: what SCRAM-SHA-256's key derivation costs a libpq client, three ways (bench/run).
 *
 *   pbkdf2 [ITERATIONS [RUNS]]     (defaults: 4096, PostgreSQL's scram_iterations, and 50)
 *   pbkdf2 init | noop             one RAND_bytes and one SHA-256, as libpq's first SCRAM step
 *                                  does, or nothing: run each as a process, the difference is
 *                                  what initialising OpenSSL 3 costs a process
 *
 * A SCRAM client derives SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations)
 * for every connection. Prints, for each way, the median and the minimum microseconds of one
 * derivation, after checking that all three give the same key:
 *
 *   libpq15       PostgreSQL 15's scram_SaltedPassword over its OpenSSL pg_hmac_*: every
 *                 iteration calls HMAC_Init_ex with the key and EVP_sha256(), which under
 *                 OpenSSL 3 fetches the digest and hashes the padded key again
 *   hmac-reuse    the same loop, keyed once: HMAC_Init_ex(ctx, NULL, 0, NULL, NULL) reuses the
 *                 hashed inner and outer pads
 *   pkcs5         OpenSSL's own PKCS5_PBKDF2_HMAC
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define KEY_LEN 32

static const char password[] = "bench-pw-0123456789";
static const unsigned char salt[16] = "0123456789abcdef";

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int libpq15(int iterations, unsigned char *out, int rekey)
{
	unsigned char ui[KEY_LEN], prev[KEY_LEN];
	unsigned char one[4] = { 0, 0, 0, 1 };
	unsigned int len = KEY_LEN;
	HMAC_CTX *ctx = HMAC_CTX_new();
	int ok;

	if (!ctx)
		return -1;
	ok = HMAC_Init_ex(ctx, password, (int)strlen(password), EVP_sha256(), NULL) &&
	     HMAC_Update(ctx, salt, sizeof(salt)) && HMAC_Update(ctx, one, sizeof(one)) &&
	     HMAC_Final(ctx, prev, &len);
	memcpy(out, prev, KEY_LEN);
	for (int i = 2; ok && i <= iterations; i++) {
		if (rekey)
			ok = HMAC_Init_ex(ctx, password, (int)strlen(password), EVP_sha256(), NULL);
		else
			ok = HMAC_Init_ex(ctx, NULL, 0, NULL, NULL);
		ok = ok && HMAC_Update(ctx, prev, KEY_LEN) && HMAC_Final(ctx, ui, &len);
		for (int j = 0; j < KEY_LEN; j++)
			out[j] ^= ui[j];
		memcpy(prev, ui, KEY_LEN);
	}
	HMAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int pkcs5(int iterations, unsigned char *out)
{
	return PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof(salt), iterations,
				 EVP_sha256(), KEY_LEN, out) == 1 ? 0 : -1;
}

static int derive(int way, int iterations, unsigned char *out)
{
	switch (way) {
	case 0:
		return libpq15(iterations, out, 1);
	case 1:
		return libpq15(iterations, out, 0);
	default:
		return pkcs5(iterations, out);
	}
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static const char *names[] = { "libpq15", "hmac-reuse", "pkcs5" };
	if (argc == 2 && strcmp(argv[1], "noop") == 0)
		return 0;
	if (argc == 2 && strcmp(argv[1], "init") == 0) {
		unsigned char nonce[18], md[EVP_MAX_MD_SIZE];
		unsigned int n;

		return RAND_bytes(nonce, sizeof(nonce)) == 1 &&
		       EVP_Digest(nonce, sizeof(nonce), md, &n, EVP_sha256(), NULL) == 1 ? 0 : 70;
	}
	int iterations = argc > 1 ? atoi(argv[1]) : 4096;
	int runs = argc > 2 ? atoi(argv[2]) : 50;
	unsigned char keys[3][KEY_LEN];
	int64_t *t;

	if (iterations < 1 || runs < 1 || runs > 100000) {
		fprintf(stderr, "usage: pbkdf2 [ITERATIONS [RUNS]]\n");
		return 64;
	}
	t = calloc((size_t)runs, sizeof(*t));
	if (!t)
		return 70;
	for (int w = 0; w < 3; w++) {
		if (derive(w, iterations, keys[w]) < 0) {
			fprintf(stderr, "pbkdf2: %s failed\n", names[w]);
			return 70;
		}
		if (w > 0 && memcmp(keys[w], keys[0], KEY_LEN) != 0) {
			fprintf(stderr, "pbkdf2: %s gives another key than %s\n", names[w], names[0]);
			return 70;
		}
	}
	/* The ways take turns, so that a busy moment of a shared machine hits all of them. */
	{
		int64_t *all = calloc((size_t)runs * 3, sizeof(*all));

		if (!all)
			return 70;
		for (int r = 0; r < runs; r++)
			for (int w = 0; w < 3; w++) {
				int64_t t0 = now_us();

				derive(w, iterations, keys[w]);
				all[w * runs + r] = now_us() - t0;
			}
		for (int w = 0; w < 3; w++) {
			memcpy(t, all + w * runs, (size_t)runs * sizeof(*t));
			qsort(t, (size_t)runs, sizeof(*t), cmp64);
			printf("%s %d %lld %lld\n", names[w], iterations, (long long)t[runs / 2],
			       (long long)t[0]);
		}
		free(all);
	}
	free(t);
	return 0;
}
