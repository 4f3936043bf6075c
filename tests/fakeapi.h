/* The fake Kubernetes API server (tests/init/fake_apiserver.py) for Check suites. */
#ifndef KPA_TESTS_FAKEAPI_H
#define KPA_TESTS_FAKEAPI_H

#include <stdint.h>
#include <sys/types.h>

struct fakeapi {
        pid_t pid;
        int out;
        char port[16];
};

/* Makes, once per suite process: a CA (ca.crt), a server certificate it signs for the loopback
 * names (server), one for a foreign name (wrong), and an unrelated CA (other-ca.crt). */
void fakeapi_make_certs(void);
void fakeapi_remove_certs(void);
/* The path of one of those files, e.g. "ca.crt" (a static buffer, four in rotation). */
char *fakeapi_cert_path(const char *name);
/* Starts the server with certificate cert ("server" or "wrong") on host, accepting only token,
 * with extra arguments (NULL-terminated, or NULL), and waits for its "ready <port>" line. */
void fakeapi_start(struct fakeapi *f, const char *cert, const char *host, const char *token, char *const extra[]);
/* Stops the server and returns what it printed after "ready": one line per request (free it). */
char *fakeapi_stop(struct fakeapi *f);
uint64_t fakeapi_now_ms(void);

#endif
