/* Helpers shared by the Check suites: scratch folders, files, child processes. */
#ifndef KPA_TESTUTIL_H
#define KPA_TESTUTIL_H

#include <stddef.h>

#include <check.h>

/* Runs every test of the suite (each in its own child, Check's default) and frees it;
 * returns the exit status for main: 0 when all passed, 1 otherwise. */
int tu_run_suite(Suite *s);

/* A fresh private directory under $TMPDIR (or /tmp); the caller removes it with tu_rmtree. */
char *tu_mkdtemp(void);
void tu_rmtree(const char *path);
/* Writes a file (creating parent folders is the caller's job); aborts the test on failure. */
void tu_write(const char *dir, const char *name, const char *content);
/* Reads a whole file into a new string, or NULL if it does not exist. */
char *tu_read(const char *dir, const char *name);
/* $KPA_SOURCE_DIR / $KPA_BUILD_DIR, with a fallback for running a suite by hand. */
const char *tu_source_dir(void);
const char *tu_build_dir(void);
/* Runs argv with envp (NULL: inherit), capturing stdout and stderr into new strings (may be
 * NULL); returns the exit status, or -1 if the child did not exit normally. */
int tu_run(char *const argv[], char *const envp[], char **ret_out, char **ret_err);
/* A free loopback TCP port (bound then released). */
int tu_free_port(void);

#endif

/* A child process whose stderr is read line by line (JSON log lines), so that tests wait on
 * the events it logs rather than sleeping. */
struct tu_child {
        int pid;
        int err_fd;            /* read end of the child's stderr */
        char buf[65536];
        size_t len;
        int exited, status;
};

/* Starts argv (envp NULL: inherit) with stdout to /dev/null and stderr piped. */
void tu_spawn(char *const argv[], char *const envp[], struct tu_child *ret);
/* Waits up to timeout_ms for a stderr line containing needle; copies it into line (may be
 * NULL). 0 when found, -1 on timeout or end of stream. Lines read before it are consumed. */
int tu_wait_line(struct tu_child *c, const char *needle, int timeout_ms, char *line, size_t len);
/* Sends sig and waits up to timeout_ms for the exit; returns the exit status, or -1 (then the
 * child was killed with SIGKILL). */
int tu_stop(struct tu_child *c, int sig, int timeout_ms);
/* The port in "(port N)" of the agent's "started" line, or -1. */
int tu_wait_agent_port(struct tu_child *c, int timeout_ms);

/* One HTTP/1.1 request to 127.0.0.1:port with Connection: close; returns the status code and
 * the body (new string, may be NULL), or -1 on timeout/error. */
int tu_http(int port, const char *method, const char *path, int timeout_ms, char **ret_body);

/* A kpa-agent process under test. */
struct tu_agent {
        struct tu_child child;
        int port;              /* its HTTP port, from its "started" line */
};

/* Starts $KPA_BUILD_DIR/kpa-agent --bootstrap=B --node-id=N --listen=127.0.0.1:0, then the
 * flags of defaults and of extra (NULL-terminated lists, either may be NULL; a later flag
 * wins), under the wrapper command when given (e.g. valgrind and its options), and waits up
 * to timeout_ms for its "started" line. Fails the test otherwise. */
void tu_agent_start(struct tu_agent *a, const char *bootstrap, int node_id, char *const defaults[],
                    char *const extra[], char *const wrapper[], int timeout_ms);
/* Waits for the agent to log "event":"<event>"; fails the test after timeout_ms. */
void tu_agent_expect(struct tu_agent *a, const char *event, int timeout_ms);
