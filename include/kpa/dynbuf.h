/* Growable byte buffers with a hard maximum, so no input can make us allocate without bound. */
#ifndef KPA_DYNBUF_H
#define KPA_DYNBUF_H

#include <stdarg.h>
#include <stddef.h>

struct dynbuf {
        char *data;    /* always NUL-terminated when non-NULL */
        size_t len;
        size_t cap;
        size_t max;    /* the most bytes len may reach */
};

void dynbuf_init(struct dynbuf *b, size_t max);
/* Appends n bytes; -ENOMEM on allocation failure, -E2BIG past the maximum (buffer unchanged). */
int dynbuf_append(struct dynbuf *b, const void *p, size_t n);
int dynbuf_appends(struct dynbuf *b, const char *s);
int dynbuf_printf(struct dynbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dynbuf_vprintf(struct dynbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void dynbuf_reset(struct dynbuf *b);
/* Frees the storage; dynbuf_free_secret wipes it first (for buffers that held a secret). */
void dynbuf_free(struct dynbuf *b);
void dynbuf_free_secret(struct dynbuf *b);
/* Hands the NUL-terminated storage to the caller (an empty string if nothing was appended). */
char *dynbuf_steal(struct dynbuf *b);
/* Returns the contents as a C string, never NULL. */
const char *dynbuf_str(const struct dynbuf *b);

#endif
