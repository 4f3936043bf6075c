/* SASL PLAIN JAAS strings (init/sasl.c sasl_jaas_plain_server, sasl_jaas_plain_client) for
 * users built from the input (names and passwords as fz_str, see fuzz.h; any bytes but NUL).
 * sasl_users_load reads a folder and is left to check_sasl.
 *
 * Invariants:
 * - success: the JAAS text is the PlainLoginModule line, then ` key="value"` options, then ';',
 *   and reading it back the way Kafka's JaasConfig does (java.io.StreamTokenizer: '\' escapes
 *   inside quotes) gives back every user's exact password, and self's name and password;
 * - failure: -EINVAL (or -E2BIG) with a message that does not change when every password's
 *   text is replaced (keeping empty/CR/LF, which the checks look at): no password leaks. */
#include <errno.h>

#include "fuzz.h"
#include "kpa/sasl.h"

#define MODULE "org.apache.kafka.common.security.plain.PlainLoginModule required"

struct option {
        char *key, *value;
};

/* Reads the options back; false when the text is not what a JAAS parser accepts. */
static bool jaas_read(const char *s, struct option *opts, size_t max, size_t *ret_n) {
        size_t n = 0;
        if (strncmp(s, MODULE, strlen(MODULE)) != 0)
                return false;
        s += strlen(MODULE);
        while (*s == ' ') {
                s++;
                const char *eq = strchr(s, '=');
                if (!eq || eq == s || n == max)
                        return false;
                for (const char *k = s; k < eq; k++)
                        if (!(*k == '_' || *k == '.' || *k == '-' || (*k >= '0' && *k <= '9') ||
                              (*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z')))
                                return false;
                if (eq[1] != '"')
                        return false;
                char *v = fz_alloc(strlen(eq));
                size_t vl = 0;
                const char *p = eq + 2;
                for (; *p && *p != '"'; p++) {
                        if (*p == '\n' || *p == '\r')
                                break;
                        if (*p == '\\') {
                                p++;
                                if (!*p || (*p >= '0' && *p <= '7'))
                                        break;   /* octal escapes are never written */
                        }
                        v[vl++] = *p;
                }
                if (*p != '"') {
                        free(v);
                        return false;
                }
                opts[n].key = strndup(s, (size_t) (eq - s));
                opts[n].value = v;
                n++;
                s = p + 1;
        }
        *ret_n = n;
        return s[0] == ';' && s[1] == '\0';
}

static const char *opt_get(const struct option *o, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(o[i].key, key) == 0)
                        return o[i].value;
        return NULL;
}

static int by_name(const void *a, const void *b) {
        return strcmp(((const struct sasl_user *) a)->name, ((const struct sasl_user *) b)->name);
}

static void check_jaas(const char *jaas, const struct sasl_users *u, const struct sasl_user *self,
                       bool client) {
        struct option opts[16];
        size_t n = 0;
        bool ok = jaas_read(jaas, opts, 16, &n);
        FUZZ_CHECK(ok, "JAAS does not read back: %s", jaas);
        if (self) {
                FUZZ_CHECK(opt_get(opts, n, "username") && strcmp(opt_get(opts, n, "username"), self->name) == 0,
                           "username");
                FUZZ_CHECK(opt_get(opts, n, "password") && strcmp(opt_get(opts, n, "password"), self->password) == 0,
                           "password of %s", self->name);
        }
        for (size_t i = 0; !client && i < u->n; i++) {
                char key[SASL_NAME_MAX + 8];
                snprintf(key, sizeof key, "user_%s", u->v[i].name);
                const char *v = opt_get(opts, n, key);
                FUZZ_CHECK(v && strcmp(v, u->v[i].password) == 0, "password of user %s", u->v[i].name);
        }
        FUZZ_CHECK(n == (self ? 2u : 0u) + (client ? 0 : u->n), "%zu options", n);
        for (size_t i = 0; i < n; i++) {
                free(opts[i].key);
                free(opts[i].value);
        }
}

/* A message leaks a password when it changes with the password's text. Masking keeps what the
 * checks look at (empty or not, CR and LF) and replaces every other byte; the same call is
 * then made again and must give the same message. */
static void mask(struct sasl_users *u) {
        for (size_t i = 0; i < u->n; i++)
                for (char *p = u->v[i].password; *p; p++)
                        if (*p != '\r' && *p != '\n')
                                *p = 'Q';
}

static void check_no_leak(const char *err, struct sasl_users *u, const char *self, bool client) {
        FUZZ_CHECK(err[0], "error without a message");
        mask(u);
        char *jaas = NULL, err2[512] = "";
        const struct sasl_user *me = self ? sasl_users_find(u, self) : NULL;
        int r = client ? sasl_jaas_plain_client(me, &jaas, err2, sizeof err2)
                       : sasl_jaas_plain_server(u, self, &jaas, err2, sizeof err2);
        FUZZ_CHECK(r < 0 && strcmp(err, err2) == 0, "the message depends on a password: \"%s\" / \"%s\"",
                   err, err2);
        free(jaas);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        struct sasl_users u = { NULL, 0 };
        size_t n = (size_t) fz_range(&f, 0, 6);
        u.v = fz_alloc(n * sizeof *u.v);
        for (size_t i = 0; i < n; i++) {
                char *name = fz_str(&f, SASL_NAME_MAX + 2);
                bool dup = false;
                for (size_t k = 0; k < u.n && !dup; k++)
                        dup = strcmp(u.v[k].name, name) == 0;
                if (dup) {
                        free(name);
                        continue;
                }
                u.v[u.n].name = name;
                u.v[u.n].password = fz_str(&f, SASL_PASSWORD_MAX + 2);
                u.n++;
        }
        /* sasl_users_find uses bsearch: the list is sorted, as sasl_users_load leaves it. */
        qsort(u.v, u.n, sizeof *u.v, by_name);
        int pick = (int) fz_range(&f, -1, 6);
        const struct sasl_user *self = pick >= 0 && (size_t) pick < u.n ? &u.v[pick] : NULL;

        char *jaas = NULL, err[512] = "";
        int r = sasl_jaas_plain_server(&u, self ? self->name : NULL, &jaas, err, sizeof err);
        if (r == 0) {
                check_jaas(jaas, &u, self, false);
                free(jaas);
        } else {
                FUZZ_CHECK(r == -EINVAL || r == -E2BIG, "error %d", r);
                /* Masking changes the passwords: the client check below would lose them. */
                self = NULL;
                check_no_leak(err, &u, pick >= 0 && (size_t) pick < u.n ? u.v[pick].name : NULL, false);
        }
        if (self) {
                jaas = NULL;
                err[0] = '\0';
                r = sasl_jaas_plain_client(self, &jaas, err, sizeof err);
                if (r == 0) {
                        struct sasl_users none = { NULL, 0 };
                        check_jaas(jaas, &none, self, true);
                        free(jaas);
                } else {
                        check_no_leak(err, &u, self->name, true);
                }
        }
        sasl_users_free(&u);
        return 0;
}
