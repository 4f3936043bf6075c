/* One kpa-init run: checked configuration in, files in KPA_OUTPUT_DIR out (or, with
 * --dry-run, printed with secrets masked). */
#ifndef KPA_INITRUN_H
#define KPA_INITRUN_H

#include <stddef.h>
#include <stdio.h>

#include "kpa/initcfg.h"

/* 0 on success; -EINVAL for bad input (a volume of another broker, a certificate that does
 * not match, a missing label, too many SASL users…); another negative for runtime failures
 * (the output directory, the API server). On any failure no file in the output directory has
 * changed (unless undoing a failed rename failed too, which the line then says) and errbuf
 * holds one line. */
int initrun_execute(const struct init_config *cfg, FILE *dry_out, char *errbuf, size_t errlen);

#endif
