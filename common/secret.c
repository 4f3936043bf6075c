#include "kpa/secret.h"

#include <errno.h>
#include <stdio.h>
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

/* The length of the windows compared: the whole secret when it is shorter. */
static size_t window_len(size_t secret_len) {
        return secret_len < SECRET_WINDOW ? secret_len : SECRET_WINDOW;
}

bool secret_overlaps(const char *text, size_t len, const char *secret) {
        size_t slen = secret ? strlen(secret) : 0, w = window_len(slen);
        if (w == 0)
                return false;
        for (size_t i = 0; i + w <= len; i++)
                if (memmem(secret, slen, text + i, w))
                        return true;
        return false;
}

const char *secret_quote(const char *text, size_t len, size_t max, const char *secret, char *buf, size_t buflen) {
        static const char hidden[] = SECRET_HIDDEN;
        size_t slen = secret ? strlen(secret) : 0, w = window_len(slen);
        size_t o = 0, i = 0;
        /* Every byte before covered_until belongs to a window that is part of the secret. A
         * window covering byte i starts at or before i, so checking the window that starts at
         * each byte, in order, before deciding on it, finds them all. */
        size_t covered_until = 0;
        bool in_hidden = false;
        if (buflen == 0)
                return buf;
        buf[0] = '\0';
        for (; i < len && i < max; i++) {
                if (w > 0 && i + w <= len && memmem(secret, slen, text + i, w))
                        covered_until = i + w;
                char piece[8];
                if (i < covered_until) {
                        if (in_hidden)
                                continue;
                        in_hidden = true;
                        if (o + sizeof hidden - 1 + 4 > buflen)
                                break;
                        memcpy(buf + o, hidden, sizeof hidden);
                        o += sizeof hidden - 1;
                        continue;
                }
                in_hidden = false;
                unsigned char c = (unsigned char) text[i];
                if (c == '"' || c == '\\')
                        snprintf(piece, sizeof piece, "\\%c", c);
                else if (c >= 0x20 && c < 0x7f)
                        snprintf(piece, sizeof piece, "%c", c);
                else
                        snprintf(piece, sizeof piece, "\\x%02x", c);
                size_t n = strlen(piece);
                /* Room for the piece and for "..." with the NUL, should the text go on. */
                if (o + n + 4 > buflen)
                        break;
                memcpy(buf + o, piece, n + 1);
                o += n;
        }
        if (i < len && o + 4 <= buflen)
                memcpy(buf + o, "...", 4);
        return buf;
}
