/* A careful HTTPS GET to the Kubernetes API server with the pod's service account: the
 * token and the cluster CA (and nothing else) from their files, bounded answers, retries with
 * backoff, and every piece of the server's text quoted with any part of the token hidden.
 * Used by kpa-init (a node's labels, rack.h) and kpa-agent (its StatefulSet's replicas,
 * stsreplicas.h). k8sapi_get blocks: call it from a worker thread in an event loop. */
#ifndef KPA_K8SAPI_H
#define KPA_K8SAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define K8SAPI_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define K8SAPI_TOKEN_PATH_DEFAULT K8SAPI_SA_DIR "/token"
#define K8SAPI_CA_PATH_DEFAULT K8SAPI_SA_DIR "/ca.crt"
#define K8SAPI_NAMESPACE_PATH_DEFAULT K8SAPI_SA_DIR "/namespace"
#define K8SAPI_TIMEOUT_DEFAULT_MS 30000
/* The most of an untrusted string quoted back in a message. */
#define K8SAPI_QUOTE_MAX 80
/* A buffer that holds any k8sapi_quote() result. */
#define K8SAPI_QUOTE_BUF (K8SAPI_QUOTE_MAX * 4 + 8)

/* Reads the answer of a 200: json is the body (len bytes, not NUL-terminated); token is the
 * bearer token sent, so that a parser can refuse or hide an echo of it. 0 or a negative errno
 * code with one line in errbuf. */
typedef int (*k8sapi_parse_fn)(const char *json, size_t len, const char *token, void *arg, char *errbuf,
                               size_t errlen);

struct k8sapi_request {
        const char *api_host;        /* KUBERNETES_SERVICE_HOST (IPv6 literals allowed) */
        const char *api_port;        /* KUBERNETES_SERVICE_PORT; NULL: 443 */
        const char *token_path;      /* NULL: K8SAPI_TOKEN_PATH_DEFAULT */
        const char *ca_path;         /* NULL: K8SAPI_CA_PATH_DEFAULT */
        const char *path;            /* the URL path; the caller checked every part of it */
        const char *what;            /* the object in messages, e.g. node "n1" */
        const char *user_agent;      /* e.g. "kpa-init/0.1.0" */
        /* Hints for the user, each part of one message line:
         *   no_host        after "KUBERNETES_SERVICE_HOST is not set: "
         *   no_token       after "... not found: mount it (automountServiceAccountToken: true)"
         *   forbidden      the whole 403 message before " (HTTP 403)": what RBAC to grant
         *   not_found      after "<what> not found (HTTP 404): " (NULL: nothing) */
        const char *no_host, *no_token, *forbidden, *not_found;
        uint64_t timeout_ms;         /* the whole request, retries included; 0: the default */
        size_t max_response;         /* the largest answer read */
        k8sapi_parse_fn parse;
        void *parse_arg;
};

/* GET https://api_host:api_port<path> with the bearer token, verifying the server against
 * ca_path alone (certificate and host name), no proxy, no redirect. On 200 the answer goes to
 * parse, whose result is returned. Connection errors, 429 and 5xx are retried with backoff
 * (honouring Retry-After) until timeout_ms has passed in total. Errors (one line in errbuf;
 * no part of the token, even if the server echoes it):
 *   -EINVAL     an input missing or malformed, the token or CA file missing or unreadable
 *   -EACCES     401 (token refused) or 403 (with req->forbidden)
 *   -ENOENT     404
 *   -EFBIG      the answer is larger than max_response
 *   -ETIMEDOUT / -EIO  no usable answer within timeout_ms (the last failure is named), TLS
 *               verification failure, another transport or HTTP failure
 *   parse's own errors. */
int k8sapi_get(const struct k8sapi_request *req, char *errbuf, size_t errlen);

/* Copies untrusted s for a one-line message: printable ASCII as is, '"' and '\' escaped,
 * every other byte as \xNN, cut after K8SAPI_QUOTE_MAX bytes with "...". Returns buf. */
const char *k8sapi_quote(const char *s, char *buf, size_t len);

/* RFC 1123 subdomain (node names, label key prefixes, most object names): at most 253
 * characters of dot-separated labels of [a-z0-9-], each starting and ending alphanumeric. */
bool k8sapi_dns_subdomain_valid(const char *s, size_t n);
/* RFC 1123 label (namespace names): 1 to 63 characters of [a-z0-9-], alphanumeric at both ends. */
bool k8sapi_dns_label_valid(const char *s, size_t n);

/* Splits a StatefulSet pod's name "<statefulset>-<ordinal>" (an RFC 1123 label; ordinals have
 * no leading zeros). ret_sts receives at most 63 bytes + NUL. -EINVAL otherwise. */
int k8sapi_split_pod_name(const char *pod, char ret_sts[64], uint32_t *ret_ordinal);

#endif
