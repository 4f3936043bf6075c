/* broker.rack: a literal (KPA_RACK) or the value of a label on this pod's node
 * (KPA_RACK_NODE_LABEL), read from the Kubernetes API with the pod's service account. */
#ifndef KPA_RACK_H
#define KPA_RACK_H

#include <stddef.h>
#include <stdint.h>

/* A rack string: 1 to RACK_MAX characters from A-Z a-z 0-9 . _ - (every Kubernetes label
 * value that is not empty fits). */
#define RACK_MAX 255
/* The largest API answer read; a Node object is a few KiB to some hundred KiB. */
#define RACK_MAX_RESPONSE (4u << 20)

struct rack_query {
        const char *api_host;    /* KUBERNETES_SERVICE_HOST (IPv6 literals allowed) */
        const char *api_port;    /* KUBERNETES_SERVICE_PORT; NULL: 443 */
        const char *token_path;  /* NULL: K8SAPI_TOKEN_PATH_DEFAULT */
        const char *ca_path;     /* NULL: K8SAPI_CA_PATH_DEFAULT */
        const char *node_name;   /* NODE_NAME (downward API spec.nodeName) */
        const char *label;       /* e.g. topology.kubernetes.io/zone */
        uint64_t timeout_ms;     /* whole lookup bound including retries; 0: K8SAPI_TIMEOUT_DEFAULT_MS */
};

/* 0 if rack is a valid rack string, else -EINVAL with "<origin>: "<rack>" is not a valid rack:
 * <why>" in errbuf (origin names the input, e.g. "KPA_RACK"). */
int rack_validate(const char *rack, const char *origin, char *errbuf, size_t errlen);

/* 0 if label is a valid Kubernetes label key ([prefix/]name), else -EINVAL with the reason. */
int rack_label_key_validate(const char *label, char *errbuf, size_t errlen);

/* GET https://api_host:api_port/api/v1/nodes/<node_name> with the service account token
 * (k8sapi.h: the client, its retries, bounds and quoting),
 * verifying the server against ca_path (certificate and host name), and returns the value of
 * metadata.labels[label] in *ret_rack (caller frees). Connection errors, 429 and 5xx answers
 * are retried with backoff until timeout_ms has passed in total. Errors (detail in errbuf,
 * one line; no part of the token appears in it, even if the server echoes it: text from the
 * server is quoted, cut short and has every part of the token hidden):
 *   -EINVAL     configuration: an input missing or malformed, the token or CA file missing,
 *               the node lacks the label, or its value is not a valid rack string
 *   -EACCES     401 (token refused) or 403 (the service account may not get nodes; with a hint)
 *   -ENOENT     404: no node of that name
 *   -EFBIG      the answer is larger than RACK_MAX_RESPONSE
 *   -EPROTO     the answer is not a Node object
 *   -ETIMEDOUT  no answer within timeout_ms (the last failure is named)
 *   -EIO        TLS verification failure or another transport / HTTP failure */
/* The label's value in a Node object (the API server's JSON answer), checked as a rack name.
 * -EPROTO when the answer is not a Node, the label is not a string, or its value holds a part
 * of token (secret_overlaps; token may be NULL); -EINVAL when the label is absent or not a
 * valid rack. The message names the node and the label, and quotes a bad value with every
 * part of token hidden (secret_quote). */
int rack_parse_node(const char *node_name, const char *label, const char *json, size_t len, const char *token,
                    char **ret_rack, char *errbuf, size_t errlen);
int rack_lookup(const struct rack_query *q, char **ret_rack, char *errbuf, size_t errlen);

#endif
