/* The TLS store password (common/tls_password.c). */
#ifndef KPA_TLS_PASSWORD_H
#define KPA_TLS_PASSWORD_H

#include <stddef.h>

/* Picks the store password. With password_file: its content, one trailing newline removed.
 * Otherwise the one an earlier run kept in previous_dir/store.password (so that the stores
 * can be reused byte for byte), or else a new random one. The caller writes the password to
 * <output>/store.password (mode 0600). 0, -EINVAL (file missing or password not
 * TLS_PASSWORD_MIN..TLS_PASSWORD_MAX printable ASCII characters; label names the input in
 * the message, e.g. "KPA_TLS_PASSWORD_FILE"), or another negative errno. */
int tls_password_resolve(const char *password_file, const char *label, const char *previous_dir,
                         char **ret_password, char *errbuf, size_t errlen);

#endif
