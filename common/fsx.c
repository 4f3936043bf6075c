#include "kpa/fsx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kpa/secret.h"

int fsx_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len) {
        /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever;
         * the fstat below refuses anything but a regular file, which ignores the flag. */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                close(fd);
                return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        }
        if ((size_t) st.st_size > max) {
                close(fd);
                return -EFBIG;
        }
        /* Read up to max+1 bytes even if stat said less: the file may grow under us. */
        size_t cap = (size_t) st.st_size + 1, len = 0;
        char *buf = malloc(cap + 1);
        if (!buf) {
                close(fd);
                return -ENOMEM;
        }
        for (;;) {
                if (len == cap) {
                        if (len > max)
                                break;
                        char *nb = realloc(buf, cap * 2 + 1);
                        if (!nb) {
                                free(buf);
                                close(fd);
                                return -ENOMEM;
                        }
                        buf = nb;
                        cap *= 2;
                }
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        free(buf);
                        close(fd);
                        return r;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        close(fd);
        if (len > max) {
                secret_wipe(buf, len);
                free(buf);
                return -EFBIG;
        }
        buf[len] = '\0';
        *ret_data = buf;
        *ret_len = len;
        return 0;
}

struct fileset_entry {
        char *name;
        unsigned char *data;
        size_t len;
        mode_t mode;
        bool secret;
        char *tmp;       /* temporary path while committing */
        bool unchanged;  /* the file already holds these bytes */
};

struct fileset {
        char *dir;
        struct fileset_entry *e;
        size_t n;
};

struct fileset *fileset_new(const char *dir) {
        struct fileset *fs = calloc(1, sizeof *fs);
        if (!fs)
                return NULL;
        fs->dir = strdup(dir);
        if (!fs->dir) {
                free(fs);
                return NULL;
        }
        return fs;
}

int fileset_add(struct fileset *fs, const char *name, const void *data, size_t len,
                mode_t mode, bool secret) {
        if (strchr(name, '/') || name[0] == '.' || name[0] == '\0')
                return -EINVAL;
        for (size_t i = 0; i < fs->n; i++)
                if (strcmp(fs->e[i].name, name) == 0)
                        return -EEXIST;
        struct fileset_entry *ne = realloc(fs->e, (fs->n + 1) * sizeof *ne);
        if (!ne)
                return -ENOMEM;
        fs->e = ne;
        struct fileset_entry *e = &fs->e[fs->n];
        *e = (struct fileset_entry){ .mode = mode, .secret = secret, .len = len };
        e->name = strdup(name);
        e->data = malloc(len ? len : 1);
        if (!e->name || !e->data) {
                free(e->name);
                free(e->data);
                return -ENOMEM;
        }
        memcpy(e->data, data, len);
        fs->n++;
        return 0;
}

size_t fileset_count(const struct fileset *fs) { return fs->n; }
const char *fileset_name(const struct fileset *fs, size_t i) { return fs->e[i].name; }
mode_t fileset_mode(const struct fileset *fs, size_t i) { return fs->e[i].mode; }
const void *fileset_data(const struct fileset *fs, size_t i, size_t *ret_len) {
        *ret_len = fs->e[i].len;
        return fs->e[i].data;
}

/* Does the regular file at e->name hold exactly e's bytes and mode? O_NONBLOCK and O_NOFOLLOW:
 * the caller has seen a regular file there, but something else may have taken its place
 * since, and opening a FIFO must not wait for a writer. */
static bool file_holds(int dirfd, const struct fileset_entry *e) {
        int fd = openat(dirfd, e->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return false;
        struct stat st;
        bool same = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                    (st.st_mode & 07777) == e->mode && (size_t) st.st_size == e->len;
        if (same) {
                unsigned char chunk[65536];
                size_t off = 0;
                while (same && off < e->len) {
                        ssize_t n = read(fd, chunk, sizeof chunk);
                        if (n <= 0 || off + (size_t) n > e->len ||
                            memcmp(chunk, e->data + off, (size_t) n) != 0)
                                same = false;
                        else
                                off += (size_t) n;
                }
                secret_wipe(chunk, sizeof chunk);
        }
        close(fd);
        return same;
}

static const char *file_kind(mode_t m) {
        return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket"
               : S_ISCHR(m) || S_ISBLK(m) ? "a device" : "not a file";
}

/* Looks at what stands at e's name before anything is written: nothing, a regular file
 * (already holding these bytes, or to be replaced), or a symlink (replaced itself, never
 * followed). Anything else cannot be replaced by a rename and is refused now, so that the
 * refusal changes nothing and no temporary is ever written. */
static int check_target(int dirfd, const char *dir, struct fileset_entry *e, char *errbuf, size_t errlen) {
        struct stat st;
        if (fstatat(dirfd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                int r = -errno;
                snprintf(errbuf, errlen, "cannot inspect %s/%s: %s", dir, e->name, strerror(-r));
                return r;
        }
        if (S_ISLNK(st.st_mode))
                return 0;
        if (!S_ISREG(st.st_mode)) {
                snprintf(errbuf, errlen, "cannot replace %s/%s: not a regular file but %s", dir, e->name,
                         file_kind(st.st_mode));
                return S_ISDIR(st.st_mode) ? -EISDIR : -EEXIST;
        }
        e->unchanged = file_holds(dirfd, e);
        return 0;
}

static int write_all(int fd, const unsigned char *p, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static void fileset_cleanup_temps(struct fileset *fs, int dirfd) {
        for (size_t i = 0; i < fs->n; i++) {
                if (fs->e[i].tmp) {
                        unlinkat(dirfd, fs->e[i].tmp, 0);
                        free(fs->e[i].tmp);
                        fs->e[i].tmp = NULL;
                }
        }
}

int fileset_commit(struct fileset *fs, char *errbuf, size_t errlen) {
        int r = 0;
        int dirfd = open(fs->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
                r = -errno;
                snprintf(errbuf, errlen, "output directory %s: %s", fs->dir, strerror(-r));
                return r;
        }
        for (size_t i = 0; i < fs->n; i++)
                if ((r = check_target(dirfd, fs->dir, &fs->e[i], errbuf, errlen)) < 0)
                        goto fail;
        for (size_t i = 0; i < fs->n; i++) {
                struct fileset_entry *e = &fs->e[i];
                if (e->unchanged)
                        continue;
                char tmp[300];
                snprintf(tmp, sizeof tmp, ".%s.kpa-tmp-%ld", e->name, (long) getpid());
                e->tmp = strdup(tmp);
                if (!e->tmp) {
                        r = -ENOMEM;
                        snprintf(errbuf, errlen, "out of memory");
                        goto fail;
                }
                /* The mode is set at creation, so a secret is never readable by others. */
                int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                                e->mode);
                if (fd < 0) {
                        r = -errno;
                        snprintf(errbuf, errlen, "cannot create %s/%s: %s", fs->dir, tmp, strerror(-r));
                        goto fail;
                }
                r = fchmod(fd, e->mode) < 0 ? -errno : 0;
                if (r == 0)
                        r = write_all(fd, e->data, e->len);
                if (r == 0 && fsync(fd) < 0)
                        r = -errno;
                if (close(fd) < 0 && r == 0)
                        r = -errno;
                if (r < 0) {
                        snprintf(errbuf, errlen, "cannot write %s/%s: %s", fs->dir, tmp, strerror(-r));
                        goto fail;
                }
        }
        for (size_t i = 0; i < fs->n; i++) {
                struct fileset_entry *e = &fs->e[i];
                if (e->unchanged)
                        continue;
                if (renameat(dirfd, e->tmp, dirfd, e->name) < 0) {
                        r = -errno;
                        snprintf(errbuf, errlen, "cannot rename %s into place in %s: %s", e->name,
                                 fs->dir, strerror(-r));
                        goto fail;
                }
                free(e->tmp);
                e->tmp = NULL;
        }
        if (fsync(dirfd) < 0) {
                r = -errno;
                snprintf(errbuf, errlen, "cannot fsync %s: %s", fs->dir, strerror(-r));
        }
        close(dirfd);
        return r;
fail:
        fileset_cleanup_temps(fs, dirfd);
        close(dirfd);
        return r;
}

struct fileset *fileset_free(struct fileset *fs) {
        if (!fs)
                return NULL;
        for (size_t i = 0; i < fs->n; i++) {
                if (fs->e[i].secret)
                        secret_wipe(fs->e[i].data, fs->e[i].len);
                free(fs->e[i].data);
                free(fs->e[i].name);
                free(fs->e[i].tmp);
        }
        free(fs->e);
        free(fs->dir);
        free(fs);
        return NULL;
}
