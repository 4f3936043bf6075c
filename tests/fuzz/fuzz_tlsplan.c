/* Certificate rotation's pure decisions (agent/tlsplan.c): the TLS listeners read from
 * server.properties values, and the per-broker set sent back to the broker.
 *
 * Input: listeners, advertised.listeners, listener.security.protocol.map and
 * controller.listener.names (NUL-separated strings), then per-broker entries (name, whether a
 * value, value, sensitive).
 *
 * Invariants: every listener kept has a port, a name of at most 63 bytes, and is not a
 * controller listener; messages are one printable line; the set holds every entry kpa does not
 * own exactly once, unchanged and in order, then two owned keys per listener, or the call
 * refuses (EPERM exactly when a non-owned entry has no value). */
#include <ctype.h>
#include <errno.h>
#include <strings.h>

#include "fuzz.h"
#include "kpa/tlsplan.h"

static void printable(const char *s) {
        for (; *s; s++)
                FUZZ_CHECK(isprint((unsigned char) *s), "unprintable byte in a message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        char *listeners = fz_str(&f, 512), *adv = fz_str(&f, 512), *map = fz_str(&f, 512), *ctl = fz_str(&f, 128);
        struct tlsplan_listener l[TLSPLAN_MAX_LISTENERS];
        size_t n = 0;
        char why[512] = "";
        int r = tlsplan_tls_listeners(listeners, adv[0] ? adv : NULL, map[0] ? map : NULL, ctl[0] ? ctl : NULL, l,
                                      TLSPLAN_MAX_LISTENERS, &n, why, sizeof why);
        if (r < 0)
                printable(why);
        const char *names[TLSPLAN_MAX_LISTENERS];
        for (size_t i = 0; r == 0 && i < n; i++) {
                FUZZ_CHECK(l[i].port > 0 && strlen(l[i].name) < sizeof l[i].name, "listener %zu", i);
                names[i] = l[i].name;
        }
        size_t ne = fz_range(&f, 0, 8);
        struct tlsplan_entry e[8];
        char *vals[8] = { 0 };
        bool unreadable = false;
        for (size_t i = 0; i < ne; i++) {
                char *name = fz_str(&f, 64);
                snprintf(e[i].name, sizeof e[i].name, "%s", name);
                free(name);
                vals[i] = fz_bool(&f) ? fz_str(&f, 64) : NULL;
                e[i].value = vals[i];
                e[i].sensitive = fz_bool(&f);
                unreadable = unreadable || (!e[i].value && !tlsplan_owned_key(e[i].name));
        }
        if (r == 0) {
                char keys[2 * TLSPLAN_MAX_LISTENERS][TLSPLAN_NAME_MAX];
                struct tlsplan_set s = { 0 };
                int k = tlsplan_alter_set(e, ne, names, n, "/ks", "/ts", keys, &s, why, sizeof why);
                bool bad_name = false;
                for (size_t i = 0; i < n; i++) {
                        char a[TLSPLAN_NAME_MAX], b[TLSPLAN_NAME_MAX];
                        bad_name = bad_name || tlsplan_listener_keys(names[i], a, sizeof a, b, sizeof b) < 0;
                }
                if (k == 0) {
                        FUZZ_CHECK(!unreadable && !bad_name, "accepted an unreadable entry or a bad listener name");
                        size_t j = 0;
                        for (size_t i = 0; i < ne; i++)
                                if (!tlsplan_owned_key(e[i].name)) {
                                        FUZZ_CHECK(j < s.n && s.name[j] == e[i].name && s.value[j] == e[i].value,
                                                   "entry %zu not kept in order", i);
                                        j++;
                                }
                        FUZZ_CHECK(s.n == j + 2 * n, "%zu entries, %zu expected", s.n, j + 2 * n);
                        for (size_t i = j; i < s.n; i++)
                                FUZZ_CHECK(tlsplan_owned_key(s.name[i]), "added key %s not owned", s.name[i]);
                } else {
                        printable(why);
                        FUZZ_CHECK(k == -EPERM ? unreadable : (k == -EINVAL && bad_name), "refused with %d", k);
                }
        }
        for (size_t i = 0; i < ne; i++)
                free(vals[i]);
        free(listeners);
        free(adv);
        free(map);
        free(ctl);
        return 0;
}
