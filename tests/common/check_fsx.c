/* Suite for fsx: bounded reads, and file sets committed all or nothing. Faults come from the
 * link: this program is linked with -Wl,--wrap for renameat, linkat, fsync and getrandom (see
 * tests/CMakeLists.txt), so that a test can make the Nth call fail, or choose the "random"
 * bytes of a temporary's name and plant something there first. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kpa/fsx.h"
#include "testutil.h"

/* --- fault injection -------------------------------------------------------------------- */

/* Calls of a wrapped function are counted from 1; those numbered fail_from up to
 * fail_from + fail_count - 1 fail with EIO. fail_from 0: none fails. */
struct fault {
        int calls, fail_from, fail_count;
};

static struct fault rename_fault, link_fault, dirsync_fault;

static void faults_reset(void) {
        rename_fault = link_fault = dirsync_fault = (struct fault){ 0 };
}

static bool fault_hits(struct fault *f) {
        f->calls++;
        if (f->fail_from > 0 && f->calls >= f->fail_from && f->calls < f->fail_from + f->fail_count) {
                errno = EIO;
                return true;
        }
        return false;
}

int __real_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int __wrap_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
        return fault_hits(&rename_fault) ? -1 : __real_renameat(olddirfd, oldpath, newdirfd, newpath);
}

int __real_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags);
int __wrap_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags) {
        return fault_hits(&link_fault) ? -1 : __real_linkat(olddirfd, oldpath, newdirfd, newpath, flags);
}

/* Only an fsync of a directory counts: that is the one that makes the renames durable. */
int __real_fsync(int fd);
int __wrap_fsync(int fd) {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && fault_hits(&dirsync_fault))
                return -1;
        return __real_fsync(fd);
}

/* When draws > 0, the Nth call of getrandom fills its buffer with the byte N, so that the
 * names of temporaries are known in advance; on_draw runs before the first such call. */
static int draws = -1;
static void (*on_draw)(void);

ssize_t __real_getrandom(void *buf, size_t len, unsigned int flags);
ssize_t __wrap_getrandom(void *buf, size_t len, unsigned int flags) {
        if (draws < 0)
                return __real_getrandom(buf, len, flags);
        if (draws == 0 && on_draw)
                on_draw();
        draws++;
        memset(buf, draws, len);
        return (ssize_t) len;
}

/* --- helpers ---------------------------------------------------------------------------- */

static char path_buf[8][1024];
static int path_next;

static const char *at(const char *dir, const char *name) {
        char *b = path_buf[path_next++ % 8];
        snprintf(b, sizeof path_buf[0], "%s/%s", dir, name);
        return b;
}

/* Every entry of dir, sorted: name, type, mode, inode and content, as one string. Inodes
 * prove that a rolled-back file is the very same file, not a copy. */
static char *snapshot(const char *dir) {
        struct dirent **names;
        int n = scandir(dir, &names, NULL, alphasort);
        ck_assert_int_ge(n, 0);
        size_t cap = 1 << 16, len = 0;
        char *buf = calloc(1, cap);
        for (int i = 0; i < n; i++) {
                const char *name = names[i]->d_name;
                struct stat st;
                if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
                        ck_assert_int_eq(lstat(at(dir, name), &st), 0);
                        len += (size_t) snprintf(buf + len, cap - len, "%s %s %o %lu: ", name,
                                                 S_ISREG(st.st_mode) ? "file" : S_ISLNK(st.st_mode) ? "link" : "other",
                                                 (unsigned) (st.st_mode & 07777), (unsigned long) st.st_ino);
                        if (S_ISREG(st.st_mode)) {
                                char *c = tu_read(dir, name);
                                len += (size_t) snprintf(buf + len, cap - len, "%s", c);
                                free(c);
                        } else if (S_ISLNK(st.st_mode)) {
                                char target[512];
                                ssize_t k = readlink(at(dir, name), target, sizeof target - 1);
                                ck_assert_int_gt(k, 0);
                                target[k] = '\0';
                                len += (size_t) snprintf(buf + len, cap - len, "-> %s", target);
                        }
                        len += (size_t) snprintf(buf + len, cap - len, "\n");
                }
                free(names[i]);
        }
        free(names);
        return buf;
}

static int count_temporaries(const char *dir) {
        DIR *d = opendir(dir);
        ck_assert_ptr_nonnull(d);
        int n = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
                n += fsx_is_temporary_name(de->d_name);
        closedir(d);
        return n;
}

static void write_mode(const char *dir, const char *name, const char *content, mode_t mode) {
        tu_write(dir, name, content);
        ck_assert_int_eq(chmod(at(dir, name), mode), 0);
}

static void teardown(void) {
        faults_reset();
        draws = -1;
        on_draw = NULL;
}

/* --- reads ------------------------------------------------------------------------------ */

START_TEST(fsx_read_file_enforces_max) {
        char *dir = tu_mkdtemp();
        tu_write(dir, "f", "0123456789");
        char path[600], *data = NULL;
        size_t len = 0;
        snprintf(path, sizeof path, "%s/f", dir);
        ck_assert_int_eq(fsx_read_file(path, 9, &data, &len), -EFBIG);
        ck_assert_ptr_null(data);
        ck_assert_int_eq(fsx_read_file(path, 10, &data, &len), 0);
        ck_assert_uint_eq(len, 10);
        ck_assert_str_eq(data, "0123456789");
        free(data);
        ck_assert_int_eq(fsx_read_file(dir, 10, &data, &len), -EISDIR);
        snprintf(path, sizeof path, "%s/missing", dir);
        ck_assert_int_eq(fsx_read_file(path, 10, &data, &len), -ENOENT);
        /* A FIFO (no writer) is refused at once, not waited on. */
        snprintf(path, sizeof path, "%s/fifo", dir);
        ck_assert_int_eq(mkfifo(path, 0600), 0);
        ck_assert_int_eq(fsx_read_file(path, 10, &data, &len), -EINVAL);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

/* --- commits ---------------------------------------------------------------------------- */

START_TEST(fileset_commit_writes_modes_and_skips_identical_files) {
        char *dir = tu_mkdtemp();
        struct fileset *fs = fileset_new(dir);
        ck_assert_int_eq(fileset_add(fs, "a.txt", "hello\n", 6, 0644, false), 0);
        ck_assert_int_eq(fileset_add(fs, "secret", "pw", 2, 0600, true), 0);
        ck_assert_int_eq(fileset_add(fs, "a.txt", "x", 1, 0644, false), -EEXIST);
        ck_assert_int_eq(fileset_add(fs, "../evil", "x", 1, 0644, false), -EINVAL);
        ck_assert_int_eq(fileset_add(fs, ".hidden", "x", 1, 0644, false), -EINVAL);
        char err[256] = "";
        ck_assert_int_eq(fileset_commit(fs, err, sizeof err), 0);
        fileset_free(fs);
        char *a = tu_read(dir, "a.txt");
        ck_assert_str_eq(a, "hello\n");
        free(a);
        struct stat st, st2;
        ck_assert_int_eq(stat(at(dir, "secret"), &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0600);
        /* The same bytes again leave the file (its inode) alone. */
        fs = fileset_new(dir);
        fileset_add(fs, "secret", "pw", 2, 0600, true);
        ck_assert_int_eq(fileset_commit(fs, err, sizeof err), 0);
        fileset_free(fs);
        ck_assert_int_eq(stat(at(dir, "secret"), &st2), 0);
        ck_assert_uint_eq(st.st_ino, st2.st_ino);
        ck_assert_int_eq(count_temporaries(dir), 0);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

/* Planted at every name a temporary could get, a directory makes creating it fail. */
static char *blocked_dir;
static void plant_blockers(void) {
        for (int i = 1; i <= 40; i++) {
                char name[64];
                snprintf(name, sizeof name, ".b.txt.kpa-tmp-%02x%02x%02x%02x%02x%02x%02x%02x", i, i, i, i, i, i, i, i);
                ck_assert_int_eq(mkdir(at(blocked_dir, name), 0700), 0);
        }
}

START_TEST(fileset_commit_that_cannot_write_a_temporary_changes_nothing) {
        char *dir = tu_mkdtemp();
        tu_write(dir, "a.txt", "old\n");
        struct fileset *fs = fileset_new(dir);
        fileset_add(fs, "a.txt", "new\n", 4, 0644, false);
        fileset_add(fs, "b.txt", "b\n", 2, 0644, false);
        blocked_dir = dir;
        on_draw = plant_blockers;
        draws = 0;
        char err[256] = "";
        ck_assert_int_eq(fileset_commit(fs, err, sizeof err), -EEXIST);
        char want[600];
        snprintf(want, sizeof want, "cannot create a temporary for b.txt in %s: File exists", dir);
        ck_assert_str_eq(err, want);
        fileset_free(fs);
        char *a = tu_read(dir, "a.txt");
        ck_assert_str_eq(a, "old\n");
        free(a);
        ck_assert_ptr_null(tu_read(dir, "b.txt"));
        /* a.txt's temporary is gone; the planted directories are not ours and stay. */
        ck_assert_int_eq(count_temporaries(dir), 40);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

/* --- all or nothing -------------------------------------------------------------------- */

/* An output directory from an earlier run: two files to replace (one 0600), one that stays
 * the same, a symlink to replace, and a bystander; a fifth file is new. */
static char *old_output(void) {
        char *dir = tu_mkdtemp();
        write_mode(dir, "a.txt", "old a\n", 0644);
        write_mode(dir, "b.txt", "old b\n", 0600);
        write_mode(dir, "c.txt", "same\n", 0644);
        ck_assert_int_eq(symlink("a.txt", at(dir, "d.txt")), 0);
        write_mode(dir, "notes.txt", "not ours\n", 0644);
        return dir;
}

static struct fileset *new_output(const char *dir) {
        struct fileset *fs = fileset_new(dir);
        ck_assert_int_eq(fileset_add(fs, "a.txt", "new a\n", 6, 0644, false), 0);
        ck_assert_int_eq(fileset_add(fs, "b.txt", "new b\n", 6, 0600, true), 0);
        ck_assert_int_eq(fileset_add(fs, "c.txt", "same\n", 5, 0644, false), 0);
        ck_assert_int_eq(fileset_add(fs, "d.txt", "new d\n", 6, 0644, false), 0);
        ck_assert_int_eq(fileset_add(fs, "e.txt", "new e\n", 6, 0644, false), 0);
        return fs;
}

/* The worst case of a commit: the Nth rename fails, for every N. Each time every file is
 * back as it was (the same inode, mode and bytes; the new file gone) and nothing of ours is
 * left; one rename more than there are files to replace, and the commit succeeds. */
START_TEST(a_failure_at_each_rename_is_undone_completely) {
        static const char *const replaced[] = { "a.txt", "b.txt", "d.txt", "e.txt" };
        int n;
        for (n = 1;; n++) {
                char *dir = old_output();
                char *before = snapshot(dir);
                struct fileset *fs = new_output(dir);
                faults_reset();
                rename_fault.fail_from = n;
                rename_fault.fail_count = 1;
                char err[1024] = "";
                int r = fileset_commit(fs, err, sizeof err);
                fileset_free(fs);
                char *after = snapshot(dir);
                if (r == 0) {
                        ck_assert_ptr_nonnull(strstr(after, "a.txt file 644 "));
                        ck_assert_ptr_nonnull(strstr(after, ": new a\n"));
                        ck_assert_ptr_nonnull(strstr(after, "b.txt file 600 "));
                        ck_assert_ptr_nonnull(strstr(after, "d.txt file 644 "));
                        ck_assert_ptr_nonnull(strstr(after, ": new e\n"));
                        ck_assert_int_eq(count_temporaries(dir), 0);
                        free(before);
                        free(after);
                        tu_rmtree(dir);
                        free(dir);
                        break;
                }
                ck_assert_int_le(n, 4);
                ck_assert_int_eq(r, -EIO);
                char want[1024];
                snprintf(want, sizeof want, "cannot rename %s into place in %s: Input/output error", replaced[n - 1], dir);
                ck_assert_str_eq(err, want);
                ck_assert_str_eq(after, before);
                ck_assert_int_eq(count_temporaries(dir), 0);
                free(before);
                free(after);
                tu_rmtree(dir);
                free(dir);
        }
        ck_assert_int_eq(n, 5);
}
END_TEST

/* A second, independent failure while undoing: the line says which file could not be put
 * back and where the old one is kept; everything else is undone. */
START_TEST(a_failed_undo_is_reported_and_keeps_the_old_file) {
        char *dir = old_output();
        struct fileset *fs = new_output(dir);
        /* Rename 3 (d.txt) fails; so does rename 4, the first undo (b.txt, undone before a.txt). */
        rename_fault.fail_from = 3;
        rename_fault.fail_count = 2;
        char err[1024] = "";
        ck_assert_int_eq(fileset_commit(fs, err, sizeof err), -EIO);
        fileset_free(fs);
        char want[1024];
        snprintf(want, sizeof want, "cannot rename d.txt into place in %s: Input/output error; undoing b.txt failed "
                 "too (Input/output error), so %s holds old and new files until kpa-init runs again (the old one "
                 "is kept as .b.txt.kpa-tmp-", dir, dir);
        ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
        const char *kept = strstr(err, "kept as ") + strlen("kept as ");
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int) (strlen(kept) - 1), kept);
        ck_assert(fsx_is_temporary_name(name));
        char *old_b = tu_read(dir, name), *b = tu_read(dir, "b.txt"), *a = tu_read(dir, "a.txt");
        ck_assert_str_eq(old_b, "old b\n");
        ck_assert_str_eq(b, "new b\n");
        ck_assert_str_eq(a, "old a\n");
        free(old_b);
        free(b);
        free(a);
        ck_assert_ptr_null(tu_read(dir, "e.txt"));
        ck_assert_int_eq(count_temporaries(dir), 1);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(a_directory_that_cannot_be_fsynced_is_undone) {
        char *dir = old_output();
        char *before = snapshot(dir);
        struct fileset *fs = new_output(dir);
        dirsync_fault.fail_from = 1;
        dirsync_fault.fail_count = 1;
        char err[1024] = "";
        ck_assert_int_eq(fileset_commit(fs, err, sizeof err), -EIO);
        fileset_free(fs);
        char want[1024];
        snprintf(want, sizeof want, "cannot fsync %s: Input/output error", dir);
        ck_assert_str_eq(err, want);
        char *after = snapshot(dir);
        ck_assert_str_eq(after, before);
        ck_assert_int_eq(count_temporaries(dir), 0);
        free(before);
        free(after);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(an_old_file_that_cannot_get_a_second_name_changes_nothing) {
        char *dir = old_output();
        char *before = snapshot(dir);
        struct fileset *fs = new_output(dir);
        link_fault.fail_from = 2;
        link_fault.fail_count = 1;
        char err[1024] = "";
        ck_assert_int_eq(fileset_commit(fs, err, sizeof err), -EIO);
        fileset_free(fs);
        char want[1024];
        snprintf(want, sizeof want, "cannot keep a second name of %s/b.txt for a rollback: Input/output error", dir);
        ck_assert_str_eq(err, want);
        ck_assert_int_eq(rename_fault.calls, 0);
        char *after = snapshot(dir);
        ck_assert_str_eq(after, before);
        ck_assert_int_eq(count_temporaries(dir), 0);
        free(before);
        free(after);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

/* --- temporaries ------------------------------------------------------------------------ */

START_TEST(temporary_names_are_ours_exactly) {
        static const char *const ours[] = {
                ".server.properties.kpa-tmp-0123456789abcdef", ".keystore.p12.kpa-tmp-1",
                ".ca.pem.kpa-tmp-4294967295", ".a.kpa-tmp-b.kpa-tmp-00000000000000ff",
        };
        static const char *const others[] = {
                "server.properties.kpa-tmp-1", ".server.properties.kpa-tmp-", ".kpa-tmp-1", "..x.kpa-tmp-1",
                ".x.kpa-tmp-0123456789ABCDEF", ".x.kpa-tmp-0123456789abcde", ".x.kpa-tmp-0123456789abcdef0",
                ".x.kpa-tmp-12345678901", ".x.kpa-tmp--1", ".x.kpa-tmp-1 ", ".x.kpa-tmp-1.kpa-tmp-x", "", ".",
        };
        for (size_t i = 0; i < sizeof ours / sizeof *ours; i++)
                ck_assert_msg(fsx_is_temporary_name(ours[i]), "%s", ours[i]);
        for (size_t i = 0; i < sizeof others / sizeof *others; i++)
                ck_assert_msg(!fsx_is_temporary_name(others[i]), "%s", others[i]);
}
END_TEST

/* What another user with write access to the directory could plant where a temporary goes:
 * a hard link to a file elsewhere (the secrets would be written into it) and a symlink (the
 * write would follow it). The name of the first temporary of each kind is planted just as it
 * is drawn; the name earlier releases used (".<name>.kpa-tmp-<pid>") is planted beforehand. */
static char *plant_root, *plant_out;
static void plant_at_drawn_names(void) {
        /* Draw 1 is a.txt's first name, draw 3 b.txt's first (a.txt takes draw 2 after the
         * collision). */
        ck_assert_int_eq(link(at(plant_root, "victim"), at(plant_out, ".a.txt.kpa-tmp-0101010101010101")), 0);
        ck_assert_int_eq(symlink(at(plant_root, "elsewhere"), at(plant_out, ".b.txt.kpa-tmp-0303030303030303")), 0);
}

START_TEST(planted_files_links_and_symlinks_at_temporary_names_are_never_written) {
        plant_root = tu_mkdtemp();
        plant_out = strdup(at(plant_root, "out"));
        ck_assert_int_eq(mkdir(plant_out, 0755), 0);
        tu_write(plant_root, "victim", "victim\n");
        char legacy[64];
        snprintf(legacy, sizeof legacy, ".a.txt.kpa-tmp-%ld", (long) getpid());
        ck_assert_int_eq(link(at(plant_root, "victim"), at(plant_out, legacy)), 0);
        struct fileset *fs = fileset_new(plant_out);
        fileset_add(fs, "a.txt", "secret-a\n", 9, 0600, true);
        fileset_add(fs, "b.txt", "secret-b\n", 9, 0600, true);
        on_draw = plant_at_drawn_names;
        draws = 0;
        char err[256] = "";
        ck_assert_msg(fileset_commit(fs, err, sizeof err) == 0, "%s", err);
        fileset_free(fs);
        char *v = tu_read(plant_root, "victim");
        ck_assert_str_eq(v, "victim\n");
        free(v);
        ck_assert_ptr_null(tu_read(plant_root, "elsewhere"));
        char *a = tu_read(plant_out, "a.txt"), *b = tu_read(plant_out, "b.txt");
        ck_assert_str_eq(a, "secret-a\n");
        ck_assert_str_eq(b, "secret-b\n");
        free(a);
        free(b);
        struct stat sv, sa;
        ck_assert_int_eq(stat(at(plant_root, "victim"), &sv), 0);
        ck_assert_int_eq(stat(at(plant_out, "a.txt"), &sa), 0);
        ck_assert_uint_ne(sv.st_ino, sa.st_ino);
        ck_assert_uint_eq(sa.st_mode & 0777, 0600);
        /* The planted names were drawn, collided, and were left alone. */
        ck_assert_int_eq(draws, 4);
        tu_rmtree(plant_root);
        free(plant_root);
        free(plant_out);
}
END_TEST

START_TEST(stale_temporaries_of_our_naming_and_user_are_removed_and_nothing_else) {
        char *dir = tu_mkdtemp();
        static const char *const stale[] = { ".a.txt.kpa-tmp-0123456789abcdef", ".keystore.p12.kpa-tmp-17",
                                             ".gone.txt.kpa-tmp-00000000000000aa" };
        static const char *const kept[] = { "a.kpa-tmp-17", ".a.txt.kpa-tmp-0123456789ABCDEF", ".a.txt.kpa-tmp-x",
                                            "notes.txt" };
        for (size_t i = 0; i < sizeof stale / sizeof *stale; i++)
                tu_write(dir, stale[i], "-----BEGIN PRIVATE KEY-----\n");
        for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
                tu_write(dir, kept[i], "keep\n");
        /* Of our naming but not a regular file: never ours. */
        ck_assert_int_eq(mkdir(at(dir, ".d.kpa-tmp-1234"), 0700), 0);
        ck_assert_int_eq(symlink("notes.txt", at(dir, ".s.kpa-tmp-1234")), 0);
        /* Of our naming but another user's (only root can make one here). */
        if (geteuid() == 0) {
                tu_write(dir, ".other.kpa-tmp-1234", "theirs\n");
                ck_assert_int_eq(chown(at(dir, ".other.kpa-tmp-1234"), 65534, 65534), 0);
        }
        struct fileset *fs = fileset_new(dir);
        fileset_add(fs, "a.txt", "new\n", 4, 0644, false);
        char err[256] = "";
        ck_assert_msg(fileset_commit(fs, err, sizeof err) == 0, "%s", err);
        fileset_free(fs);
        struct stat st;
        for (size_t i = 0; i < sizeof stale / sizeof *stale; i++)
                ck_assert_msg(lstat(at(dir, stale[i]), &st) < 0 && errno == ENOENT, "%s left", stale[i]);
        for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
                ck_assert_msg(lstat(at(dir, kept[i]), &st) == 0, "%s removed", kept[i]);
        ck_assert_int_eq(lstat(at(dir, ".d.kpa-tmp-1234"), &st), 0);
        ck_assert_int_eq(lstat(at(dir, ".s.kpa-tmp-1234"), &st), 0);
        if (geteuid() == 0)
                ck_assert_int_eq(lstat(at(dir, ".other.kpa-tmp-1234"), &st), 0);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("fsx");
        TCase *tc = tcase_create("read");
        tcase_add_test(tc, fsx_read_file_enforces_max);
        suite_add_tcase(s, tc);
        tc = tcase_create("commit");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, fileset_commit_writes_modes_and_skips_identical_files);
        tcase_add_test(tc, fileset_commit_that_cannot_write_a_temporary_changes_nothing);
        tcase_add_test(tc, a_failure_at_each_rename_is_undone_completely);
        tcase_add_test(tc, a_failed_undo_is_reported_and_keeps_the_old_file);
        tcase_add_test(tc, a_directory_that_cannot_be_fsynced_is_undone);
        tcase_add_test(tc, an_old_file_that_cannot_get_a_second_name_changes_nothing);
        suite_add_tcase(s, tc);
        tc = tcase_create("temporaries");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, temporary_names_are_ours_exactly);
        tcase_add_test(tc, planted_files_links_and_symlinks_at_temporary_names_are_never_written);
        tcase_add_test(tc, stale_temporaries_of_our_naming_and_user_are_removed_and_nothing_else);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
