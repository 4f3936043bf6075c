/* The one clock deadlines, ages and durations are measured on, in both programs: milliseconds
 * of CLOCK_MONOTONIC, which neither NTP steps nor a changed wall clock move. */
#ifndef KPA_MONOTIME_H
#define KPA_MONOTIME_H

#include <stdint.h>

uint64_t monotime_ms(void);

#endif
