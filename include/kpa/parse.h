/* Strict parsing of numbers and durations: the whole string must be consumed. */
#ifndef KPA_PARSE_H
#define KPA_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decimal integer in [min, max]; no sign for unsigned, no spaces, no trailing bytes.
 * 0, -EINVAL (not a number) or -ERANGE (outside the range); *ret written only on success. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
int parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret);
/* A duration such as "500ms", "5s", "1m", "2h" into milliseconds, at most max_ms. */
int parse_duration_ms(const char *s, uint64_t max_ms, uint64_t *ret_ms);
/* "true"/"false" (also "1"/"0", "yes"/"no"). */
int parse_bool(const char *s, bool *ret);
/* Room for any host parse_hostport returns for a DNS name or address (a name is at most 253
 * bytes). */
#define PARSE_HOST_MAX 256
/* The host may be empty (":9092", a Kafka listener on every interface). */
#define PARSE_HOSTPORT_EMPTY_HOST 0x1
/* An IPv6 host is returned with its brackets ("[::1]"), as Kafka's listener syntax writes it;
 * without this flag, bare ("::1"), as getaddrinfo and TLS host checks want it. */
#define PARSE_HOSTPORT_KEEP_BRACKETS 0x2
/* "host:port" or "[IPv6]:port" with port 1-65535. The host has no space, control byte, '/',
 * '[' or ']'; an IPv6 address (any host with ':') needs its brackets; "[]" is never a host.
 * It must fit hostlen with its NUL. 0, -EINVAL (not that shape, or the host too long) or
 * -ERANGE (port 0 or above 65535); ret_host and *ret_port are written only on success. */
int parse_hostport(const char *s, unsigned flags, char *ret_host, size_t hostlen,
                   uint16_t *ret_port);
/* Formats a duration in milliseconds the way parse_duration_ms reads it back. */
void format_duration_ms(uint64_t ms, char *buf, unsigned long len);

#endif
