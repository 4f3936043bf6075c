/* Reading a peer agent's CA rotation report (see include/kpa/carotpeer.h). */
#include "kpa/carotpeer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "kpa/dynbuf.h"

/* libcurl 7.84 and later make curl_global_init thread-safe; once per process is all it needs. */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode init_rc;

static void init(void) {
        init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *p, size_t size, size_t n, void *userdata) {
        struct dynbuf *b = userdata;
        /* A short count makes libcurl stop with CURLE_WRITE_ERROR: over the bound. */
        return dynbuf_append(b, p, size * n) < 0 ? 0 : size * n;
}

int carotpeer_report(const char *host, uint16_t port, uint64_t timeout_ms, struct carot_report *ret,
                     char *why, size_t whylen) {
        char url[CAROT_HOST_MAX + 40];
        bool v6 = strchr(host, ':') != NULL;
        if ((size_t) snprintf(url, sizeof url, "http://%s%s%s:%u/status", v6 ? "[" : "", host, v6 ? "]" : "",
                              (unsigned) port) >= sizeof url) {
                snprintf(why, whylen, "peer host %.80s... is too long", host);
                return -EINVAL;
        }
        pthread_once(&once, init);
        CURL *h = init_rc == CURLE_OK ? curl_easy_init() : NULL;
        if (!h) {
                snprintf(why, whylen, "%s: libcurl cannot start", url);
                return -ENOMEM;
        }
        struct dynbuf body;
        dynbuf_init(&body, CAROT_REPORT_MAX_BYTES);
        char cerr[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_PROXY, "");
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long) timeout_ms);
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) CAROT_REPORT_MAX_BYTES);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
        CURLcode c = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(h);
        int r = 0;
        char detail[300];
        if (c != CURLE_OK) {
                snprintf(why, whylen, "%s: %.200s", url, cerr[0] ? cerr : curl_easy_strerror(c));
                r = -EIO;
        } else if (status != 200) {
                snprintf(why, whylen, "%s answered HTTP %ld", url, status);
                r = -EIO;
        } else if ((r = carot_parse_report(dynbuf_str(&body), body.len, ret, detail, sizeof detail)) < 0) {
                snprintf(why, whylen, "%s: %s", url, detail);
        }
        dynbuf_free(&body);
        return r;
}
