/* Handling of secrets: wiping them from memory, generating new ones, and keeping them out of
 * text that others supply. */
#ifndef KPA_SECRET_H
#define KPA_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* Overwrites n bytes in a way the compiler may not optimise away. Accepts NULL. */
void secret_wipe(void *p, size_t n);
/* Wipes a NUL-terminated string and frees it; accepts NULL; returns NULL. */
char *secret_free(char *s);
/* Fills ret (len characters + NUL) with a random password drawn from the kernel CSPRNG,
 * using an alphabet safe in properties files and JAAS strings. 0 or -errno. */
int secret_random_password(char *ret, size_t len);

/* A part of a secret, in text: any run of SECRET_WINDOW bytes of it (the whole secret if it
 * is shorter). Shorter runs are common to unrelated strings. */
#define SECRET_WINDOW 8
/* What secret_quote shows in place of a part of the secret. */
#define SECRET_HIDDEN "<hidden>"

/* Does text (len bytes) hold a part of secret? false for a NULL or empty secret. */
bool secret_overlaps(const char *text, size_t len, const char *secret);
/* Renders untrusted text (len bytes, NULs allowed), such as an answer from a server, for a
 * one-line message: at most max bytes of it; printable ASCII as is, '"' and '\' escaped with
 * '\', every other byte as \xNN; every run of bytes that is a part of secret (NULL: none) as
 * one SECRET_HIDDEN; "..." when the text is cut short (by max or by buflen). Returns buf. */
const char *secret_quote(const char *text, size_t len, size_t max, const char *secret, char *buf, size_t buflen);

#endif
