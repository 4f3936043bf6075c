#include "kpa/parse.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Parses a run of decimal digits at *p, advancing it; refuses overflow of UINT64_MAX. */
static int parse_digits(const char **p, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;
        if (*s < '0' || *s > '9')
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
                unsigned d = (unsigned) (*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return 0;
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        uint64_t v;
        if (!s)
                return -EINVAL;
        int r = parse_digits(&s, &v);
        if (r < 0)
                return r;
        if (*s != '\0')
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret) {
        bool neg = false;
        uint64_t v;
        if (!s)
                return -EINVAL;
        if (*s == '-') {
                neg = true;
                s++;
        }
        int r = parse_digits(&s, &v);
        if (r < 0)
                return r;
        if (*s != '\0')
                return -EINVAL;
        if (neg ? v > (uint64_t) INT64_MAX + 1 : v > (uint64_t) INT64_MAX)
                return -ERANGE;
        int64_t x = neg ? (int64_t) (0 - v) : (int64_t) v;
        if (x < min || x > max)
                return -ERANGE;
        *ret = x;
        return 0;
}

int parse_duration_ms(const char *s, uint64_t max_ms, uint64_t *ret_ms) {
        static const struct { const char *suffix; uint64_t ms; } units[] = {
                { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
        };
        uint64_t v;
        if (!s)
                return -EINVAL;
        int r = parse_digits(&s, &v);
        if (r < 0)
                return r;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
                if (strcmp(s, units[i].suffix) != 0)
                        continue;
                if (v > max_ms / units[i].ms)
                        return -ERANGE;
                *ret_ms = v * units[i].ms;
                return 0;
        }
        return -EINVAL;
}

int parse_bool(const char *s, bool *ret) {
        static const char *yes[] = { "true", "1", "yes", "on" }, *no[] = { "false", "0", "no", "off" };
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < 4; i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

int parse_hostport(const char *s, unsigned flags, char *ret_host, size_t hostlen,
                   uint16_t *ret_port) {
        if (!s)
                return -EINVAL;
        const char *h = s, *colon;
        size_t n;
        bool bracketed = s[0] == '[';
        if (bracketed) {
                const char *close = strchr(s, ']');
                if (!close || close[1] != ':' || close == s + 1)
                        return -EINVAL;
                colon = close + 1;
                h = s + 1;
                n = (size_t) (close - h);
        } else {
                colon = strchr(s, ':');
                if (!colon || strchr(colon + 1, ':'))
                        return -EINVAL;
                n = (size_t) (colon - s);
        }
        if (n == 0 && !(flags & PARSE_HOSTPORT_EMPTY_HOST))
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) h[i];
                if (c <= ' ' || c == 0x7f || c == '/' || c == '[' || c == ']')
                        return -EINVAL;
        }
        uint64_t port;
        int r = parse_u64(colon + 1, 1, 65535, &port);
        if (r < 0)
                return r;
        if (bracketed && (flags & PARSE_HOSTPORT_KEEP_BRACKETS)) {
                h = s;
                n += 2;
        }
        if (n >= hostlen)
                return -EINVAL;
        memcpy(ret_host, h, n);
        ret_host[n] = '\0';
        *ret_port = (uint16_t) port;
        return 0;
}

void format_duration_ms(uint64_t ms, char *buf, unsigned long len) {
        if (ms != 0 && ms % 3600000 == 0)
                snprintf(buf, len, "%lluh", (unsigned long long) (ms / 3600000));
        else if (ms != 0 && ms % 60000 == 0)
                snprintf(buf, len, "%llum", (unsigned long long) (ms / 60000));
        else if (ms % 1000 == 0)
                snprintf(buf, len, "%llus", (unsigned long long) (ms / 1000));
        else
                snprintf(buf, len, "%llums", (unsigned long long) ms);
}
