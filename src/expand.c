#include "expand.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define NAME_MAX_BYTES 63

static bool ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

void expand_ident(const char *raw, size_t max, char *out, size_t outsize)
{
	struct buf b;

	buf_init(&b);
	buf_append(&b, "", 0);
	for (const char *p = raw; *p; p++) {
		char c = *p >= 'A' && *p <= 'Z' ? (char)(*p + 32) : *p;

		if (!ident_char(c) || c == '_') {
			if (b.len && b.data[b.len - 1] != '_')
				buf_append(&b, "_", 1);
		} else {
			buf_append(&b, &c, 1);
		}
	}
	while (b.len && b.data[b.len - 1] == '_')
		b.data[--b.len] = '\0';
	if (b.len && b.data[0] >= '0' && b.data[0] <= '9') {
		buf_append(&b, "_", 1); /* room for the leading "_" */
		memmove(b.data + 1, b.data, b.len - 1);
		b.data[0] = '_';
	}
	if (b.len == 0 || b.len > max) {
		size_t keep = b.len ? max - 9 : 0;
		char hex[65];

		sha256_hex(raw, strlen(raw), hex);
		while (keep && b.data[keep - 1] == '_')
			keep--;
		b.len = keep;
		b.data[keep] = '\0';
		buf_printf(&b, "_%.8s", hex);
	}
	snprintf(out, outsize, "%s", b.data);
	buf_release(&b);
}

/* One piece of an expanded value; a ${VAR:ident} keeps VAR's raw value too. */
struct piece {
	char *text;
	char *raw; /* NULL unless ${VAR:ident} */
};

struct pieces {
	struct piece *items;
	size_t n, cap;
};

static void add_piece(struct pieces *ps, const char *text, size_t len, bool ident)
{
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 8;
		ps->items = xrealloc(ps->items, ps->cap * sizeof(*ps->items));
	}
	ps->items[ps->n++] = (struct piece){ xstrndup(text, len), ident ? xstrndup(text, len) : NULL };
}

static void free_pieces(struct pieces *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		free(ps->items[i].text);
		free(ps->items[i].raw);
	}
	free(ps->items);
}

/* Replaces piece i's text with the identifier form of its raw value within max bytes. */
static void set_ident(struct piece *pc, size_t max)
{
	char out[256];

	expand_ident(pc->raw, max, out, sizeof(out));
	free(pc->text);
	pc->text = xstrdup(out);
}

static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/*
 * One reference, s pointing after its "${". Adds its piece and returns the length up to
 * and with the "}", or -1 with err set.
 */
static long reference(const char *s, expand_lookup lookup, struct pieces *ps, char *err,
		      size_t errsize)
{
	const char *close = strchr(s, '}');
	size_t n = 0;
	bool ok;
	const char *value, *rest;
	char *name;

	while (s[n] && (name_start(s[n]) || (n && s[n] >= '0' && s[n] <= '9')))
		n++;
	if (!close || n == 0) {
		snprintf(err, errsize, close ? "\"${%.*s\" is not a variable name"
					     : "unterminated \"${\" (a \"}\" is missing)",
			 (int)(close ? close - s : 0), s);
		return -1;
	}
	name = xstrndup(s, n);
	value = lookup(name);
	rest = s + n;
	ok = value || !strncmp(rest, ":-", 2);
	if (rest == close || !strncmp(rest, ":ident}", 7)) {
		if (!value)
			snprintf(err, errsize, "environment variable \"%s\" is not set (use ${%s:-default} "
				 "for a default)", name, name);
		else
			add_piece(ps, value, strlen(value), rest != close);
	} else if (!strncmp(rest, ":-", 2)) {
		if (value && *value)
			add_piece(ps, value, strlen(value), false);
		else
			add_piece(ps, rest + 2, (size_t)(close - rest - 2), false);
	} else {
		snprintf(err, errsize, "\"${%.*s}\": expected ${%s}, ${%s:-default} or ${%s:ident}",
			 (int)(close - s), s, name, name, name);
		ok = false;
	}
	free(name);
	return ok ? (long)(close - s) + 1 : -1;
}

/* The identifier characters at the end (or start) of the neighbouring pieces' text. */
static size_t ident_run(const struct pieces *ps, size_t i, bool before)
{
	size_t run = 0;

	for (size_t k = i; before ? k-- > 0 : ++k < ps->n;) {
		const char *t = ps->items[k].text;
		size_t len = strlen(t), j = 0;

		while (j < len && ident_char(before ? t[len - 1 - j] : t[j]))
			j++;
		run += j;
		if (j < len)
			break;
	}
	return run;
}

/* Turns each ${VAR:ident} piece into its identifier, within the room its name leaves. */
static int fit_idents(struct pieces *ps, char *err, size_t errsize)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->items[i].raw)
			set_ident(&ps->items[i], 255); /* full length, for its neighbours' room */
	for (size_t i = 0; i < ps->n; i++) {
		size_t around, room;

		if (!ps->items[i].raw)
			continue;
		around = ident_run(ps, i, true) + ident_run(ps, i, false);
		room = around < NAME_MAX_BYTES ? NAME_MAX_BYTES - around : 0;
		if (room < 10) {
			snprintf(err, errsize, "${...:ident} leaves no room in a 63-byte name (%zu bytes "
				 "around it)", around);
			return -1;
		}
		if (strlen(ps->items[i].text) > room)
			set_ident(&ps->items[i], room);
	}
	return 0;
}

char *expand_value(const char *s, expand_lookup lookup, char *err, size_t errsize)
{
	struct pieces ps = { 0 };
	struct buf out;
	const char *p = s;

	buf_init(&out);
	while (*p) {
		if (p[0] == '$' && p[1] == '$') {
			add_piece(&ps, "$", 1, false);
			p += 2;
		} else if (p[0] == '$' && p[1] == '{') {
			long n = reference(p + 2, lookup, &ps, err, errsize);

			if (n < 0)
				goto fail;
			p += 2 + n;
		} else {
			size_t n = strcspn(p + 1, "$") + 1;

			add_piece(&ps, p, n, false);
			p += n;
		}
	}
	if (fit_idents(&ps, err, errsize) < 0)
		goto fail;
	for (size_t i = 0; i < ps.n; i++)
		buf_puts(&out, ps.items[i].text);
	free_pieces(&ps);
	return buf_detach(&out);
fail:
	free_pieces(&ps);
	buf_release(&out);
	return NULL;
}

bool expand_empty_reference(const char *s, expand_lookup lookup, char *name, size_t size)
{
	for (const char *p = s; *p; p++) {
		const char *close, *value;
		size_t n = 0;

		if (p[0] == '$' && p[1] == '$') {
			p++;
			continue;
		}
		if (p[0] != '$' || p[1] != '{' || !(close = strchr(p + 2, '}')))
			continue;
		while (p[2 + n] && (name_start(p[2 + n]) || (n && p[2 + n] >= '0' && p[2 + n] <= '9')))
			n++;
		snprintf(name, size, "%.*s", (int)n, p + 2);
		value = n ? lookup(name) : NULL;
		/* ${VAR:-default} chose its value; only ${VAR} and ${VAR:ident} take VAR as it is */
		if (value && !*value && strncmp(p + 2 + n, ":-", 2) != 0)
			return true;
		p = close;
	}
	return false;
}
