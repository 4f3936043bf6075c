#include "kpa/disk.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "kpa/ctlcheck.h"
#include "kpa/kconn.h"
#include "kpa/kafkaconf.h"
#include "kpa/log.h"
#include "kpa/monotime.h"
#include "kpa/parse.h"

/* ---- pure ---- */

int disk_parse_log_dirs(const char *value, char dirs[][DISK_PATH_MAX], int max, int *ret_n,
                        char *errbuf, size_t errlen) {
        int n = 0;
        const char *p = value;
        while (*p) {
                size_t len = strcspn(p, ",");
                const char *s = p, *e = p + len;
                while (s < e && isspace((unsigned char) *s))
                        s++;
                while (e > s && isspace((unsigned char) e[-1]))
                        e--;
                if (e > s) {
                        size_t l = (size_t) (e - s);
                        if (s[0] != '/' || l >= DISK_PATH_MAX) {
                                snprintf(errbuf, errlen, "log dir \"%.*s\" is not an absolute path of "
                                         "at most %d bytes", (int) (l > 200 ? 200 : l), s, DISK_PATH_MAX - 1);
                                return -EINVAL;
                        }
                        if (n == max) {
                                snprintf(errbuf, errlen, "more than %d log dirs", max);
                                return -EINVAL;
                        }
                        memcpy(dirs[n], s, l);
                        dirs[n][l] = '\0';
                        n++;
                }
                p += len;
                if (*p == ',')
                        p++;
        }
        *ret_n = n;
        return 0;
}

bool disk_is_low(uint64_t free, uint64_t total, unsigned percent) {
        if (percent == 0 || total == 0)
                return false;
        /* free/total < percent/100, in 128 bits so that no size overflows. */
        return (unsigned __int128) free * 100 < (unsigned __int128) total * percent;
}

bool disk_is_partition_folder(const char *name) {
        const char *dash = strrchr(name, '-');
        if (!dash || dash == name || !dash[1] || strlen(name) >= DISK_REPLICA_NAME_MAX)
                return false;
        for (const char *p = dash + 1; *p; p++)
                if (*p < '0' || *p > '9')
                        return false;
        /* A topic name has no '.' followed by a UUID-delete suffix here (those end in letters),
         * and the metadata log's folder is the controller's, not a replica. */
        return strcmp(name, "__cluster_metadata-0") != 0;
}

int disk_list_replicas(const char *dir, struct disk_sample *s, int i) {
        s->offline_replicas[i] = -1;
        s->n_shown[i] = 0;
        s->list_error[i][0] = '\0';
        DIR *d = opendir(dir);
        if (!d) {
                int r = -errno;
                snprintf(s->list_error[i], DISK_ERR_MAX, "cannot list %.200s: %s", dir, strerror(-r));
                return r;
        }
        int n = 0;
        struct dirent *e;
        errno = 0;
        while ((e = readdir(d)) != NULL) {
                if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
                        continue;
                if (!disk_is_partition_folder(e->d_name))
                        continue;
                if (s->n_shown[i] < DISK_REPLICAS_SHOWN)
                        snprintf(s->shown[i][s->n_shown[i]++], DISK_REPLICA_NAME_MAX, "%s", e->d_name);
                n++;
        }
        int r = errno ? -errno : 0;
        closedir(d);
        if (r < 0) {
                snprintf(s->list_error[i], DISK_ERR_MAX, "cannot list %.200s: %s", dir, strerror(-r));
                return r;
        }
        s->offline_replicas[i] = n;
        return 0;
}

/* Compares two paths as Kafka's File.getAbsolutePath names an absolute one: doubled and
 * trailing slashes do not count. */
static bool same_path(const char *a, const char *b) {
        for (;;) {
                while (a[0] == '/' && (a[1] == '/' || a[1] == '\0'))
                        a++;
                while (b[0] == '/' && (b[1] == '/' || b[1] == '\0'))
                        b++;
                if (*a != *b)
                        return false;
                if (!*a)
                        return true;
                a++;
                b++;
        }
}

int disk_find_dir(const struct disk_dir *dirs, int n, const char *path) {
        for (int i = 0; i < n; i++)
                if (same_path(dirs[i].path, path))
                        return i;
        return -1;
}

static void kafka_unknown(struct disk_dir *d) {
        d->state = DISK_DIR_UNKNOWN;
        d->kafka_error = 0;
        d->kafka_total_bytes = d->kafka_usable_bytes = -1;
        d->offline_replicas = -1;
        d->n_shown = 0;
        d->list_error[0] = '\0';
}

static void fold_kafka(struct disk_view *v, const struct disk_sample *s) {
        for (int i = 0; i < v->n_dirs; i++)
                kafka_unknown(&v->dirs[i]);
        v->kafka_known = s->rc == 0 && s->answer.error_code == 0;
        if (s->rc != 0) {
                snprintf(v->kafka_error, sizeof v->kafka_error, "%s", s->error);
                return;
        }
        if (s->answer.error_code != 0) {
                snprintf(v->kafka_error, sizeof v->kafka_error, "the broker answered DescribeLogDirs "
                         "with %s (%d)", kwire_error_name(s->answer.error_code), s->answer.error_code);
                return;
        }
        v->kafka_error[0] = '\0';
        v->kafka_at_unix_ms = s->at_unix_ms;
        for (int j = 0; j < s->answer.n_dirs; j++) {
                const struct kwire_logdir *k = &s->answer.dirs[j];
                int i = disk_find_dir(v->dirs, v->n_dirs, k->path);
                if (i < 0)
                        continue;
                struct disk_dir *d = &v->dirs[i];
                d->kafka_error = k->error_code;
                d->state = k->error_code == 0 ? DISK_DIR_ONLINE : DISK_DIR_OFFLINE;
                d->kafka_total_bytes = k->total_bytes;
                d->kafka_usable_bytes = k->usable_bytes;
                if (d->state == DISK_DIR_OFFLINE) {
                        d->offline_replicas = s->offline_replicas[i];
                        d->n_shown = s->n_shown[i];
                        memcpy(d->shown, s->shown[i], sizeof d->shown);
                        snprintf(d->list_error, sizeof d->list_error, "%s", s->list_error[i]);
                }
        }
}

void disk_fold(struct disk_view *v, const struct disk_sample *s) {
        v->n_dirs = s->n_dirs;
        v->low_dirs = 0;
        for (int i = 0; i < s->n_dirs; i++) {
                struct disk_dir *d = &v->dirs[i];
                const struct disk_dir *m = &s->dirs[i];
                memcpy(d->path, m->path, sizeof d->path);
                d->have_statfs = m->have_statfs;
                memcpy(d->statfs_error, m->statfs_error, sizeof d->statfs_error);
                d->free_bytes = m->free_bytes;
                d->total_bytes = m->total_bytes;
                d->free_inodes = m->free_inodes;
                d->total_inodes = m->total_inodes;
                d->low = m->have_statfs &&
                         (disk_is_low(m->free_bytes, m->total_bytes, v->warn_free_percent) ||
                          disk_is_low(m->free_inodes, m->total_inodes, v->warn_free_percent));
                if (d->low)
                        v->low_dirs++;
        }
        if (s->asked)
                fold_kafka(v, s);
        v->offline_dirs = v->offline_replicas = 0;
        for (int i = 0; i < v->n_dirs; i++)
                if (v->dirs[i].state == DISK_DIR_OFFLINE) {
                        v->offline_dirs++;
                        if (v->dirs[i].offline_replicas > 0)
                                v->offline_replicas += v->dirs[i].offline_replicas;
                }
}

static void check_set(struct check_result *c, bool ok, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void check_set(struct check_result *c, bool ok, const char *fmt, ...) {
        va_list ap;
        c->applies = true;
        c->ok = ok;
        va_start(ap, fmt);
        vsnprintf(c->detail, sizeof c->detail, fmt, ap);
        va_end(ap);
}

void disk_readiness(const struct disk_view *v, struct check_result *ret) {
        memset(ret, 0, sizeof *ret);
        if (!v || v->n_dirs == 0 || !v->asks_kafka)
                return;
        if (!v->kafka_known) {
                check_set(ret, true, "not counted: the log dirs' state is unknown (%.200s)",
                          v->kafka_error[0] ? v->kafka_error : "not asked yet");
                return;
        }
        if (v->offline_dirs == 0) {
                check_set(ret, true, "%d log dir%s online", v->n_dirs, v->n_dirs == 1 ? "" : "s");
                return;
        }
        const struct disk_dir *first = NULL;
        for (int i = 0; i < v->n_dirs && !first; i++)
                if (v->dirs[i].state == DISK_DIR_OFFLINE)
                        first = &v->dirs[i];
        char replicas[64];
        if (first->offline_replicas >= 0)
                snprintf(replicas, sizeof replicas, "%d replica%s", first->offline_replicas,
                         first->offline_replicas == 1 ? "" : "s");
        else
                snprintf(replicas, sizeof replicas, "replicas not listed");
        check_set(ret, false, "%d of %d log dirs offline: %.120s (%s, %s)", v->offline_dirs,
                  v->n_dirs, first->path, kwire_error_name(first->kafka_error), replicas);
}

bool disk_condition(const struct disk_view *v, char *why, size_t len) {
        why[0] = '\0';
        size_t used = 0;
        for (int i = 0; v && i < v->n_dirs && used < len; i++) {
                const struct disk_dir *d = &v->dirs[i];
                int n = 0;
                if (d->state == DISK_DIR_OFFLINE)
                        n = snprintf(why + used, len - used, "%s%.200s is offline", used ? "; " : "", d->path);
                else if (!d->have_statfs)
                        n = snprintf(why + used, len - used, "%s%.200s: %s", used ? "; " : "", d->path,
                                     d->statfs_error);
                else if (d->low)
                        n = snprintf(why + used, len - used, "%s%.200s has %" PRIu64 " of %" PRIu64
                                     " bytes and %" PRIu64 " of %" PRIu64 " inodes free (under %u%%)",
                                     used ? "; " : "", d->path, d->free_bytes, d->total_bytes,
                                     d->free_inodes, d->total_inodes, v->warn_free_percent);
                if (n < 0)
                        break;
                used += (size_t) n;
        }
        return why[0] == '\0';
}

/* ---- the shell ---- */

struct disk_watch {
        uv_loop_t *loop;
        struct disk_watch_opts o;
        uv_timer_t timer;
        uv_work_t work;
        bool busy, stopping, timer_closed;
        struct disk_sample *sample;      /* owned by the worker while busy */
        struct disk_view view;
        struct kafka_conf *conf, *pending_conf;
        struct kconn_security sec;
        bool sec_ok;
        char sec_err[DISK_ERR_MAX];
        char host[KCONN_HOST_MAX];
        uint16_t port;
        uint64_t next_kafka_ms;
        bool asked;                      /* the round in flight asks Kafka */
        bool logged_low[DISK_MAX_DIRS];
        enum disk_dir_state logged_state[DISK_MAX_DIRS];
};

static int64_t unix_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void use_conf(struct disk_watch *w, struct kafka_conf *conf) {
        kafka_conf_free(w->conf);
        w->conf = conf;
        w->sec_ok = false;
        w->sec_err[0] = '\0';
        if (!conf)
                return;
        char err[DISK_ERR_MAX];
        if (ctlcheck_security(conf, &w->sec, err, sizeof err) < 0) {
                snprintf(w->sec_err, sizeof w->sec_err, "%s", err);
                return;
        }
        if (parse_hostport(kafka_conf_bootstrap(conf), 0, w->host, sizeof w->host, &w->port) < 0) {
                snprintf(w->sec_err, sizeof w->sec_err, "the bootstrap address is not HOST:PORT");
                return;
        }
        w->sec_ok = true;
}

int disk_watch_new(uv_loop_t *loop, const struct disk_watch_opts *o, struct kafka_conf *conf,
                   struct disk_watch **ret, char *errbuf, size_t errlen) {
        struct disk_watch *w = calloc(1, sizeof *w);
        if (!w) {
                kafka_conf_free(conf);
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        w->loop = loop;
        w->o = *o;
        if (w->o.interval_ms == 0)
                w->o.interval_ms = 5000;
        w->view.warn_free_percent = o->warn_free_percent;
        w->view.asks_kafka = conf && o->kafka_interval_ms > 0;
        for (int i = 0; i < o->n_dirs; i++)
                snprintf(w->view.dirs[i].path, DISK_PATH_MAX, "%s", o->dirs[i]);
        w->view.n_dirs = o->n_dirs;
        for (int i = 0; i < o->n_dirs; i++)
                kafka_unknown(&w->view.dirs[i]);
        /* Settings the call cannot honour leave the dirs measured, and every round then says
         * why Kafka's view is unknown. */
        use_conf(w, conf);
        uv_timer_init(loop, &w->timer);
        w->timer.data = w;
        w->work.data = w;
        *ret = w;
        return 0;
}

const struct disk_view *disk_watch_view(const struct disk_watch *w) { return w ? &w->view : NULL; }

void disk_watch_set_conf(struct disk_watch *w, struct kafka_conf *conf) {
        if (!w) {
                kafka_conf_free(conf);
                return;
        }
        kafka_conf_free(w->pending_conf);
        w->pending_conf = conf;
}

/* DescribeLogDirs to the local broker; fills s->rc, s->error and s->answer. */
static void ask_kafka(struct disk_watch *w, struct disk_sample *s) {
        char err[DISK_ERR_MAX];
        if (!w->sec_ok) {
                s->rc = -EINVAL;
                snprintf(s->error, sizeof s->error, "%s", w->sec_err);
                return;
        }
        uint64_t deadline = monotime_ms() + w->o.timeout_ms;
        struct kconn *k = NULL;
        int r = kconn_open(w->host, w->port, &w->sec, deadline, &k, err, sizeof err);
        if (r == 0) {
                uint8_t req[KWIRE_LOGDIRS_REQUEST_MAX];
                size_t len, rlen = 0;
                uint8_t *resp = NULL;
                int32_t corr = kconn_next_correlation(k);
                r = kwire_logdirs_encode_request(KWIRE_LOGDIRS_VERSION, corr, "kpa-agent", req, sizeof req, &len);
                if (r == 0)
                        r = kconn_exchange(k, req, len, KWIRE_LOGDIRS_RESPONSE_MAX, deadline, &resp, &rlen, err, sizeof err);
                if (r == 0)
                        r = kwire_logdirs_decode_response(resp, rlen, KWIRE_LOGDIRS_VERSION, corr, &s->answer, err, sizeof err);
                free(resp);
        }
        kconn_close(k);
        s->rc = r;
        if (r < 0)
                snprintf(s->error, sizeof s->error, "DescribeLogDirs to %.100s:%u: %.140s", w->host, (unsigned) w->port, err);
}

static void work_cb(uv_work_t *req) {
        struct disk_watch *w = req->data;
        struct disk_sample *s = w->sample;
        for (int i = 0; i < s->n_dirs; i++) {
                struct disk_dir *d = &s->dirs[i];
                struct statvfs st;
                if (statvfs(d->path, &st) < 0) {
                        snprintf(d->statfs_error, sizeof d->statfs_error, "statvfs: %s", strerror(errno));
                        continue;
                }
                d->have_statfs = true;
                d->free_bytes = (uint64_t) st.f_bavail * st.f_frsize;
                d->total_bytes = (uint64_t) st.f_blocks * st.f_frsize;
                d->free_inodes = (uint64_t) st.f_favail;
                d->total_inodes = (uint64_t) st.f_files;
        }
        if (!s->asked)
                return;
        ask_kafka(w, s);
        s->at_unix_ms = unix_now_ms();
        if (s->rc != 0 || s->answer.error_code != 0)
                return;
        for (int j = 0; j < s->answer.n_dirs; j++) {
                if (s->answer.dirs[j].error_code == 0)
                        continue;
                int i = disk_find_dir(s->dirs, s->n_dirs, s->answer.dirs[j].path);
                if (i >= 0)
                        disk_list_replicas(s->dirs[i].path, s, i);
        }
}

static void log_changes(struct disk_watch *w) {
        const struct disk_view *v = &w->view;
        for (int i = 0; i < v->n_dirs; i++) {
                const struct disk_dir *d = &v->dirs[i];
                if (d->low != w->logged_low[i]) {
                        if (d->low)
                                log_event(LOG_LEVEL_WARN, "disk_low", "log dir %s has %" PRIu64 " of %" PRIu64
                                          " bytes and %" PRIu64 " of %" PRIu64 " inodes free (under %u%%)",
                                          d->path, d->free_bytes, d->total_bytes, d->free_inodes,
                                          d->total_inodes, v->warn_free_percent);
                        else
                                log_event(LOG_LEVEL_INFO, "disk_ok", "log dir %s has %" PRIu64 " of %" PRIu64
                                          " bytes free again", d->path, d->free_bytes, d->total_bytes);
                        w->logged_low[i] = d->low;
                }
                if (d->state != w->logged_state[i] && d->state != DISK_DIR_UNKNOWN) {
                        if (d->state == DISK_DIR_OFFLINE)
                                log_event(LOG_LEVEL_ERROR, "log_dir_offline", "Kafka took log dir %s offline "
                                          "(%s): %d replicas in it are offline", d->path,
                                          kwire_error_name(d->kafka_error), d->offline_replicas);
                        else if (w->logged_state[i] == DISK_DIR_OFFLINE)
                                log_event(LOG_LEVEL_INFO, "log_dir_online", "log dir %s is online", d->path);
                        w->logged_state[i] = d->state;
                }
        }
}

static void on_timer_closed(uv_handle_t *h) {
        struct disk_watch *w = h->data;
        w->timer_closed = true;
        if (!w->busy) {
                kafka_conf_free(w->conf);
                kafka_conf_free(w->pending_conf);
                free(w);
        }
}

static void after_work_cb(uv_work_t *req, int status) {
        struct disk_watch *w = req->data;
        (void) status;
        w->busy = false;
        if (!w->stopping) {
                disk_fold(&w->view, w->sample);
                log_changes(w);
        }
        free(w->sample);
        w->sample = NULL;
        if (w->stopping && w->timer_closed) {
                kafka_conf_free(w->conf);
                kafka_conf_free(w->pending_conf);
                free(w);
        }
}

static void on_tick(uv_timer_t *t) {
        struct disk_watch *w = t->data;
        if (w->busy || w->stopping)
                return;
        if (w->pending_conf) {
                use_conf(w, w->pending_conf);
                w->pending_conf = NULL;
        }
        struct disk_sample *s = calloc(1, sizeof *s);
        if (!s)
                return;
        s->n_dirs = w->o.n_dirs;
        for (int i = 0; i < s->n_dirs; i++)
                snprintf(s->dirs[i].path, DISK_PATH_MAX, "%s", w->o.dirs[i]);
        uint64_t now = uv_now(w->loop);
        s->asked = w->view.asks_kafka && now >= w->next_kafka_ms;
        if (s->asked)
                w->next_kafka_ms = now + w->o.kafka_interval_ms;
        w->sample = s;
        if (uv_queue_work(w->loop, &w->work, work_cb, after_work_cb) < 0) {
                free(s);
                w->sample = NULL;
                return;
        }
        w->busy = true;
}

int disk_watch_start(struct disk_watch *w) {
        if (w->o.n_dirs == 0)
                return 0;
        return uv_timer_start(&w->timer, on_tick, 0, w->o.interval_ms);
}

void disk_watch_stop(struct disk_watch *w) {
        if (!w || w->stopping)
                return;
        w->stopping = true;
        uv_close((uv_handle_t *) &w->timer, on_timer_closed);
}
