/* A DNS server that stops answering, for tests of what a hanging name lookup does.
 *
 * glibc's resolver takes its servers from /etc/resolv.conf only (no variable names one), so
 * tu_dns_isolate moves the calling process (a Check test runs in a child of its own) into
 * mount and network namespaces of its own, binds a resolv.conf that names 127.0.0.1 (one
 * attempt, 30 s timeout) over /etc/resolv.conf, brings loopback up and serves DNS on
 * 127.0.0.1:53 from a thread: it answers the first `answer` queries (A: 127.0.0.1; any other
 * type: no data) and reads and drops every later one, so a lookup after those waits the full
 * 30 s. No LD_PRELOAD and no change outside the child: the namespaces end with it.
 * Needs root, or unprivileged user namespaces; the test fails (it is not skipped) otherwise.
 * Call it before the test starts any thread. */
#ifndef KPA_TEST_FAULTDNS_H
#define KPA_TEST_FAULTDNS_H

void tu_dns_isolate(int answer);
/* Queries received so far, answered or not. */
int tu_dns_queries(void);

#endif
