/* Handling of secrets: wiping them from memory and generating new ones. */
#ifndef KPA_SECRET_H
#define KPA_SECRET_H

#include <stddef.h>

/* Overwrites n bytes in a way the compiler may not optimise away. Accepts NULL. */
void secret_wipe(void *p, size_t n);
/* Wipes a NUL-terminated string and frees it; accepts NULL; returns NULL. */
char *secret_free(char *s);
/* Fills ret (len characters + NUL) with a random password drawn from the kernel CSPRNG,
 * using an alphabet safe in properties files and JAAS strings. 0 or -errno. */
int secret_random_password(char *ret, size_t len);

#endif
