#include "kpa/featprobe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "kpa/ctlcheck.h"
#include "kpa/kconn.h"
#include "kpa/kwire_features.h"
#include "kpa/parse.h"

#define CLIENT_ID "kpa-agent"
/* Kafka refuses a software name or version outside [a-zA-Z0-9.-] (kwire_features.h). */
#define SOFTWARE_NAME "kpa-agent"

struct featprobe {
        uint64_t interval_ms;
        bool attempted;
        uint64_t last_attempt_ms;
};

struct featprobe *featprobe_new(uint64_t interval_ms) {
        struct featprobe *fp = calloc(1, sizeof *fp);
        if (fp)
                fp->interval_ms = interval_ms;
        return fp;
}

struct featprobe *featprobe_free(struct featprobe *fp) {
        free(fp);
        return NULL;
}

void featprobe_reset(struct featprobe *fp) { fp->attempted = false; }

bool featprobe_due(const struct featprobe *fp, uint64_t now_ms) {
        if (fp->interval_ms == 0)
                return false;
        return !fp->attempted || now_ms < fp->last_attempt_ms ||
               now_ms - fp->last_attempt_ms >= fp->interval_ms;
}

/* The round trip itself: 0 and the answer, or < 0 with the reason in err. */
static int ask(const struct kafka_conf *conf, uint64_t deadline_ms, struct kwire_features *ret,
               char *err, size_t errlen) {
        struct kconn_security sec;
        char host[KCONN_HOST_MAX];
        uint16_t port;
        const char *bootstrap = kafka_conf_bootstrap(conf);
        int r = ctlcheck_security(conf, &sec, err, errlen);
        if (r < 0)
                return r;
        if (!bootstrap || parse_hostport(bootstrap, 0, host, sizeof host, &port) < 0) {
                snprintf(err, errlen, "the bootstrap address is not HOST:PORT");
                return -EINVAL;
        }
        struct kconn *k;
        if ((r = kconn_open(host, port, &sec, deadline_ms, &k, err, errlen)) < 0)
                return r;
        uint8_t req[KWIRE_FEATURES_REQUEST_MAX], *resp = NULL;
        size_t len, rlen;
        int32_t corr = kconn_next_correlation(k);
        r = kwire_features_encode_request(KWIRE_FEATURES_VERSION, corr, CLIENT_ID, SOFTWARE_NAME,
                                          KPA_VERSION, req, sizeof req, &len);
        /* A build's version with other characters (e.g. "+dirty") is not worth a refusal. */
        if (r == -EINVAL)
                r = kwire_features_encode_request(KWIRE_FEATURES_VERSION, corr, CLIENT_ID,
                                                  SOFTWARE_NAME, "unknown", req, sizeof req, &len);
        if (r == 0)
                r = kconn_exchange(k, req, len, KWIRE_FEATURES_RESPONSE_MAX, deadline_ms, &resp,
                                   &rlen, err, errlen);
        if (r == 0) {
                char why[KWIRE_ERR_MAX + 64];
                r = kwire_features_decode_response(resp, rlen, KWIRE_FEATURES_VERSION, corr, ret,
                                                   why, sizeof why);
                if (r < 0)
                        snprintf(err, errlen, "%s: %s", bootstrap, why);
                else if (ret->error_code != KWIRE_ERR_NONE) {
                        snprintf(err, errlen, "%s answered ApiVersions v%d with %s (%d)", bootstrap,
                                 KWIRE_FEATURES_VERSION, kwire_error_name(ret->error_code),
                                 ret->error_code);
                        r = -EPROTO;
                }
        }
        free(resp);
        kconn_close(k);
        return r;
}

void featprobe_run(struct featprobe *fp, const struct kafka_conf *conf, uint64_t now_ms,
                   uint64_t deadline_ms, int64_t now_unix_ms, struct features_view *ret) {
        fp->attempted = true;
        fp->last_attempt_ms = now_ms;
        struct kwire_features *f = malloc(sizeof *f);
        char err[FEATURES_REASON_MAX - 64] = "";
        if (!f) {
                features_unknown(ret, "out of memory");
                return;
        }
        if (ask(conf, deadline_ms, f, err, sizeof err) < 0) {
                char why[FEATURES_REASON_MAX];
                snprintf(why, sizeof why, "ApiVersions failed: %s", err);
                features_unknown(ret, why);
        } else {
                features_assess(f, now_unix_ms, ret);
        }
        free(f);
}
