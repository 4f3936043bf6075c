#include "kpa/secret.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void secret_wipe(void *p, size_t n) {
        if (p)
                explicit_bzero(p, n);
}

char *secret_free(char *s) {
        if (s) {
                secret_wipe(s, strlen(s));
                free(s);
        }
        return NULL;
}

int secret_random_password(char *ret, size_t len) {
        static const char alphabet[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        /* 62 symbols: reject bytes >= 248 so that every symbol is equally likely. */
        size_t i = 0;
        while (i < len) {
                unsigned char pool[64];
                ssize_t n = getrandom(pool, sizeof pool, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (ssize_t k = 0; k < n && i < len; k++)
                        if (pool[k] < 248)
                                ret[i++] = alphabet[pool[k] % 62];
                secret_wipe(pool, sizeof pool);
        }
        ret[len] = '\0';
        return 0;
}
