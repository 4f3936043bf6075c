/* The broker's log dirs: how full each file system is (statvfs), whether Kafka has taken a dir
 * offline (DescribeLogDirs, kwire_logdirs.h), and which replicas an offline dir holds.
 *
 * The agent mounts the broker's data volume read-only and reads log.dirs from kpa-init's
 * server.properties, so it sees the same file systems the broker writes. Every interval it
 * measures them (statvfs: cheap and local); every log-dirs interval (30 s by default) it asks
 * the local broker one DescribeLogDirs with an empty topic list, an answer of a few hundred
 * bytes, so the load on the broker stays flat. The replicas of an offline dir are the
 * partition folders in it ("<topic>-<partition>"): Kafka no longer describes them, but they
 * are the logs it can no longer serve.
 *
 * What it does to the probes (docs/kpa-agent.md "Disk and log dirs"):
 * - /livez: nothing. Restarting a broker whose disk is full or failed helps nobody: the
 *   restarted broker finds the same disk.
 * - /readyz: an offline log dir fails the log_dirs check. Its replicas are offline until the
 *   dir is repaired and the broker restarted, so the broker is not serving what it hosts, and
 *   a rolling update must not go on to the next broker as if it were. A disk that is merely
 *   low on space does not: the broker still serves everything, and the disk condition (in
 *   /status and /metrics) is the warning. An unknown state (the broker did not answer) does
 *   not either: the other checks already fail then.
 *
 * disk_* functions over plain structs are pure (unit-tested); disk_watch_* is the shell: a
 * libuv timer and one worker job at a time. */
#ifndef KPA_DISK_H
#define KPA_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "kpa/kafka.h"
#include "kpa/kwire_logdirs.h"
#include "kpa/verdict.h"

#define DISK_MAX_DIRS 16                 /* kpa-init writes at most 16 log dirs */
#define DISK_PATH_MAX KWIRE_LOGDIRS_PATH_MAX
#define DISK_REPLICAS_SHOWN 10           /* offline replicas named per dir; all are counted */
#define DISK_REPLICA_NAME_MAX 264        /* a topic (249) + '-' + a partition number */
#define DISK_ERR_MAX 320
#define DISK_DEFAULT_WARN_FREE_PERCENT 10

enum disk_dir_state { DISK_DIR_UNKNOWN, DISK_DIR_ONLINE, DISK_DIR_OFFLINE };

struct disk_dir {
        char path[DISK_PATH_MAX];
        /* statvfs, as the broker's non-root user may use it */
        bool have_statfs;
        char statfs_error[DISK_ERR_MAX];
        uint64_t free_bytes;     /* f_bavail * f_frsize */
        uint64_t total_bytes;    /* f_blocks * f_frsize */
        uint64_t free_inodes;    /* f_favail */
        uint64_t total_inodes;   /* f_files (0: the file system has no inode limit) */
        bool low;                /* free bytes or free inodes under the threshold */
        /* Kafka's view, from the last DescribeLogDirs */
        enum disk_dir_state state;
        int16_t kafka_error;     /* the dir's error code (KAFKA_STORAGE_ERROR when offline) */
        int64_t kafka_total_bytes, kafka_usable_bytes;   /* -1: unknown */
        /* the partition folders of an offline dir; -1: not listed (online, or unreadable) */
        int offline_replicas;
        int n_shown;
        char shown[DISK_REPLICAS_SHOWN][DISK_REPLICA_NAME_MAX];
        char list_error[DISK_ERR_MAX];
};

/* One round's findings, made on a worker thread. */
struct disk_sample {
        int n_dirs;
        struct disk_dir dirs[DISK_MAX_DIRS];   /* path and statvfs filled; the rest by fold */
        bool asked;                  /* DescribeLogDirs was due this round */
        int rc;                      /* 0: answered */
        char error[DISK_ERR_MAX];
        struct kwire_logdirs answer;
        /* The partition folders of each dir the answer says is offline (index as dirs). */
        int offline_replicas[DISK_MAX_DIRS];
        int n_shown[DISK_MAX_DIRS];
        char shown[DISK_MAX_DIRS][DISK_REPLICAS_SHOWN][DISK_REPLICA_NAME_MAX];
        char list_error[DISK_MAX_DIRS][DISK_ERR_MAX];
        int64_t at_unix_ms;
};

struct disk_view {
        int n_dirs;
        struct disk_dir dirs[DISK_MAX_DIRS];
        unsigned warn_free_percent;
        bool asks_kafka;             /* a broker (a controller-only node has no DescribeLogDirs) */
        bool kafka_known;            /* the last DescribeLogDirs was answered */
        char kafka_error[DISK_ERR_MAX];   /* why not ("" when known, or not asked yet) */
        int64_t kafka_at_unix_ms;    /* when it was last answered; 0: never */
        int offline_dirs, offline_replicas;
        int low_dirs;
};

/* Parses log.dirs (or log.dir) of a server.properties: comma-separated absolute paths, blanks
 * around each trimmed (as Kafka does). 0 and the count, or -EINVAL naming the entry at fault
 * (relative, too long, more than DISK_MAX_DIRS). Entries are copied into dirs. */
int disk_parse_log_dirs(const char *value, char dirs[][DISK_PATH_MAX], int max, int *ret_n,
                        char *errbuf, size_t errlen);

/* Whether free of total is under percent (0 disables; a total of 0 is never low). */
bool disk_is_low(uint64_t free, uint64_t total, unsigned percent);

/* Whether a log dir's entry is a partition folder Kafka serves: "<topic>-<digits>", not one
 * being deleted, moved or left stray ("...-delete", "-future", "-stray"). */
bool disk_is_partition_folder(const char *name);

/* Lists the partition folders of dir into the sample's slot i (count, first names sorted as
 * found). 0, or a negative errno with the reason in the slot's list_error. */
int disk_list_replicas(const char *dir, struct disk_sample *s, int i);

/* The index of path among the view's dirs, comparing as Kafka names them (absolute, no
 * trailing or doubled slashes), or -1. */
int disk_find_dir(const struct disk_dir *dirs, int n, const char *path);

/* Folds a sample into the view: statvfs and the threshold always; Kafka's states when it was
 * asked (answered: online/offline per dir, a dir the answer does not name is unknown; not
 * answered: every state unknown, with the reason). */
void disk_fold(struct disk_view *v, const struct disk_sample *s);

/* The log_dirs readiness check for this view (applies when there are dirs and Kafka is
 * asked; fails only when a dir is offline). */
void disk_readiness(const struct disk_view *v, struct check_result *ret);
/* The disk condition in one line: ok, and why not ("" when ok). */
bool disk_condition(const struct disk_view *v, char *why, size_t len);

/* ---- the shell ---- */

struct disk_watch_opts {
        char dirs[DISK_MAX_DIRS][DISK_PATH_MAX];
        int n_dirs;
        unsigned warn_free_percent;
        uint64_t interval_ms;          /* statvfs */
        uint64_t kafka_interval_ms;    /* DescribeLogDirs; 0: never asked */
        uint64_t timeout_ms;           /* one DescribeLogDirs, connect included */
};

struct disk_watch;

/* Takes ownership of conf (NULL: Kafka is not asked; may be replaced later). Security
 * settings the call cannot honour (see ctlcheck_security) are not an error here: every round
 * then reports them as the reason Kafka's view is unknown. 0 or -ENOMEM. */
int disk_watch_new(uv_loop_t *loop, const struct disk_watch_opts *o, struct kafka_conf *conf,
                   struct disk_watch **ret, char *errbuf, size_t errlen);
/* Starts measuring now and then every interval. */
int disk_watch_start(struct disk_watch *w);
/* Replaces the client configuration from the next round (ownership passes). */
void disk_watch_set_conf(struct disk_watch *w, struct kafka_conf *conf);
const struct disk_view *disk_watch_view(const struct disk_watch *w);
/* Stops; frees once a running round has finished (the loop keeps running until then).
 * Accepts NULL. */
void disk_watch_stop(struct disk_watch *w);

#endif
