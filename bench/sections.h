/* The benchmark sections; each prints its table and returns 0 or a negative errno. */
#ifndef KPA_BENCH_SECTIONS_H
#define KPA_BENCH_SECTIONS_H

#include "benchutil.h"

int bench_probes(const struct bench_paths *p);
int bench_checks(const struct bench_paths *p);
int bench_init(const struct bench_paths *p);
int bench_tls(const struct bench_paths *p);
int bench_readiness(const struct bench_paths *p);

#endif
