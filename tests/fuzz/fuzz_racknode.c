/* The API server's Node answer -> broker.rack (init/rack.c rack_parse_node).
 *
 * Input: label name, node name (each ended by a lone backslash), then the JSON body.
 * Invariants: success gives exactly the string an independent cJSON read of
 * metadata.labels[label] finds, and it passes rack_validate; failure is -EPROTO (not a Node,
 * or the label is not a string) or -EINVAL (no such label, or not a valid rack), matching
 * that independent read, with a one-line printable message and no output written. */
#include <cjson/cJSON.h>
#include <errno.h>

#include "fuzz.h"
#include "kpa/rack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        char *label = fz_str(&f, 64), *node = fz_str(&f, 64);
        size_t len;
        char *json = fz_rest(&f, &len);
        char err[1024] = "", *rack = (char *) 0x1;
        int r = rack_parse_node(node, label, json, len, &rack, err, sizeof err);

        cJSON *j = cJSON_ParseWithLength(json, len);
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(j, "metadata");
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(meta, "labels");
        const cJSON *v = cJSON_IsObject(labels) ? cJSON_GetObjectItemCaseSensitive(labels, label) : NULL;
        if (r == 0) {
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
                else if (!cJSON_IsString(v))
                        FUZZ_CHECK(r == -EPROTO, "label not a string: %d", r);
                else
                        FUZZ_CHECK(r == -EINVAL, "invalid rack value: %d", r);
                FUZZ_CHECK(err[0], "no message for %d", r);
                for (const char *p = err; *p; p++)
                        FUZZ_CHECK((unsigned char) *p >= 0x20 && *p != 0x7f, "control byte in message");
        }
        cJSON_Delete(j);
        free(label);
        free(node);
        free(json);
        return 0;
}
