/* One JSON object per line on stderr, one line per event. Never pass a secret to these. */
#ifndef KPA_LOG_H
#define KPA_LOG_H

#include <cjson/cJSON.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Names the program in every line and sets the most verbose level written. */
void log_setup(const char *prog, enum log_level max_level);
int log_level_parse(const char *s, enum log_level *ret);
/* {"ts":…,"level":…,"prog":…,"event":event,"msg":formatted} */
void log_event(enum log_level level, const char *event, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* As log_event, with the members of fields (an object, consumed; may be NULL) added. */
void log_fields(enum log_level level, const char *event, cJSON *fields, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

#endif
