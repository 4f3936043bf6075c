#include "faultdns.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

static atomic_int queries;
static int to_answer;
static int dns_fd = -1;

/* Writes text to path; aborts the test on failure. */
static void write_file(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
}

/* The answer to one query, or 0 when it is malformed: the question is copied, an A question
 * gets 127.0.0.1, any other type an empty answer section (no data). */
static size_t reply(const unsigned char *q, size_t n, unsigned char *out, size_t cap) {
        if (n < 12 + 5)
                return 0;
        size_t p = 12;
        while (p < n && q[p] != 0) {
                if (q[p] & 0xc0)
                        return 0;
                p += (size_t) q[p] + 1;
        }
        if (p + 5 > n)
                return 0;
        size_t qend = p + 5;
        bool is_a = q[p + 1] == 0 && q[p + 2] == 1;
        static const unsigned char a_rr[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1 };
        if (qend + sizeof a_rr > cap)
                return 0;
        memcpy(out, q, qend);
        out[2] = (unsigned char) (0x80 | (q[2] & 0x01));   /* response, recursion desired as asked */
        out[3] = 0x80;                                      /* recursion available, no error */
        out[4] = 0, out[5] = 1;                             /* one question */
        out[6] = 0, out[7] = is_a ? 1 : 0;
        memset(out + 8, 0, 4);                              /* no authority, no additional */
        if (!is_a)
                return qend;
        memcpy(out + qend, a_rr, sizeof a_rr);
        return qend + sizeof a_rr;
}

static void *serve(void *arg) {
        (void) arg;
        unsigned char q[1500], out[1600];
        for (;;) {
                struct sockaddr_storage from;
                socklen_t fl = sizeof from;
                ssize_t n = recvfrom(dns_fd, q, sizeof q, 0, (struct sockaddr *) &from, &fl);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return NULL;
                }
                if (atomic_fetch_add(&queries, 1) >= to_answer)
                        continue;
                size_t len = reply(q, (size_t) n, out, sizeof out);
                if (len)
                        sendto(dns_fd, out, len, 0, (struct sockaddr *) &from, fl);
        }
}

/* As an unprivileged user: a user namespace first, mapping us to root in it. */
static void become_root_in_user_namespace(void) {
        uid_t uid = geteuid();
        gid_t gid = getegid();
        ck_assert_msg(unshare(CLONE_NEWUSER) == 0, "the DNS fault tests need root or unprivileged "
                      "user namespaces: unshare(CLONE_NEWUSER): %s", strerror(errno));
        char map[64];
        write_file("/proc/self/setgroups", "deny");
        snprintf(map, sizeof map, "0 %u 1\n", (unsigned) uid);
        write_file("/proc/self/uid_map", map);
        snprintf(map, sizeof map, "0 %u 1\n", (unsigned) gid);
        write_file("/proc/self/gid_map", map);
}

void tu_dns_isolate(int answer) {
        to_answer = answer;
        if (geteuid() != 0)
                become_root_in_user_namespace();
        ck_assert_msg(unshare(CLONE_NEWNS | CLONE_NEWNET) == 0, "unshare(CLONE_NEWNS | CLONE_NEWNET): %s",
                      strerror(errno));
        ck_assert_msg(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "mount --make-rprivate /: %s",
                      strerror(errno));
        char *dir = tu_mkdtemp(), path[600];
        snprintf(path, sizeof path, "%s/resolv.conf", dir);
        write_file(path, "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n");
        ck_assert_msg(mount(path, "/etc/resolv.conf", NULL, MS_BIND, NULL) == 0,
                      "bind %s over /etc/resolv.conf: %s", path, strerror(errno));
        /* The mount keeps the file. */
        tu_rmtree(dir);
        free(dir);

        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
        ck_assert(s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0);
        ifr.ifr_flags |= IFF_UP;
        ck_assert_msg(ioctl(s, SIOCSIFFLAGS, &ifr) == 0, "lo up: %s", strerror(errno));
        close(s);

        dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(53),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        ck_assert_msg(dns_fd >= 0 && bind(dns_fd, (struct sockaddr *) &sin, sizeof sin) == 0,
                      "bind 127.0.0.1:53: %s", strerror(errno));
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, serve, NULL), 0);
        pthread_detach(t);
}

int tu_dns_queries(void) { return atomic_load(&queries); }
