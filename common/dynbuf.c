#include "kpa/dynbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/secret.h"

void dynbuf_init(struct dynbuf *b, size_t max) {
        *b = (struct dynbuf){ .max = max };
}

static int dynbuf_reserve(struct dynbuf *b, size_t extra) {
        if (extra > b->max - b->len)
                return -E2BIG;
        size_t need = b->len + extra + 1;
        if (need <= b->cap)
                return 0;
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need)
                cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        if (cap > b->max + 1)
                cap = b->max + 1;
        char *p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

int dynbuf_append(struct dynbuf *b, const void *p, size_t n) {
        int r = dynbuf_reserve(b, n);
        if (r < 0)
                return r;
        if (n > 0)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

int dynbuf_appends(struct dynbuf *b, const char *s) {
        return dynbuf_append(b, s, strlen(s));
}

int dynbuf_vprintf(struct dynbuf *b, const char *fmt, va_list ap) {
        va_list copy;
        va_copy(copy, ap);
        int n = vsnprintf(NULL, 0, fmt, copy);
        va_end(copy);
        if (n < 0)
                return -EINVAL;
        int r = dynbuf_reserve(b, (size_t) n);
        if (r < 0)
                return r;
        vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
        b->len += (size_t) n;
        return 0;
}

int dynbuf_printf(struct dynbuf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = dynbuf_vprintf(b, fmt, ap);
        va_end(ap);
        return r;
}

void dynbuf_reset(struct dynbuf *b) {
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

void dynbuf_free(struct dynbuf *b) {
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

void dynbuf_free_secret(struct dynbuf *b) {
        if (b->data)
                secret_wipe(b->data, b->cap);
        dynbuf_free(b);
}

char *dynbuf_steal(struct dynbuf *b) {
        char *p = b->data ? b->data : strdup("");
        b->data = NULL;
        b->len = b->cap = 0;
        return p;
}

const char *dynbuf_str(const struct dynbuf *b) {
        return b->data ? b->data : "";
}
