/* Name resolution with a deadline. getaddrinfo() cannot be interrupted and takes as long as
 * the resolver's timeouts and retries say (glibc: 5 s per query, twice, per search domain),
 * so a check that must end within --check-timeout cannot call it directly: each lookup runs on
 * a thread of its own, and the caller waits only until its deadline. A lookup still running
 * then goes on in the background and frees itself when done; at most RESOLVE_MAX_PENDING
 * such lookups exist at once, so a DNS server that never answers costs a few threads, not
 * one per check. */
#ifndef KPA_RESOLVE_H
#define KPA_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RESOLVE_MAX_ADDRS 16
#define RESOLVE_MAX_PENDING 4

/* The TCP addresses of a host (IPv4 and IPv6, duplicates left out), in getaddrinfo's order. */
struct resolve_addrs {
        struct sockaddr_storage v[RESOLVE_MAX_ADDRS];
        int n;
};

/* Resolves host (a name, or an IPv4/IPv6 literal without brackets, which never waits) with
 * port, waiting at most timeout_ms. 0 with at least one address, or:
 *   -ETIMEDOUT  no answer in time (the lookup goes on in the background);
 *   -EBUSY      RESOLVE_MAX_PENDING earlier lookups are still running: none was started;
 *   -ENOENT     the name does not exist (or has no address);
 *   -EAGAIN     a temporary failure (the DNS server answered SERVFAIL, or none could be asked);
 *   -EINVAL/-ENOMEM/-EIO otherwise;
 * with getaddrinfo's reason (or ours) in errbuf. *ret is written only on success. */
int resolve_host(const char *host, uint16_t port, uint64_t timeout_ms, struct resolve_addrs *ret,
                 char *errbuf, size_t errlen);

/* Whether a and b hold a common address (family, address and port). */
int resolve_overlap(const struct resolve_addrs *a, const struct resolve_addrs *b);

/* Lookups still running after their caller stopped waiting (for tests and /status). */
int resolve_pending(void);

#endif
