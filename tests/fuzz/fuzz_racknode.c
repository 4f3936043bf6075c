/* The API server's Node answer -> broker.rack (init/rack.c rack_parse_node).
 *
 * Input: label name, node name, the service account token (each ended by a lone backslash),
 * then the JSON body.
 * Invariants: success gives exactly the string an independent cJSON read of
 * metadata.labels[label] finds, it passes rack_validate, and it holds no part of the token
 * (no run of SECRET_WINDOW bytes of it, by a naive search); failure is -EPROTO (not a Node,
 * the label is not a string, or its value holds a part of the token) or -EINVAL (no such
 * label, or not a valid rack), matching that independent read, with a one-line printable
 * message and no output written; when the value holds no part of the token, the message is
 * the one given without a token (hiding changes nothing else). */
#include <cjson/cJSON.h>
#include <errno.h>

#include "fuzz.h"
#include "kpa/rack.h"
#include "kpa/secret.h"

/* Does s hold a run of SECRET_WINDOW bytes of token (all of it if shorter)? */
static bool holds_part(const char *s, const char *token) {
        size_t n = strlen(s), t = strlen(token), w = t < SECRET_WINDOW ? t : SECRET_WINDOW;
        if (w == 0)
                return false;
        for (size_t i = 0; i + w <= n; i++)
                for (size_t k = 0; k + w <= t; k++)
                        if (memcmp(s + i, token + k, w) == 0)
                                return true;
        return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        char *label = fz_str(&f, 64), *node = fz_str(&f, 64), *token = fz_str(&f, 96);
        size_t len;
        char *json = fz_rest(&f, &len);
        char err[1024] = "", *rack = (char *) 0x1;
        int r = rack_parse_node(node, label, json, len, token, &rack, err, sizeof err);
        char err0[1024] = "", *rack0 = (char *) 0x1;
        int r0 = rack_parse_node(node, label, json, len, NULL, &rack0, err0, sizeof err0);

        cJSON *j = cJSON_ParseWithLength(json, len);
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(j, "metadata");
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(meta, "labels");
        const cJSON *v = cJSON_IsObject(labels) ? cJSON_GetObjectItemCaseSensitive(labels, label) : NULL;
        bool part = cJSON_IsString(v) && holds_part(v->valuestring, token);
        if (!part) {
                FUZZ_CHECK(r == r0 && strcmp(err, err0) == 0, "the token changed the answer: %d %s / %d %s", r, err,
                           r0, err0);
        }
        if (r0 == 0)
                free(rack0);
        if (r == 0) {
                FUZZ_CHECK(!part, "a rack holding part of the token was accepted");
                FUZZ_CHECK(cJSON_IsString(v) && strcmp(v->valuestring, rack) == 0, "rack \"%s\"", rack);
                char e2[256];
                FUZZ_CHECK(rack_validate(rack, "rack", e2, sizeof e2) == 0, "invalid rack accepted: %s", e2);
                free(rack);
        } else {
                FUZZ_CHECK(rack == (char *) 0x1, "output written on failure");
                if (!cJSON_IsObject(j) || !cJSON_IsObject(meta))
                        FUZZ_CHECK(r == -EPROTO, "not a Node: %d", r);
                else if (!v)
                        FUZZ_CHECK(r == -EINVAL, "no label: %d", r);
                else if (!cJSON_IsString(v) || part)
                        FUZZ_CHECK(r == -EPROTO, "label not a string, or holds part of the token: %d", r);
                else
                        FUZZ_CHECK(r == -EINVAL, "invalid rack value: %d", r);
                FUZZ_CHECK(err[0], "no message for %d", r);
                for (const char *p = err; *p; p++)
                        FUZZ_CHECK((unsigned char) *p >= 0x20 && *p != 0x7f, "control byte in message");
        }
        cJSON_Delete(j);
        free(label);
        free(node);
        free(token);
        free(json);
        return 0;
}
