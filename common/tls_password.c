/* The TLS store password: the user's file, the one an earlier run kept, or a new one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/fsx.h"
#include "kpa/secret.h"
#include "kpa/tls.h"
#include "kpa/tls_password.h"

static bool password_ok(const char *p) {
        size_t n = strlen(p);
        if (n < TLS_PASSWORD_MIN || n > TLS_PASSWORD_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (p[i] < 0x20 || p[i] > 0x7e)
                        return false;
        return true;
}

int tls_password_resolve(const char *password_file, const char *label, const char *previous_dir,
                         char **ret_password, char *errbuf, size_t errlen) {
        char *data = NULL;
        size_t len = 0;
        int r;
        if (password_file) {
                r = fsx_read_file(password_file, 4096, &data, &len);
                if (r < 0) {
                        /* What the user can fix in the input (a path that names no file, or
                         * names a device, FIFO or folder) is bad input and says what was
                         * expected; a file that exists but cannot be read is a runtime error. */
                        const char *why = r == -ENOENT || r == -ENOTDIR ? "file not found"
                                          : r == -EFBIG ? "larger than 4 KiB"
                                          : r == -EISDIR || r == -EINVAL ? "not a regular file" : NULL;
                        if (why) {
                                snprintf(errbuf, errlen, "%s %s: %s (expected a file holding the TLS store password: "
                                         "%d to %d printable ASCII characters)", label, password_file, why,
                                         TLS_PASSWORD_MIN, TLS_PASSWORD_MAX);
                                return -EINVAL;
                        }
                        snprintf(errbuf, errlen, "%s %s cannot be read: %s", label, password_file, strerror(-r));
                        return r;
                }
                /* A Secret created from a file or with echo usually ends in a newline that is
                 * not part of the password. */
                if (len > 0 && data[len - 1] == '\n')
                        data[--len] = '\0';
                if (len > 0 && data[len - 1] == '\r')
                        data[--len] = '\0';
                if (strlen(data) != len || !password_ok(data)) {
                        secret_wipe(data, len);
                        free(data);
                        snprintf(errbuf, errlen, "%s %s: the password must be %d to %d printable ASCII characters",
                                 label, password_file, TLS_PASSWORD_MIN, TLS_PASSWORD_MAX);
                        return -EINVAL;
                }
                *ret_password = data;
                return 0;
        }
        if (previous_dir) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", previous_dir, TLS_PASSWORD_FILE);
                if (fsx_read_file(path, 4096, &data, &len) == 0) {
                        /* kpa-init writes the kept password with a trailing newline. */
                        if (len > 0 && data[len - 1] == '\n')
                                data[--len] = '\0';
                        if (strlen(data) == len && password_ok(data)) {
                                *ret_password = data;
                                return 0;
                        }
                        secret_wipe(data, len);
                        free(data);
                }
        }
        char *p = malloc(TLS_GENERATED_PASSWORD_LEN + 1);
        if (!p)
                return -ENOMEM;
        r = secret_random_password(p, TLS_GENERATED_PASSWORD_LEN);
        if (r < 0) {
                free(p);
                snprintf(errbuf, errlen, "generating the TLS store password failed: %s", strerror(-r));
                return r;
        }
        *ret_password = p;
        return 0;
}
