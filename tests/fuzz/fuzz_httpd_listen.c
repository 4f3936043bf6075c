/* The agent's listen address (agent/httpd.c httpd_parse_listen).
 *
 * Invariants: success gives an AF_INET address of sizeof(struct sockaddr_in) or an AF_INET6
 * one of sizeof(struct sockaddr_in6) (IPv6 exactly when the text starts with '['), whose
 * port is the text's port; printing it back as ADDR:PORT ([ADDR]:PORT) and parsing again gives
 * the same address. Failure: -EINVAL with a message of printable ASCII only (the input is
 * sanitized before it is quoted), and the outputs untouched. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include "fuzz.h"
#include "kpa/httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        size_t len;
        char *s = fz_rest(&f, &len);
        struct sockaddr_storage ss, untouched;
        memset(&ss, 0xa5, sizeof ss);
        memcpy(&untouched, &ss, sizeof ss);
        socklen_t sl = 12345;
        char err[256] = "";
        int r = httpd_parse_listen(s, &ss, &sl, err, sizeof err);
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL && err[0], "error %d", r);
                for (const char *p = err; *p; p++)
                        FUZZ_CHECK(*p >= 0x20 && *p < 0x7f, "unprintable byte in \"%s\"", err);
                FUZZ_CHECK(sl == 12345 && memcmp(&ss, &untouched, sizeof ss) == 0, "outputs written on failure");
                free(s);
                return 0;
        }
        char text[INET6_ADDRSTRLEN + 16], addr[INET6_ADDRSTRLEN];
        const char *colon = strrchr(s, ':');
        FUZZ_CHECK(colon, "no port in \"%s\"", s);
        unsigned long port = strtoul(colon + 1, NULL, 10);
        if (s[0] == '[') {
                const struct sockaddr_in6 *a = (const struct sockaddr_in6 *) &ss;
                FUZZ_CHECK(ss.ss_family == AF_INET6 && sl == sizeof *a, "\"%s\": family %d len %u", s,
                           ss.ss_family, (unsigned) sl);
                FUZZ_CHECK(ntohs(a->sin6_port) == port, "port %u for \"%s\"", ntohs(a->sin6_port), s);
                inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof addr);
                snprintf(text, sizeof text, "[%s]:%u", addr, ntohs(a->sin6_port));
        } else {
                const struct sockaddr_in *a = (const struct sockaddr_in *) &ss;
                FUZZ_CHECK(ss.ss_family == AF_INET && sl == sizeof *a, "\"%s\": family %d len %u", s,
                           ss.ss_family, (unsigned) sl);
                FUZZ_CHECK(ntohs(a->sin_port) == port, "port %u for \"%s\"", ntohs(a->sin_port), s);
                inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr);
                snprintf(text, sizeof text, "%s:%u", addr, ntohs(a->sin_port));
        }
        struct sockaddr_storage again;
        socklen_t sl2;
        memset(&again, 0, sizeof again);
        r = httpd_parse_listen(text, &again, &sl2, err, sizeof err);
        FUZZ_CHECK(r == 0 && sl2 == sl, "\"%s\" (from \"%s\") does not parse back: %s", text, s, err);
        if (ss.ss_family == AF_INET6) {
                const struct sockaddr_in6 *a = (const void *) &ss, *b = (const void *) &again;
                FUZZ_CHECK(memcmp(&a->sin6_addr, &b->sin6_addr, 16) == 0 && a->sin6_port == b->sin6_port,
                           "\"%s\" and \"%s\" differ", s, text);
        } else {
                const struct sockaddr_in *a = (const void *) &ss, *b = (const void *) &again;
                FUZZ_CHECK(a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port,
                           "\"%s\" and \"%s\" differ", s, text);
        }
        free(s);
        return 0;
}
