/* Files: bounded reads, and atomic writes of one file or a whole set. */
#ifndef KPA_FSX_H
#define KPA_FSX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Reads a whole regular file of at most max bytes into a NUL-terminated buffer.
 * -ENOENT, -EFBIG past max, or another -errno. ret_data and ret_len are written only on success. */
int fsx_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);
/* The same, also giving the fstat of the file that was read (not of whatever the path names
 * later), so that a caller can tell afterwards whether the path still names those bytes. */
struct stat;
int fsx_read_file_stat(const char *path, size_t max, char **ret_data, size_t *ret_len,
                       struct stat *ret_st);

/* A set of files to replace in one directory. Nothing is written until fileset_commit. */
struct fileset;

struct fileset *fileset_new(const char *dir);
/* Takes a copy of data. A secret entry's copy is wiped when the set is freed. */
int fileset_add(struct fileset *fs, const char *name, const void *data, size_t len,
                mode_t mode, bool secret);
size_t fileset_count(const struct fileset *fs);
const char *fileset_name(const struct fileset *fs, size_t i);
const void *fileset_data(const struct fileset *fs, size_t i, size_t *ret_len);
mode_t fileset_mode(const struct fileset *fs, size_t i);
/* Replaces every entry's file in the directory, all or nothing. It checks what stands at
 * every name (a directory, FIFO, socket, device, mount point or immutable file is refused),
 * writes each new file to a temporary (created O_EXCL|O_NOFOLLOW under a random name, with
 * its final mode, fsynced), and gives each old file a second name (a hard link). Only then
 * are the temporaries renamed into place and the directory fsynced; if a rename or that fsync
 * fails, the renames already done are undone (the old files, same inodes, go back; names that
 * did not exist are removed). An entry whose file already holds the same bytes and mode is
 * left untouched. After a success, stale temporaries of its own naming are removed (see
 * fsx_is_temporary_name; only regular files of our user). On any failure the directory is as
 * it was and errbuf holds one line; only if undoing fails too (a second, independent failure)
 * does it hold old and new files, and the line says so. */
int fileset_commit(struct fileset *fs, char *errbuf, size_t errlen);
/* Is name one of fileset_commit's temporaries: ".<name>.kpa-tmp-" followed by 16 lower-case
 * hex digits, or (earlier releases) by a decimal process id of 1 to 10 digits? */
bool fsx_is_temporary_name(const char *name);
struct fileset *fileset_free(struct fileset *fs);

#endif
