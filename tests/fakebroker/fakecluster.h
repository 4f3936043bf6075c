/* Drives tests/fakebroker/fakecluster.py from a Check suite: starts it, reads its ready line,
 * sends control commands on its stdin and reads each answer from its stdout, stops it.
 * The fake exits by itself when its stdin closes, so a test that dies does not leak it. */
#ifndef KPA_TEST_FAKECLUSTER_H
#define KPA_TEST_FAKECLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define FC_MAX_BROKERS 64

struct fc_broker {
        int32_t id;
        int port;
};

struct fakecluster {
        pid_t pid;
        int to_fake;                 /* its stdin */
        int from_fake;               /* its stdout */
        int control_port;            /* the JSON line control port, for other processes */
        char bootstrap[FC_MAX_BROKERS * 24];   /* "127.0.0.1:p1,127.0.0.1:p2,..." */
        struct fc_broker brokers[FC_MAX_BROKERS];
        int n_brokers;
        char line[1 << 16];          /* bytes read from stdout but not yet returned */
        size_t line_len;
};

/* Starts /usr/bin/python3 $KPA_SOURCE_DIR/tests/fakebroker/fakecluster.py with args (a
 * NULL-terminated list, e.g. {"--brokers", "3", "--topic", "orders:6:3:2", NULL}) and waits
 * (at most 15 s) for its ready line. */
int fc_start(const char *const args[], struct fakecluster **ret_fc, char *errbuf, size_t errlen);

/* Sends one command (a JSON object, without the newline) and returns its parsed answer; an
 * answer {"ok": false, ...} is -EPROTO with the fake's error in errbuf. The caller frees
 * *ret_reply (cJSON_Delete); ret_reply may be NULL. */
int fc_cmd(struct fakecluster *fc, const char *json, cJSON **ret_reply, char *errbuf, size_t errlen);

/* fc_cmd for a command that must succeed: fails the test (Check) with the fake's error. */
void fc_must(struct fakecluster *fc, const char *json);

/* The port of broker id, or -1. */
int fc_port(const struct fakecluster *fc, int32_t id);

/* Closes the fake's stdin, waits up to 5 s for it to exit, then kills it. Accepts NULL. */
struct fakecluster *fc_stop(struct fakecluster *fc);

#endif
