/* What /status and /metrics show of certificate rotation (agent/tlsview.c): pure renderers
 * over a tlsrot_view, the time passed in. No secret is in a view: subjects, serials, dates,
 * listener names, and reasons built from kpa's own messages (which name inputs, never their
 * content). */
#ifndef KPA_TLSVIEW_H
#define KPA_TLSVIEW_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "kpa/dynbuf.h"
#include "kpa/tlsrot.h"

/* The /status "tls" object, or NULL when out of memory. */
cJSON *tlsview_status(const struct tlsrot_view *v, int64_t now_unix);
/* kpa_tls_cert_not_after_seconds{listener}, kpa_tls_rotation_total{result},
 * kpa_tls_expiry_ok. 0 or a negative errno-style code (the buffer's maximum). */
int tlsview_metrics(const struct tlsrot_view *v, int64_t now_unix, struct dynbuf *out);

#endif
