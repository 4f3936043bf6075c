/* Strict parsing of numbers and durations: the whole string must be consumed. */
#ifndef KPA_PARSE_H
#define KPA_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* Decimal integer in [min, max]; no sign for unsigned, no spaces, no trailing bytes.
 * 0, -EINVAL (not a number) or -ERANGE (outside the range); *ret written only on success. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
int parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret);
/* A duration such as "500ms", "5s", "1m", "2h" into milliseconds, at most max_ms. */
int parse_duration_ms(const char *s, uint64_t max_ms, uint64_t *ret_ms);
/* "true"/"false" (also "1"/"0", "yes"/"no"). */
int parse_bool(const char *s, bool *ret);
/* Formats a duration in milliseconds the way parse_duration_ms reads it back. */
void format_duration_ms(uint64_t ms, char *buf, unsigned long len);

#endif
