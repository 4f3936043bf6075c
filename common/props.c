#include "kpa/props.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/secret.h"

const char *props_get(const struct props *p, const char *key) {
        for (size_t i = 0; i < p->n; i++)
                if (strcmp(p->v[i].key, key) == 0)
                        return p->v[i].value;
        return NULL;
}

int props_set(struct props *p, const char *key, const char *value) {
        char *nv = strdup(value);
        if (!nv)
                return -ENOMEM;
        for (size_t i = 0; i < p->n; i++)
                if (strcmp(p->v[i].key, key) == 0) {
                        secret_free(p->v[i].value);
                        p->v[i].value = nv;
                        return 0;
                }
        if (p->n >= PROPS_MAX_ENTRIES) {
                free(nv);
                return -E2BIG;
        }
        char *nk = strdup(key);
        struct prop *grown = nk ? realloc(p->v, (p->n + 1) * sizeof *grown) : NULL;
        if (!grown) {
                free(nk);
                free(nv);
                return -ENOMEM;
        }
        p->v = grown;
        p->v[p->n++] = (struct prop){ nk, nv };
        return 0;
}

int props_remove(struct props *p, const char *key) {
        for (size_t i = 0; i < p->n; i++)
                if (strcmp(p->v[i].key, key) == 0) {
                        free(p->v[i].key);
                        secret_free(p->v[i].value);
                        memmove(&p->v[i], &p->v[i + 1], (p->n - i - 1) * sizeof *p->v);
                        p->n--;
                        return 0;
                }
        return -ENOENT;
}

static void props_free_impl(struct props *p, bool wipe) {
        for (size_t i = 0; i < p->n; i++) {
                free(p->v[i].key);
                if (wipe)
                        secret_free(p->v[i].value);
                else
                        free(p->v[i].value);
        }
        free(p->v);
        p->v = NULL;
        p->n = 0;
}

void props_free(struct props *p) { props_free_impl(p, false); }
void props_free_secret(struct props *p) { props_free_impl(p, true); }

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\f'; }

static int hexval(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
}

static int append_utf8(struct dynbuf *b, uint32_t cp) {
        char u[4];
        size_t n;
        if (cp < 0x80) { u[0] = (char) cp; n = 1; }
        else if (cp < 0x800) { u[0] = (char) (0xC0 | (cp >> 6)); u[1] = (char) (0x80 | (cp & 0x3F)); n = 2; }
        else if (cp < 0x10000) { u[0] = (char) (0xE0 | (cp >> 12)); u[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
               u[2] = (char) (0x80 | (cp & 0x3F)); n = 3; }
        else { u[0] = (char) (0xF0 | (cp >> 18)); u[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
               u[2] = (char) (0x80 | ((cp >> 6) & 0x3F)); u[3] = (char) (0x80 | (cp & 0x3F)); n = 4; }
        return dynbuf_append(b, u, n);
}

/* The four hex digits of a \uXXXX escape at text[i] ("\u" included), or -1. */
static int32_t u_escape(const char *text, size_t len, size_t i) {
        if (i + 6 > len || text[i] != '\\' || text[i + 1] != 'u')
                return -1;
        int32_t cp = 0;
        for (int k = 2; k < 6; k++) {
                int h = hexval(text[i + k]);
                if (h < 0)
                        return -1;
                cp = cp * 16 + h;
        }
        return cp;
}

/* Reads one logical line (joining continuations) starting at *pos into out, unescaped except
 * for the key/value separator, which is reported by position in key_end. */
struct logical {
        struct dynbuf key, value;
};

static int parse_logical(const char *text, size_t len, size_t *pos, unsigned *lineno,
                         struct logical *ret, bool *ret_blank) {
        size_t i = *pos;
        /* Skip leading whitespace of the natural line. */
        while (i < len && is_ws(text[i]))
                i++;
        if (i >= len || text[i] == '\n' || text[i] == '\r' || text[i] == '#' || text[i] == '!') {
                while (i < len && text[i] != '\n' && text[i] != '\r')
                        i++;
                if (i < len && text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
                        i++;
                if (i < len)
                        i++;
                (*lineno)++;
                *pos = i;
                *ret_blank = true;
                return 0;
        }
        *ret_blank = false;
        struct dynbuf *cur = &ret->key;
        bool in_key = true, seen_sep = false;
        while (i < len) {
                char c = text[i];
                if (c == '\n' || c == '\r') {
                        i++;
                        if (c == '\r' && i < len && text[i] == '\n')
                                i++;
                        (*lineno)++;
                        break;
                }
                if (c == '\\') {
                        if (i + 1 >= len) {
                                i++;
                                break;
                        }
                        char n = text[i + 1];
                        if (n == '\n' || n == '\r') {
                                /* Continuation: skip the newline and the next line's indent. */
                                i += 2;
                                if (n == '\r' && i < len && text[i] == '\n')
                                        i++;
                                (*lineno)++;
                                while (i < len && is_ws(text[i]))
                                        i++;
                                continue;
                        }
                        int r;
                        if (n == 'u') {
                                int32_t cp = u_escape(text, len, i);
                                if (cp < 0)
                                        return -EINVAL;
                                i += 6;
                                /* Java strings are UTF-16: a character above U+FFFF is written
                                 * as a surrogate pair, which is one code point in UTF-8 (as
                                 * props_serialize writes it). An unpaired surrogate is kept
                                 * as it is. */
                                int32_t lo = cp >= 0xD800 && cp <= 0xDBFF ? u_escape(text, len, i) : -1;
                                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                        i += 6;
                                }
                                r = append_utf8(cur, (uint32_t) cp);
                        } else {
                                char out = n == 't' ? '\t' : n == 'n' ? '\n' : n == 'r' ? '\r'
                                         : n == 'f' ? '\f' : n;
                                r = dynbuf_append(cur, &out, 1);
                                i += 2;
                        }
                        if (r < 0)
                                return r;
                        continue;
                }
                if (in_key && (c == '=' || c == ':' || is_ws(c))) {
                        in_key = false;
                        cur = &ret->value;
                        /* Skip whitespace, at most one of = or :, and whitespace again. */
                        while (i < len && is_ws(text[i]))
                                i++;
                        if (!seen_sep && i < len && (text[i] == '=' || text[i] == ':'))
                                i++;
                        seen_sep = true;
                        while (i < len && is_ws(text[i]))
                                i++;
                        continue;
                }
                int r = dynbuf_append(cur, &c, 1);
                if (r < 0)
                        return r;
                i++;
        }
        *pos = i;
        return 0;
}

int props_parse(struct props *p, const char *text, size_t len, char *errbuf, size_t errlen) {
        size_t pos = 0;
        unsigned lineno = 1;
        while (pos < len) {
                struct logical l;
                dynbuf_init(&l.key, 64 * 1024);
                dynbuf_init(&l.value, 1024 * 1024);
                unsigned start = lineno;
                bool blank;
                int r = parse_logical(text, len, &pos, &lineno, &l, &blank);
                if (r == 0 && !blank)
                        r = props_set(p, dynbuf_str(&l.key), dynbuf_str(&l.value));
                dynbuf_free(&l.key);
                dynbuf_free_secret(&l.value);
                if (r < 0) {
                        snprintf(errbuf, errlen, "line %u: %s", start,
                                 r == -EINVAL ? "malformed \\u escape (expected four hex digits)"
                                 : r == -E2BIG ? "too many keys or a line too long"
                                 : strerror(-r));
                        return r;
                }
        }
        return 0;
}

static int escape_into(struct dynbuf *out, const char *s, bool is_key) {
        int r = 0;
        const unsigned char *u = (const unsigned char *) s;
        for (size_t i = 0; u[i] && r == 0; i++) {
                unsigned char c = u[i];
                if (c == '\\') r = dynbuf_appends(out, "\\\\");
                else if (c == '\n') r = dynbuf_appends(out, "\\n");
                else if (c == '\r') r = dynbuf_appends(out, "\\r");
                else if (c == '\t') r = dynbuf_appends(out, "\\t");
                else if (c == '\f') r = dynbuf_appends(out, "\\f");
                else if ((c == ' ' && (is_key || i == 0)) ||
                         (is_key && (c == '=' || c == ':')) || ((c == '#' || c == '!') && i == 0)) {
                        char e[2] = { '\\', (char) c };
                        r = dynbuf_append(out, e, 2);
                } else if (c < 0x20 || c == 0x7F) {
                        r = dynbuf_printf(out, "\\u%04X", c);
                } else if (c >= 0x80) {
                        /* Decode UTF-8 to a code point; invalid bytes pass as Latin-1. Only
                         * the shortest form of a code point up to U+10FFFF counts as UTF-8:
                         * an overlong form ("\xC1\x84" for 'D') would otherwise be written
                         * as another character than the parser reads back, so serializing
                         * twice would not give the same text. */
                        static const uint32_t shortest[4] = { 0, 0x80, 0x800, 0x10000 };
                        uint32_t cp = c;
                        size_t extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
                        bool ok = extra > 0 && c <= 0xF4;
                        for (size_t k = 1; ok && k <= extra; k++)
                                ok = (u[i + k] & 0xC0) == 0x80;
                        if (ok) {
                                uint32_t v = c & (0x3F >> extra);
                                for (size_t k = 1; k <= extra; k++)
                                        v = (v << 6) | (u[i + k] & 0x3F);
                                if (v >= shortest[extra] && v <= 0x10FFFF) {
                                        cp = v;
                                        i += extra;
                                }
                        }
                        if (cp > 0xFFFF) {
                                cp -= 0x10000;
                                r = dynbuf_printf(out, "\\u%04X\\u%04X", 0xD800 + (cp >> 10),
                                                  0xDC00 + (cp & 0x3FF));
                        } else {
                                r = dynbuf_printf(out, "\\u%04X", cp);
                        }
                } else {
                        r = dynbuf_append(out, &c, 1);
                }
        }
        return r;
}

int props_serialize_masked(const struct props *p, bool (*hide)(const char *key), const char *mask,
                           struct dynbuf *out) {
        for (size_t i = 0; i < p->n; i++) {
                int r = escape_into(out, p->v[i].key, true);
                if (r == 0)
                        r = dynbuf_append(out, "=", 1);
                if (r == 0)
                        r = escape_into(out, hide && hide(p->v[i].key) ? mask : p->v[i].value, false);
                if (r == 0)
                        r = dynbuf_append(out, "\n", 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

int props_serialize(const struct props *p, struct dynbuf *out) {
        return props_serialize_masked(p, NULL, NULL, out);
}
