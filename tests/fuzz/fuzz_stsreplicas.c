/* The API server's StatefulSet answer -> spec.replicas (agent/scaledown.c
 * scaledown_parse_replicas), what kpa-agent's scale-down rule decides on.
 *
 * Input: the StatefulSet's name (ended by a lone backslash; inputs whose name is not a DNS
 * label are skipped, as the configuration refuses them), then the JSON body.
 * Invariants: success gives exactly the spec.replicas an independent cJSON read finds, a
 * whole number from 0 to 2147483647, of an object whose kind is "StatefulSet" and whose
 * metadata.name is the name; anything else is -EPROTO with a one-line printable message and
 * the output untouched. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>

#include "fuzz.h"
#include "kpa/k8sapi.h"
#include "kpa/scaledown.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        char *name = fz_str(&f, 64);
        size_t len;
        char *json = fz_rest(&f, &len);
        if (k8sapi_dns_label_valid(name, strlen(name))) {
                char err[512] = "";
                int32_t replicas = -7;
                int r = scaledown_parse_replicas(name, json, len, &replicas, err, sizeof err);

                cJSON *j = cJSON_ParseWithLength(json, len);
                const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
                const cJSON *mname = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "metadata"), "name");
                const cJSON *rep = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "spec"), "replicas");
                bool ours = cJSON_IsObject(j) && cJSON_IsString(kind) && strcmp(kind->valuestring, "StatefulSet") == 0 &&
                            cJSON_IsString(mname) && strcmp(mname->valuestring, name) == 0;
                bool whole = cJSON_IsNumber(rep) && rep->valuedouble >= 0 && rep->valuedouble <= 2147483647.0 &&
                             (double) (int64_t) rep->valuedouble == rep->valuedouble;
                if (r == 0) {
                        FUZZ_CHECK(ours && whole, "accepted an answer that is not StatefulSet %s with whole replicas", name);
                        FUZZ_CHECK((double) replicas == rep->valuedouble, "replicas %d, the answer says %f", (int) replicas,
                                   rep->valuedouble);
                } else {
                        FUZZ_CHECK(r == -EPROTO, "error %d", r);
                        FUZZ_CHECK(!(ours && whole), "refused StatefulSet %s with replicas %f", name,
                                   rep ? rep->valuedouble : -1.0);
                        FUZZ_CHECK(replicas == -7, "output written on failure");
                        FUZZ_CHECK(err[0], "no message");
                        for (const char *p = err; *p; p++)
                                FUZZ_CHECK((unsigned char) *p >= 0x20 && *p != 0x7f, "control byte in message");
                }
                cJSON_Delete(j);
        }
        free(name);
        free(json);
        return 0;
}
