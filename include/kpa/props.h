/* Java .properties files (what the Kafka broker reads) as an ordered list of keys. */
#ifndef KPA_PROPS_H
#define KPA_PROPS_H

#include <stdbool.h>
#include <stddef.h>

#include "kpa/dynbuf.h"

struct prop {
        char *key;
        char *value;
};

struct props {
        struct prop *v;
        size_t n;
};

#define PROPS_MAX_ENTRIES 10000

/* Parses java.util.Properties syntax (comments, continuations, escapes, \uXXXX as UTF-8) and
 * sets each key in order (a later duplicate replaces the earlier value). 0, or -EINVAL with
 * the line number in errbuf, or -E2BIG past PROPS_MAX_ENTRIES. */
int props_parse(struct props *p, const char *text, size_t len, char *errbuf, size_t errlen);
const char *props_get(const struct props *p, const char *key);
/* Replaces the value in place, or appends the key. */
int props_set(struct props *p, const char *key, const char *value);
int props_remove(struct props *p, const char *key);
/* Writes key=value lines escaped so that java.util.Properties.load reads back exactly
 * these strings (non-ASCII as \uXXXX, since Kafka reads the file as ISO-8859-1). */
int props_serialize(const struct props *p, struct dynbuf *out);
/* The same text with the value of every key for which hide() is true replaced by mask (for
 * showing a file without its secrets). */
int props_serialize_masked(const struct props *p, bool (*hide)(const char *key), const char *mask,
                           struct dynbuf *out);
/* Frees everything; the _secret variant wipes every value first. */
void props_free(struct props *p);
void props_free_secret(struct props *p);

#endif
