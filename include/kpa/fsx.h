/* Files: bounded reads, and atomic writes of one file or a whole set. */
#ifndef KPA_FSX_H
#define KPA_FSX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Reads a whole regular file of at most max bytes into a NUL-terminated buffer.
 * -ENOENT, -EFBIG past max, or another -errno. ret_data and ret_len are written only on success. */
int fsx_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);

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
/* Writes every entry to a temporary file in the directory (fsynced, with its final mode),
 * then renames them all into place and fsyncs the directory. An entry whose file already
 * holds the same bytes and mode is left untouched. If any temporary cannot be written, all
 * temporaries are removed and no file in the directory has changed. */
int fileset_commit(struct fileset *fs, char *errbuf, size_t errlen);
/* Is name one of fileset_commit's temporaries: ".<name>.kpa-tmp-" followed by 16 lower-case
 * hex digits, or (earlier releases) by a decimal process id of 1 to 10 digits? */
bool fsx_is_temporary_name(const char *name);
struct fileset *fileset_free(struct fileset *fs);

#endif
