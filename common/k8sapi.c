#include "kpa/k8sapi.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kpa/dynbuf.h"
#include "kpa/fsx.h"
#include "kpa/monotime.h"
#include "kpa/parse.h"
#include "kpa/secret.h"

/* A projected service account token is a JWT of about a kilobyte; this leaves ample room. */
#define TOKEN_MAX (64u * 1024)
/* One attempt may not use the whole budget, so that a hung connection still leaves time to
 * retry on a fresh one. */
#define ATTEMPT_MAX_MS 10000
#define CONNECT_MAX_MS 5000
#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS 3200
/* The most of the API server's own explanation quoted back. */
#define STATUS_MAX 200

static void sleep_ms(uint64_t ms) {
        struct timespec ts = { .tv_sec = (time_t) (ms / 1000), .tv_nsec = (long) (ms % 1000) * 1000000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

const char *k8sapi_quote(const char *s, char *buf, size_t len) {
        size_t o = 0, i = 0;
        buf[0] = '\0';
        for (; s[i] && i < K8SAPI_QUOTE_MAX; i++) {
                unsigned char c = (unsigned char) s[i];
                char tmp[5];
                if (c == '"' || c == '\\')
                        snprintf(tmp, sizeof tmp, "\\%c", c);
                else if (c >= 0x20 && c < 0x7f)
                        snprintf(tmp, sizeof tmp, "%c", c);
                else
                        snprintf(tmp, sizeof tmp, "\\x%02x", c);
                size_t n = strlen(tmp);
                if (o + n + 4 > len)
                        break;
                memcpy(buf + o, tmp, n + 1);
                o += n;
        }
        if (s[i] && o + 4 <= len)
                memcpy(buf + o, "...", 4);
        return buf;
}

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c) {
        return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

bool k8sapi_dns_subdomain_valid(const char *s, size_t n) {
        if (n == 0 || n > 253)
                return false;
        size_t label = 0;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c == '.') {
                        if (label == 0 || s[i - 1] == '-')
                                return false;
                        label = 0;
                } else if (is_lower_alnum(c) || c == '-') {
                        if (label == 0 && c == '-')
                                return false;
                        if (++label > 63)
                                return false;
                } else {
                        return false;
                }
        }
        return label > 0 && s[n - 1] != '-';
}

bool k8sapi_dns_label_valid(const char *s, size_t n) {
        return n <= 63 && memchr(s, '.', n) == NULL && k8sapi_dns_subdomain_valid(s, n);
}

int k8sapi_split_pod_name(const char *pod, char ret_sts[64], uint32_t *ret_ordinal) {
        size_t len = strlen(pod);
        if (!k8sapi_dns_label_valid(pod, len))
                return -EINVAL;
        const char *dash = strrchr(pod, '-');
        if (!dash || dash == pod || dash[1] == '\0')
                return -EINVAL;
        /* StatefulSet ordinals have no leading zeros: "kafka-01" is not a StatefulSet pod. */
        if (dash[1] == '0' && dash[2] != '\0')
                return -EINVAL;
        uint64_t ord;
        if (parse_u64(dash + 1, 0, INT32_MAX, &ord) < 0)
                return -EINVAL;
        size_t n = (size_t) (dash - pod);
        /* The StatefulSet's own name is a DNS label too: "a--1" is not a pod of "a-". */
        if (!k8sapi_dns_label_valid(pod, n))
                return -EINVAL;
        memcpy(ret_sts, pod, n);
        ret_sts[n] = '\0';
        *ret_ordinal = (uint32_t) ord;
        return 0;
}

struct response {
        struct dynbuf body;
        bool too_big;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *userdata) {
        struct response *resp = userdata;
        size_t n = size * nmemb;
        if (dynbuf_append(&resp->body, p, n) < 0) {
                resp->too_big = true;
                /* Returning less than was given makes curl stop with CURLE_WRITE_ERROR. */
                return 0;
        }
        return n;
}

/* Reads the token and checks it can go into a header line: a JWT is printable ASCII, and
 * anything else (a newline above all) could smuggle a second header. */
static int read_token(const char *path, const char *hint, char **ret_token, char *errbuf, size_t errlen) {
        char *tok;
        size_t len;
        int r = fsx_read_file(path, TOKEN_MAX, &tok, &len);
        if (r == -ENOENT) {
                snprintf(errbuf, errlen, "service account token %s not found: mount it "
                         "(automountServiceAccountToken: true)%s", path, hint ? hint : "");
                return -EINVAL;
        }
        if (r < 0) {
                snprintf(errbuf, errlen, "service account token %s cannot be read: %s", path, strerror(-r));
                return -EINVAL;
        }
        while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r' || tok[len - 1] == ' '))
                tok[--len] = '\0';
        bool ok = len > 0;
        for (size_t i = 0; ok && i < len; i++)
                ok = tok[i] > 0x20 && tok[i] < 0x7f;
        if (!ok) {
                secret_wipe(tok, len);
                free(tok);
                snprintf(errbuf, errlen, "service account token %s is empty or holds characters a bearer token cannot have", path);
                return -EINVAL;
        }
        *ret_token = tok;
        return 0;
}

/* Checks the endpoint before any I/O, so that a configuration mistake is reported as such
 * and not as a network failure after a long wait. */
static int check_request(const struct k8sapi_request *q, char *errbuf, size_t errlen) {
        char qb[K8SAPI_QUOTE_BUF];
        if (!q->api_host || !*q->api_host) {
                snprintf(errbuf, errlen, "KUBERNETES_SERVICE_HOST is not set: %s",
                         q->no_host ? q->no_host : "run in a pod");
                return -EINVAL;
        }
        for (const char *p = q->api_host; *p; p++)
                if (!is_alnum(*p) && *p != '.' && *p != '-' && *p != ':') {
                        snprintf(errbuf, errlen, "KUBERNETES_SERVICE_HOST \"%s\" is not a host name or IP address",
                                 k8sapi_quote(q->api_host, qb, sizeof qb));
                        return -EINVAL;
                }
        uint64_t port;
        if (q->api_port && parse_u64(q->api_port, 1, 65535, &port) < 0) {
                snprintf(errbuf, errlen, "KUBERNETES_SERVICE_PORT \"%s\" is not a port number (1-65535)",
                         k8sapi_quote(q->api_port, qb, sizeof qb));
                return -EINVAL;
        }
        if (!q->path || q->path[0] != '/' || !q->what || !q->parse || q->max_response == 0) {
                snprintf(errbuf, errlen, "k8sapi_get: incomplete request");
                return -EINVAL;
        }
        return 0;
}

/* The API server reports why it refused a request in a Status object's "message"; it helps
 * the user (it names the service account), so it is quoted, cut short, and any part of the
 * token in it (a server or proxy that echoes the request) hidden. */
static void status_message(const struct dynbuf *body, const char *token, char *buf, size_t len) {
        buf[0] = '\0';
        cJSON *j = cJSON_ParseWithLength(body->data ? body->data : "", body->len);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
        if (cJSON_IsString(m) && m->valuestring[0]) {
                /* Long enough for the whole of a typical "forbidden" message. */
                char qb[STATUS_MAX * 4 + 8];
                snprintf(buf, len, " (API server: \"%s\")",
                         secret_quote(m->valuestring, strlen(m->valuestring), STATUS_MAX, token, qb, sizeof qb));
        }
        cJSON_Delete(j);
}

enum outcome { DONE, RETRY };

/* One GET. Returns DONE with r set (0 or an error), or RETRY with the failure described in
 * errbuf and *retry_after_ms set when the server asked for a delay. */
static enum outcome attempt(CURL *h, const struct k8sapi_request *q, const char *ca_path, const char *token,
                            uint64_t budget_ms, int *r, uint64_t *retry_after_ms, char *errbuf, size_t errlen) {
        char dq[STATUS_MAX * 4 + 8];
        struct response resp = { .too_big = false };
        dynbuf_init(&resp.body, q->max_response);
        char cerr[CURL_ERROR_SIZE] = "";
        uint64_t per = budget_ms < ATTEMPT_MAX_MS ? budget_ms : ATTEMPT_MAX_MS;
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long) (per ? per : 1));
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long) (per < CONNECT_MAX_MS ? (per ? per : 1) : CONNECT_MAX_MS));
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
        CURLcode c = curl_easy_perform(h);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
        /* curl's own words can carry the server's (a certificate's names, a reply it could
         * not parse): treated as the server's text. */
        const char *raw = cerr[0] ? cerr : curl_easy_strerror(c);
        const char *detail = secret_quote(raw, strlen(raw), STATUS_MAX, token, dq, sizeof dq);
        long status = 0;
        enum outcome o = DONE;
        *retry_after_ms = 0;

        if (resp.too_big || c == CURLE_FILESIZE_EXCEEDED) {
                snprintf(errbuf, errlen, "the API server's answer for %s is larger than %zu bytes", q->what,
                         q->max_response);
                *r = -EFBIG;
        } else if (c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CACERT_BADFILE ||
                   c == CURLE_SSL_CERTPROBLEM) {
                snprintf(errbuf, errlen, "the API server could not be verified with CA certificate %s: %s",
                         ca_path, detail);
                *r = -EIO;
        } else if (c == CURLE_COULDNT_CONNECT || c == CURLE_OPERATION_TIMEDOUT || c == CURLE_RECV_ERROR ||
                   c == CURLE_SEND_ERROR || c == CURLE_GOT_NOTHING || c == CURLE_PARTIAL_FILE ||
                   c == CURLE_SSL_CONNECT_ERROR || c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_HTTP2 ||
                   c == CURLE_HTTP2_STREAM) {
                snprintf(errbuf, errlen, "%s", detail);
                *r = c == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
                o = RETRY;
        } else if (c != CURLE_OK) {
                snprintf(errbuf, errlen, "GET %s failed: %s", q->what, detail);
                *r = -EIO;
        } else {
                char sm[STATUS_MAX * 4 + 32];
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
                status_message(&resp.body, token, sm, sizeof sm);
                if (status == 200) {
                        *r = q->parse(resp.body.data ? resp.body.data : "", resp.body.len, token, q->parse_arg,
                                      errbuf, errlen);
                } else if (status == 401) {
                        snprintf(errbuf, errlen, "the API server refused the service account token (HTTP 401)%s", sm);
                        *r = -EACCES;
                } else if (status == 403) {
                        snprintf(errbuf, errlen, "%s (HTTP 403)%s",
                                 q->forbidden ? q->forbidden : "the service account may not read this object", sm);
                        *r = -EACCES;
                } else if (status == 404) {
                        snprintf(errbuf, errlen, "%s not found (HTTP 404)%s%s", q->what, q->not_found ? ": " : "",
                                 q->not_found ? q->not_found : "");
                        *r = -ENOENT;
                } else if (status == 429 || (status >= 500 && status <= 599)) {
                        curl_off_t after = 0;
                        if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
                                *retry_after_ms = (uint64_t) after * 1000;
                        snprintf(errbuf, errlen, "HTTP %ld%s", status, sm);
                        *r = -EIO;
                        o = RETRY;
                } else {
                        snprintf(errbuf, errlen, "GET %s answered HTTP %ld%s", q->what, status, sm);
                        *r = -EIO;
                }
        }
        dynbuf_free(&resp.body);
        return o;
}

/* Wipes every header line curl_slist_append copied (one holds the token), then frees them. */
static void headers_free_secret(struct curl_slist *l) {
        for (struct curl_slist *p = l; p; p = p->next)
                secret_wipe(p->data, strlen(p->data));
        curl_slist_free_all(l);
}

/* curl_global_init is not safe to run while other threads may (libcurl before 7.84); the
 * agent calls k8sapi_get from worker threads, so it runs once, and its state stays until exit. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void) {
        curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int k8sapi_get(const struct k8sapi_request *q, char *errbuf, size_t errlen) {
        const char *token_path = q->token_path ? q->token_path : K8SAPI_TOKEN_PATH_DEFAULT;
        const char *ca_path = q->ca_path ? q->ca_path : K8SAPI_CA_PATH_DEFAULT;
        const char *port = q->api_port ? q->api_port : "443";
        uint64_t timeout = q->timeout_ms ? q->timeout_ms : K8SAPI_TIMEOUT_DEFAULT_MS;
        uint64_t start = monotime_ms();
        int r = check_request(q, errbuf, errlen);
        if (r < 0)
                return r;
        if (access(ca_path, R_OK) < 0) {
                snprintf(errbuf, errlen, "CA certificate %s for the Kubernetes API cannot be read: %s", ca_path,
                         strerror(errno));
                return -EINVAL;
        }

        struct dynbuf url;
        dynbuf_init(&url, 2048);
        bool v6 = strchr(q->api_host, ':') != NULL;
        if (dynbuf_printf(&url, "https://%s%s%s:%s%s", v6 ? "[" : "", q->api_host, v6 ? "]" : "", port, q->path) < 0) {
                dynbuf_free(&url);
                snprintf(errbuf, errlen, "the URL for %s is too long", q->what);
                return -EINVAL;
        }

        char *token = NULL;
        r = read_token(token_path, q->no_token, &token, errbuf, errlen);
        if (r < 0) {
                dynbuf_free(&url);
                return r;
        }
        struct dynbuf auth;
        dynbuf_init(&auth, TOKEN_MAX + 64);
        /* The token is kept (and wiped at the end) to hide any echo of it in the answers. */
        r = dynbuf_printf(&auth, "Authorization: Bearer %s", token);
        struct curl_slist *headers = NULL, *tmp;
        if (r == 0 && (tmp = curl_slist_append(NULL, dynbuf_str(&auth))) != NULL) {
                headers = tmp;
                tmp = curl_slist_append(headers, "Accept: application/json");
                if (tmp)
                        headers = tmp;
                else
                        r = -ENOMEM;
        } else {
                r = -ENOMEM;
        }
        dynbuf_free_secret(&auth);
        CURL *h = NULL;
        if (r < 0) {
                snprintf(errbuf, errlen, "out of memory");
                goto out;
        }
        pthread_once(&curl_once, curl_init);
        if (curl_init_rc != CURLE_OK || !(h = curl_easy_init())) {
                snprintf(errbuf, errlen, "libcurl could not be initialised");
                r = -EIO;
                goto out;
        }
        curl_easy_setopt(h, CURLOPT_URL, dynbuf_str(&url));
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_USERAGENT, q->user_agent ? q->user_agent : "kpa/" KPA_VERSION);
        /* Trust only the cluster CA: not the system bundle, not the system CA directory. */
        curl_easy_setopt(h, CURLOPT_CAINFO, ca_path);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        /* The API server is reached over the cluster network, never through a proxy from the
         * environment, which would also see the token. */
        curl_easy_setopt(h, CURLOPT_PROXY, "");
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) q->max_response);

        char last[1024] = "";
        uint64_t backoff = BACKOFF_FIRST_MS;
        unsigned attempts = 0;
        bool gave_up = false;
        for (;;) {
                uint64_t elapsed = monotime_ms() - start;
                uint64_t retry_after = 0;
                attempts++;
                enum outcome o = attempt(h, q, ca_path, token, elapsed < timeout ? timeout - elapsed : 0, &r,
                                         &retry_after, last, sizeof last);
                if (o == DONE)
                        break;
                uint64_t wait = retry_after > backoff ? retry_after : backoff;
                elapsed = monotime_ms() - start;
                if (elapsed + wait >= timeout) {
                        snprintf(errbuf, errlen, "GET %s from %s gave up after %u attempt%s in %llu ms: %s", q->what,
                                 dynbuf_str(&url), attempts, attempts == 1 ? "" : "s", (unsigned long long) elapsed,
                                 last);
                        gave_up = true;
                        break;
                }
                sleep_ms(wait);
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        }
        /* A retried failure was described with the attempts above; a final one as is. */
        if (r < 0 && !gave_up)
                snprintf(errbuf, errlen, "%s", last);
out:
        if (h)
                curl_easy_cleanup(h);
        headers_free_secret(headers);
        secret_free(token);
        dynbuf_free(&url);
        return r;
}
