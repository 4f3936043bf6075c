#include "kpa/fsx.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kpa/secret.h"

int fsx_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len) {
        return fsx_read_file_stat(path, max, ret_data, ret_len, NULL);
}

int fsx_read_file_stat(const char *path, size_t max, char **ret_data, size_t *ret_len,
                       struct stat *ret_st) {
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
        if (ret_st)
                *ret_st = st;
        return 0;
}

struct fileset_entry {
        char *name;
        unsigned char *data;
        size_t len;
        mode_t mode;
        bool secret;
        /* While committing: */
        bool unchanged;       /* the file already holds these bytes: left alone */
        bool existed;         /* something stood at the name before */
        char *tmp;            /* the new file's temporary name, until renamed into place */
        char *backup;         /* a second name (hard link) of what stood there, for a rollback */
        bool renamed;         /* the new file is in place */
        bool restore_failed;  /* a rollback could not put the backup back: it is kept */
};

/* A temporary is ".<name>.kpa-tmp-<16 hex digits>": hidden, named after its file, and
 * unpredictable (64 random bits), so no other user can plant anything at the name in advance.
 * Earlier releases named them ".<name>.kpa-tmp-<pid>"; both forms are ours to clean up. */
#define TMP_MARK ".kpa-tmp-"
#define TMP_RANDOM_HEX 16
#define TMP_LEGACY_PID_MAX 10
/* How many random names are tried before giving up: a collision of 64 random bits means
 * that someone is planting names as fast as we draw them. */
#define TMP_ATTEMPTS 16

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
        /* Its temporary, ".<name>" + TMP_MARK + the random part, must be a valid name too. */
        if (strlen(name) + 1 + strlen(TMP_MARK) + TMP_RANDOM_HEX > NAME_MAX)
                return -ENAMETOOLONG;
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

/* Is the file (sx) the root of a mount other than the directory's (dx)? A Kubernetes subPath
 * mount, or any bind mount of a single file, stands there: no rename can replace it. The
 * kernel says so directly since Linux 5.8 (STATX_ATTR_MOUNT_ROOT, mount ids). Only without
 * both is the device compared, which shows a mount of another file system but not a bind
 * mount from the same one, and is not used otherwise: overlayfs can report the device of an
 * underlying layer for a file in a directory of the overlay. */
static bool is_mount_point(const struct statx *sx, const struct statx *dx) {
        if (sx->stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
                return sx->stx_attributes & STATX_ATTR_MOUNT_ROOT;
        if ((sx->stx_mask & STATX_MNT_ID) && (dx->stx_mask & STATX_MNT_ID))
                return sx->stx_mnt_id != dx->stx_mnt_id;
        return sx->stx_dev_major != dx->stx_dev_major || sx->stx_dev_minor != dx->stx_dev_minor;
}

static bool is_frozen(const struct statx *sx) {
        uint64_t a = STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND;
        return (sx->stx_attributes_mask & a) && (sx->stx_attributes & a);
}

/* Looks at what stands at e's name before anything is written: nothing, a regular file
 * (already holding these bytes, or to be replaced), or a symlink (replaced itself, never
 * followed). What no rename can replace (a directory, FIFO, socket or device, a mount point,
 * an immutable file) is refused now, so that the refusal changes nothing and no temporary is
 * ever written. */
static int check_target(int dirfd, const char *dir, const struct statx *dx, struct fileset_entry *e, char *errbuf,
                        size_t errlen) {
        struct statx sx;
        if (statx(dirfd, e->name, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MNT_ID, &sx) < 0) {
                if (errno == ENOENT)
                        return 0;
                int r = -errno;
                snprintf(errbuf, errlen, "cannot inspect %s/%s: %s", dir, e->name, strerror(-r));
                return r;
        }
        e->existed = true;
        mode_t m = sx.stx_mode;
        if (!S_ISREG(m) && !S_ISLNK(m)) {
                snprintf(errbuf, errlen, "cannot replace %s/%s: not a regular file but %s", dir, e->name, file_kind(m));
                return S_ISDIR(m) ? -EISDIR : -EEXIST;
        }
        if (S_ISREG(m))
                e->unchanged = file_holds(dirfd, e);
        if (e->unchanged)
                return 0;
        if (is_mount_point(&sx, dx)) {
                snprintf(errbuf, errlen, "cannot replace %s/%s: a file is mounted there (a subPath or bind mount); "
                         "mount the whole directory instead", dir, e->name);
                return -EBUSY;
        }
        if (is_frozen(&sx)) {
                snprintf(errbuf, errlen, "cannot replace %s/%s: the file is immutable or append-only", dir, e->name);
                return -EPERM;
        }
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

bool fsx_is_temporary_name(const char *name) {
        if (name[0] != '.' || name[1] == '.' || name[1] == '\0')
                return false;
        /* The last mark: a file name may itself contain one. */
        const char *mark = NULL;
        for (const char *p = strstr(name + 1, TMP_MARK); p; p = strstr(p + 1, TMP_MARK))
                mark = p;
        if (!mark || mark == name + 1)
                return false;
        const char *tail = mark + strlen(TMP_MARK);
        size_t n = strlen(tail);
        if (n == TMP_RANDOM_HEX && strspn(tail, "0123456789abcdef") == n)
                return true;
        return n >= 1 && n <= TMP_LEGACY_PID_MAX && strspn(tail, "0123456789") == n;
}

/* Removes what a run killed before it finished left behind: regular files of our naming
 * owned by our own user. A name of another user, or anything but a regular file, is not one
 * of ours and stays. Called after a commit succeeded, so a failing run changes nothing; it is
 * best effort, as what it cannot remove now the next run removes. */
static void remove_stale_temporaries(int dirfd) {
        int fd = dup(dirfd);
        DIR *d = fd < 0 ? NULL : fdopendir(fd);
        if (!d) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
                struct stat st;
                if (fsx_is_temporary_name(de->d_name) && fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISREG(st.st_mode) && st.st_uid == geteuid())
                        unlinkat(dirfd, de->d_name, 0);
        }
        closedir(d);
}

static int random_hex(char *ret, size_t digits) {
        unsigned char raw[TMP_RANDOM_HEX / 2];
        size_t got = 0;
        while (got < digits / 2) {
                ssize_t n = getrandom(raw + got, digits / 2 - got, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                got += (size_t) n;
        }
        for (size_t i = 0; i < digits / 2; i++)
                snprintf(ret + 2 * i, 3, "%02x", raw[i]);
        return 0;
}

/* Creates a new file of our naming for name with the given mode: O_EXCL|O_NOFOLLOW, so that a
 * file, hard link or symlink already standing at the name is never opened or followed; on
 * such a collision another random name is drawn. Returns the descriptor and the name. */
static int create_temporary(int dirfd, const char *name, mode_t mode, char **ret_name) {
        char tmp[NAME_MAX + 1], hex[TMP_RANDOM_HEX + 1];
        for (int attempt = 0; attempt < TMP_ATTEMPTS; attempt++) {
                int r = random_hex(hex, TMP_RANDOM_HEX);
                if (r < 0)
                        return r;
                snprintf(tmp, sizeof tmp, ".%s" TMP_MARK "%s", name, hex);
                int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
                if (fd < 0 && errno == EEXIST)
                        continue;
                if (fd < 0)
                        return -errno;
                if (!(*ret_name = strdup(tmp))) {
                        unlinkat(dirfd, tmp, 0);
                        close(fd);
                        return -ENOMEM;
                }
                return fd;
        }
        return -EEXIST;
}

/* Gives the file at e's name a second name of our naming (a hard link), so that a rollback
 * can put the very same file back. A name that vanished since it was inspected needs none. */
static int keep_backup(int dirfd, struct fileset_entry *e) {
        char bak[NAME_MAX + 1], hex[TMP_RANDOM_HEX + 1];
        for (int attempt = 0; attempt < TMP_ATTEMPTS; attempt++) {
                int r = random_hex(hex, TMP_RANDOM_HEX);
                if (r < 0)
                        return r;
                snprintf(bak, sizeof bak, ".%s" TMP_MARK "%s", e->name, hex);
                if (linkat(dirfd, e->name, dirfd, bak, 0) < 0) {
                        if (errno == EEXIST)
                                continue;
                        if (errno == ENOENT) {
                                e->existed = false;
                                return 0;
                        }
                        return -errno;
                }
                if (!(e->backup = strdup(bak))) {
                        unlinkat(dirfd, bak, 0);
                        return -ENOMEM;
                }
                return 0;
        }
        return -EEXIST;
}

/* Undoes the renames of entries [0, upto): each backup is renamed back over its name (the
 * very file that stood there, same inode), and a name that did not exist before is removed.
 * Returns 0, or the first failure with the entry it concerns in *ret_failed; the backup of
 * that entry is kept, so the old file is not lost. */
static int rollback(struct fileset *fs, int dirfd, size_t upto, const struct fileset_entry **ret_failed) {
        int first = 0;
        for (size_t j = upto; j-- > 0;) {
                struct fileset_entry *e = &fs->e[j];
                if (!e->renamed)
                        continue;
                int k = e->backup ? renameat(dirfd, e->backup, dirfd, e->name) : unlinkat(dirfd, e->name, 0);
                if (k < 0) {
                        if (first == 0) {
                                first = -errno;
                                *ret_failed = e;
                        }
                        e->restore_failed = true;
                        continue;
                }
                e->renamed = false;
                free(e->backup);
                e->backup = NULL;
        }
        /* Make the restored state as durable as the new one would have been. */
        fsync(dirfd);
        return first;
}

/* Removes whatever of a commit is left: temporaries not renamed, backups not needed (a
 * backup whose restore failed is the only copy of the old file and stays). */
static void remove_leftovers(struct fileset *fs, int dirfd) {
        for (size_t i = 0; i < fs->n; i++) {
                struct fileset_entry *e = &fs->e[i];
                if (e->tmp)
                        unlinkat(dirfd, e->tmp, 0);
                if (e->backup && !e->restore_failed)
                        unlinkat(dirfd, e->backup, 0);
                free(e->tmp);
                free(e->backup);
                e->tmp = e->backup = NULL;
        }
}

static int write_temporary(int dirfd, const char *dir, struct fileset_entry *e, char *errbuf, size_t errlen) {
        /* The mode is set at creation, so a secret is never readable by others. */
        int fd = create_temporary(dirfd, e->name, e->mode, &e->tmp);
        if (fd < 0) {
                snprintf(errbuf, errlen, "cannot create a temporary for %s in %s: %s", e->name, dir, strerror(-fd));
                return fd;
        }
        int r = fchmod(fd, e->mode) < 0 ? -errno : 0;
        if (r == 0)
                r = write_all(fd, e->data, e->len);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r < 0)
                snprintf(errbuf, errlen, "cannot write %s/%s: %s", dir, e->tmp, strerror(-r));
        return r;
}

/* After a failure at or after the renames: rolls back and describes both the failure (what
 * the caller put in errbuf) and, if putting a file back failed too, that. */
static void roll_back_and_explain(struct fileset *fs, int dirfd, size_t upto, char *errbuf, size_t errlen) {
        const struct fileset_entry *failed = NULL;
        int k = rollback(fs, dirfd, upto, &failed);
        if (k < 0) {
                size_t used = strlen(errbuf);
                char kept[NAME_MAX + 32] = "";
                if (failed->backup)
                        snprintf(kept, sizeof kept, " (the old one is kept as %s)", failed->backup);
                snprintf(errbuf + used, errlen - used,
                         "; undoing %s failed too (%s), so %s holds old and new files until kpa-init runs again%s",
                         failed->name, strerror(-k), fs->dir, kept);
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
                fs->e[i].unchanged = fs->e[i].existed = false;
        struct statx dx;
        if (statx(dirfd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_MNT_ID, &dx) < 0) {
                r = -errno;
                snprintf(errbuf, errlen, "output directory %s: %s", fs->dir, strerror(-r));
                goto out;
        }
        /* Everything that can be checked or prepared is, before the first rename: what
         * stands at each name, every new file written and fsynced, every old file given a
         * backup name. Up to here a failure changes nothing in the directory. */
        for (size_t i = 0; i < fs->n; i++)
                if ((r = check_target(dirfd, fs->dir, &dx, &fs->e[i], errbuf, errlen)) < 0)
                        goto out;
        for (size_t i = 0; i < fs->n; i++)
                if (!fs->e[i].unchanged && (r = write_temporary(dirfd, fs->dir, &fs->e[i], errbuf, errlen)) < 0)
                        goto out;
        for (size_t i = 0; i < fs->n; i++) {
                struct fileset_entry *e = &fs->e[i];
                if (!e->unchanged && e->existed && (r = keep_backup(dirfd, e)) < 0) {
                        snprintf(errbuf, errlen, "cannot keep a second name of %s/%s for a rollback: %s", fs->dir,
                                 e->name, strerror(-r));
                        goto out;
                }
        }
        /* A rename that fails even so (another mount appeared, an I/O error) is undone
         * together with the renames before it, and so is a directory that cannot be fsynced:
         * the caller is told of a failure only when the directory is as it was. */
        for (size_t i = 0; i < fs->n; i++) {
                struct fileset_entry *e = &fs->e[i];
                if (e->unchanged)
                        continue;
                if (renameat(dirfd, e->tmp, dirfd, e->name) < 0) {
                        r = -errno;
                        snprintf(errbuf, errlen, "cannot rename %s into place in %s: %s", e->name, fs->dir,
                                 strerror(-r));
                        roll_back_and_explain(fs, dirfd, i, errbuf, errlen);
                        goto out;
                }
                e->renamed = true;
                free(e->tmp);
                e->tmp = NULL;
        }
        if (fsync(dirfd) < 0) {
                r = -errno;
                snprintf(errbuf, errlen, "cannot fsync %s: %s", fs->dir, strerror(-r));
                roll_back_and_explain(fs, dirfd, fs->n, errbuf, errlen);
                goto out;
        }
        /* Committed: the backups are not needed any more (remove_leftovers below), nor are
         * the temporaries a killed run left. */
        remove_stale_temporaries(dirfd);
out:
        remove_leftovers(fs, dirfd);
        for (size_t i = 0; i < fs->n; i++)
                fs->e[i].renamed = fs->e[i].restore_failed = false;
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
        }
        free(fs->e);
        free(fs->dir);
        free(fs);
        return NULL;
}
