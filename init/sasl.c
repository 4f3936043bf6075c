#include "kpa/sasl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kpa/dynbuf.h"
#include "kpa/secret.h"

#define PLAIN_MODULE "org.apache.kafka.common.security.plain.PlainLoginModule required"
/* 1000 users with the longest names and passwords, every byte escaped, fit in this. */
#define JAAS_MAX (5u << 20)

static bool name_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > SASL_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-'))
                        return false;
        }
        return true;
}

/* A name as it may appear in a message: valid names as they are, anything else cut short
 * with every byte outside printable ASCII shown as '?'. */
static const char *printable(const char *s, char *buf, size_t len) {
        size_t i = 0;
        for (; s[i] && i + 1 < len && i < 64; i++)
                buf[i] = s[i] > 0x20 && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
        buf[i] = '\0';
        return buf;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. Kafka compares
 * the password a client sends (UTF-8) with this one as Java strings, so any other byte
 * sequence could never match. */
static bool utf8_valid(const unsigned char *s, size_t n) {
        size_t i = 0;
        while (i < n) {
                unsigned char c = s[i];
                size_t extra;
                unsigned char lo = 0x80, hi = 0xBF;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if (c >= 0xC2 && c <= 0xDF) {
                        extra = 1;
                } else if (c >= 0xE0 && c <= 0xEF) {
                        extra = 2;
                        if (c == 0xE0)
                                lo = 0xA0;
                        else if (c == 0xED)
                                hi = 0x9F;
                } else if (c >= 0xF0 && c <= 0xF4) {
                        extra = 3;
                        if (c == 0xF0)
                                lo = 0x90;
                        else if (c == 0xF4)
                                hi = 0x8F;
                } else {
                        return false;
                }
                if (n - i <= extra || s[i + 1] < lo || s[i + 1] > hi)
                        return false;
                for (size_t k = 2; k <= extra; k++)
                        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                                return false;
                i += extra + 1;
        }
        return true;
}

/* Opens a user file. Symlinks are followed (a Secret volume is made of them) but may not
 * leave the folder, so that a user entry cannot make us read any other file; where the
 * kernel predates openat2 (Linux < 5.6) they are followed without that limit. O_NONBLOCK
 * keeps a FIFO from blocking the open; the caller checks for a regular file. */
static int open_beneath(int dfd, const char *name) {
        struct open_how how = {
                .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int) syscall(SYS_openat2, dfd, name, &how, sizeof how);
        if (fd < 0 && errno == ENOSYS)
                fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        return fd < 0 ? -errno : fd;
}

/* Reads one user's password into a new string, checked; the message names the file. */
static int read_password(int dfd, const char *dir, const char *name, char **ret, char *errbuf, size_t errlen) {
        int fd = open_beneath(dfd, name);
        if (fd == -EXDEV || fd == -ELOOP) {
                snprintf(errbuf, errlen, "SASL user file %s/%s is a link that leads outside %s", dir, name, dir);
                return -EINVAL;
        }
        if (fd < 0) {
                snprintf(errbuf, errlen, "SASL user file %s/%s cannot be read: %s", dir, name, strerror(-fd));
                return -EINVAL;
        }
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                snprintf(errbuf, errlen, "SASL user file %s/%s is not a regular file", dir, name);
                return -EINVAL;
        }
        /* Room for the longest password, its newline, and one byte more to notice excess. */
        size_t cap = SASL_PASSWORD_MAX + 2, len = 0;
        char *buf = malloc(cap + 1);
        if (!buf) {
                close(fd);
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        while (len < cap) {
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;
                        close(fd);
                        secret_wipe(buf, len);
                        free(buf);
                        snprintf(errbuf, errlen, "SASL user file %s/%s cannot be read: %s", dir, name, strerror(-r));
                        return -EINVAL;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        close(fd);
        if (len > 0 && buf[len - 1] == '\n')
                len--;
        buf[len] = '\0';
        const char *why = NULL;
        if (len == 0)
                why = "the password is empty";
        else if (len > SASL_PASSWORD_MAX)
                why = "the password is longer than 1024 bytes";
        else if (memchr(buf, '\0', len) || memchr(buf, '\n', len) || memchr(buf, '\r', len))
                why = "the password contains a NUL byte, a carriage return or a line break "
                      "(only one trailing newline is removed)";
        else if (!utf8_valid((const unsigned char *) buf, len))
                why = "the password is not valid UTF-8";
        if (why) {
                secret_wipe(buf, cap + 1);
                free(buf);
                snprintf(errbuf, errlen, "SASL user file %s/%s: %s", dir, name, why);
                return -EINVAL;
        }
        *ret = buf;
        return 0;
}

static int by_name(const void *a, const void *b) {
        return strcmp(((const struct sasl_user *) a)->name, ((const struct sasl_user *) b)->name);
}

int sasl_users_load(const char *dir, struct sasl_users *ret, char *errbuf, size_t errlen) {
        if (!dir || !*dir) {
                snprintf(errbuf, errlen, "KPA_SASL_USERS_DIR is empty");
                return -EINVAL;
        }
        DIR *d = opendir(dir);
        if (!d) {
                snprintf(errbuf, errlen, "KPA_SASL_USERS_DIR %s cannot be read: %s", dir, strerror(errno));
                return -EINVAL;
        }
        struct sasl_users u = { NULL, 0 };
        size_t cap = 0;
        int r = 0;
        for (;;) {
                errno = 0;
                struct dirent *e = readdir(d);
                if (!e) {
                        if (errno) {
                                r = -EINVAL;
                                snprintf(errbuf, errlen, "KPA_SASL_USERS_DIR %s cannot be read: %s", dir,
                                         strerror(errno));
                        }
                        break;
                }
                /* Secret volumes keep their real files in ..<timestamp> folders behind ..data. */
                if (e->d_name[0] == '.')
                        continue;
                if (!name_valid(e->d_name)) {
                        char pb[80];
                        snprintf(errbuf, errlen, "KPA_SASL_USERS_DIR %s: \"%s\" is not a valid user name "
                                 "(1 to 255 characters from A-Z a-z 0-9 . _ -)", dir,
                                 printable(e->d_name, pb, sizeof pb));
                        r = -EINVAL;
                        break;
                }
                if (u.n == SASL_MAX_USERS) {
                        snprintf(errbuf, errlen, "KPA_SASL_USERS_DIR %s holds more than %d users", dir,
                                 SASL_MAX_USERS);
                        r = -E2BIG;
                        break;
                }
                if (u.n == cap) {
                        size_t ncap = cap ? cap * 2 : 8;
                        struct sasl_user *nv = realloc(u.v, ncap * sizeof *nv);
                        if (!nv) {
                                r = -ENOMEM;
                                snprintf(errbuf, errlen, "out of memory");
                                break;
                        }
                        u.v = nv;
                        cap = ncap;
                }
                char *pw = NULL;
                r = read_password(dirfd(d), dir, e->d_name, &pw, errbuf, errlen);
                if (r < 0)
                        break;
                char *name = strdup(e->d_name);
                if (!name) {
                        secret_free(pw);
                        r = -ENOMEM;
                        snprintf(errbuf, errlen, "out of memory");
                        break;
                }
                u.v[u.n++] = (struct sasl_user){ name, pw };
        }
        closedir(d);
        if (r == 0 && u.n == 0) {
                snprintf(errbuf, errlen, "KPA_SASL_USERS_DIR %s holds no users: it needs one file per user "
                         "(file name = user name, content = password)", dir);
                r = -EINVAL;
        }
        if (r < 0) {
                sasl_users_free(&u);
                return r;
        }
        qsort(u.v, u.n, sizeof *u.v, by_name);
        *ret = u;
        return 0;
}

const struct sasl_user *sasl_users_find(const struct sasl_users *u, const char *name) {
        if (!u || !u->v || !name)
                return NULL;
        struct sasl_user key = { (char *) name, NULL };
        return bsearch(&key, u->v, u->n, sizeof *u->v, by_name);
}

/* Appends s as a double-quoted value that Kafka's JaasConfig reads back unchanged. It splits
 * the string with java.io.StreamTokenizer, '"' being a quote character: inside quotes every
 * character stands for itself except '\', which starts an escape ("\\" is '\', "\"" is '"',
 * and a following digit would start an octal escape), and CR or LF, which end the string
 * whatever follows. So '\' and '"' are escaped and CR/LF refused; ';', '=', '/', quotes of
 * the other kind and spaces need nothing inside quotes. */
static int append_quoted(struct dynbuf *b, const char *s) {
        if (strchr(s, '\n') || strchr(s, '\r'))
                return -EINVAL;
        int r = dynbuf_append(b, "\"", 1);
        for (const char *p = s; r == 0 && *p; p++) {
                if (*p == '\\' || *p == '"')
                        r = dynbuf_append(b, "\\", 1);
                if (r == 0)
                        r = dynbuf_append(b, p, 1);
        }
        return r == 0 ? dynbuf_append(b, "\"", 1) : r;
}

/* Appends ` key="value"`. Names are checked before (they cannot hold CR or LF), so a value
 * that cannot be written is a password; the message names its user. */
static int append_option(struct dynbuf *b, const char *key_prefix, const char *key_name, const char *value,
                         const char *user, char *errbuf, size_t errlen) {
        int r = dynbuf_printf(b, " %s%s=", key_prefix, key_name);
        if (r == 0)
                r = append_quoted(b, value);
        if (r == -EINVAL)
                snprintf(errbuf, errlen, "the password of SASL user \"%s\" contains a carriage return or a line "
                         "break, which a JAAS string cannot hold", user);
        return r;
}

static int user_check(const struct sasl_user *user, char *errbuf, size_t errlen) {
        char pb[80];
        if (!user || !user->name || !user->password) {
                snprintf(errbuf, errlen, "no SASL user given");
                return -EINVAL;
        }
        if (!name_valid(user->name)) {
                snprintf(errbuf, errlen, "\"%s\" is not a valid SASL user name (1 to 255 characters from "
                         "A-Z a-z 0-9 . _ -)", printable(user->name, pb, sizeof pb));
                return -EINVAL;
        }
        if (!user->password[0]) {
                snprintf(errbuf, errlen, "the password of SASL user \"%s\" is empty", user->name);
                return -EINVAL;
        }
        return 0;
}

int sasl_jaas_plain_server(const struct sasl_users *u, const char *self, char **ret_jaas, char *errbuf,
                           size_t errlen) {
        const struct sasl_user *me = NULL;
        if (self) {
                me = sasl_users_find(u, self);
                if (!me) {
                        char pb[80];
                        snprintf(errbuf, errlen, "inter-broker SASL user \"%s\" has no file in KPA_SASL_USERS_DIR",
                                 printable(self, pb, sizeof pb));
                        return -EINVAL;
                }
        }
        struct dynbuf b;
        dynbuf_init(&b, JAAS_MAX);
        int r = dynbuf_appends(&b, PLAIN_MODULE);
        if (r == 0 && me) {
                r = user_check(me, errbuf, errlen);
                if (r == 0)
                        r = append_option(&b, "username", "", me->name, me->name, errbuf, errlen);
                if (r == 0)
                        r = append_option(&b, "password", "", me->password, me->name, errbuf, errlen);
        }
        for (size_t i = 0; r == 0 && u && i < u->n; i++) {
                r = user_check(&u->v[i], errbuf, errlen);
                if (r == 0)
                        r = append_option(&b, "user_", u->v[i].name, u->v[i].password, u->v[i].name, errbuf,
                                          errlen);
        }
        if (r == 0)
                r = dynbuf_append(&b, ";", 1);
        if (r == -E2BIG || r == -ENOMEM)
                snprintf(errbuf, errlen, "the JAAS configuration is too large");
        if (r < 0) {
                dynbuf_free_secret(&b);
                return r;
        }
        *ret_jaas = dynbuf_steal(&b);
        return 0;
}

int sasl_jaas_plain_client(const struct sasl_user *user, char **ret_jaas, char *errbuf, size_t errlen) {
        int r = user_check(user, errbuf, errlen);
        if (r < 0)
                return r;
        struct dynbuf b;
        dynbuf_init(&b, JAAS_MAX);
        r = dynbuf_appends(&b, PLAIN_MODULE);
        if (r == 0)
                r = append_option(&b, "username", "", user->name, user->name, errbuf, errlen);
        if (r == 0)
                r = append_option(&b, "password", "", user->password, user->name, errbuf, errlen);
        if (r == 0)
                r = dynbuf_append(&b, ";", 1);
        if (r == -E2BIG || r == -ENOMEM)
                snprintf(errbuf, errlen, "the JAAS configuration is too large");
        if (r < 0) {
                dynbuf_free_secret(&b);
                return r;
        }
        *ret_jaas = dynbuf_steal(&b);
        return 0;
}

void sasl_users_wipe(struct sasl_users *u) {
        if (!u)
                return;
        for (size_t i = 0; i < u->n; i++)
                if (u->v[i].password)
                        secret_wipe(u->v[i].password, strlen(u->v[i].password));
}

void sasl_users_free(struct sasl_users *u) {
        if (!u)
                return;
        sasl_users_wipe(u);
        for (size_t i = 0; i < u->n; i++) {
                free(u->v[i].name);
                free(u->v[i].password);
        }
        free(u->v);
        *u = (struct sasl_users){ NULL, 0 };
}
