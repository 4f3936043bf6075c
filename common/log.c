#include "kpa/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "kpa";
static enum log_level log_max = LOG_LEVEL_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_setup(const char *prog, enum log_level max_level) {
        log_prog = prog;
        log_max = max_level;
}

int log_level_parse(const char *s, enum log_level *ret) {
        for (int i = 0; i <= LOG_LEVEL_DEBUG; i++)
                if (s && strcasecmp(s, level_names[i]) == 0) {
                        *ret = (enum log_level) i;
                        return 0;
                }
        return -1;
}

__attribute__((format(printf, 4, 0)))
static void log_emit(enum log_level level, const char *event, cJSON *fields,
                     const char *fmt, va_list ap) {
        char msg[1024], ts[40];
        struct timespec now;
        struct tm tm;

        vsnprintf(msg, sizeof msg, fmt, ap);
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);

        cJSON *o = cJSON_CreateObject();
        if (!o) {
                cJSON_Delete(fields);
                return;
        }
        cJSON_AddStringToObject(o, "ts", ts);
        cJSON_AddStringToObject(o, "level", level_names[level]);
        cJSON_AddStringToObject(o, "prog", log_prog);
        cJSON_AddStringToObject(o, "event", event);
        cJSON_AddStringToObject(o, "msg", msg);
        if (fields) {
                cJSON *item;
                while ((item = fields->child)) {
                        cJSON_DetachItemViaPointer(fields, item);
                        cJSON_AddItemToObject(o, item->string, item);
                }
                cJSON_Delete(fields);
        }
        char *line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!line)
                return;
        /* One writev per line so that lines from several threads never interleave. */
        struct iovec iov[2] = { { line, strlen(line) }, { (void *) "\n", 1 } };
        ssize_t w = writev(STDERR_FILENO, iov, 2);
        (void) w;
        cJSON_free(line);
}

void log_event(enum log_level level, const char *event, const char *fmt, ...) {
        if (level > log_max)
                return;
        va_list ap;
        va_start(ap, fmt);
        log_emit(level, event, NULL, fmt, ap);
        va_end(ap);
}

void log_fields(enum log_level level, const char *event, cJSON *fields, const char *fmt, ...) {
        if (level > log_max) {
                cJSON_Delete(fields);
                return;
        }
        va_list ap;
        va_start(ap, fmt);
        log_emit(level, event, fields, fmt, ap);
        va_end(ap);
}
