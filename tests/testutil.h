/* Helpers shared by the Check suites: scratch folders, files, child processes. */
#ifndef KPA_TESTUTIL_H
#define KPA_TESTUTIL_H

#include <stddef.h>

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
