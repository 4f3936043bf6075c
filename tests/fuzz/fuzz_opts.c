/* Flag and environment collection (common/opts.c), with a definition table shaped like the
 * programs' own: plain values, a switch, a family, names with and without the KPA_ prefix.
 * The input is split into environment and argv (see fuzz.h: NUL-separated strings).
 *
 * Invariants on success:
 * - every collected name is a defined option, or the family's prefix plus a non-empty suffix,
 *   and no name is collected twice;
 * - every value is at most OPTS_MAX_VALUE bytes, and opts_get returns it;
 * - a value from the environment equals the last matching "NAME=value" in envp;
 * - opts_origin names a flag exactly when the value came from one;
 * - positional arguments are argv strings, in order.
 * On failure: -EINVAL (or -E2BIG/-ENOMEM) with a message, and nothing leaks. */
#include <errno.h>

#include "fuzz.h"
#include "kpa/opts.h"

static const struct opt_def defs[] = {
        { "POD_NAME", OPT_VALUE, "pod" },
        { "KPA_CLUSTER_ID", OPT_VALUE, "id" },
        { "KPA_LISTENERS", OPT_VALUE, "listeners" },
        { "KPA_ADVERTISED_", OPT_FAMILY, "advertised" },
        { "KPA_DRY_RUN", OPT_SWITCH, "dry run" },
        { "KPA_HELP", OPT_SWITCH, "help" },
};
#define NDEFS (sizeof defs / sizeof defs[0])

static const char *last_env(char *const envp[], const char *name) {
        const char *v = NULL;
        size_t n = strlen(name);
        for (size_t i = 0; envp[i]; i++)
                if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
                        v = envp[i] + n + 1;
        return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz_cmdline c;
        fz_cmdline_split(data, size, &c);
        struct opt_set s;
        char err[256] = "";
        int r = opts_collect(defs, NDEFS, c.envp, c.argc, c.argv, &s, err, sizeof err);
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL || r == -E2BIG || r == -ENOMEM, "error %d", r);
                FUZZ_CHECK(err[0] != '\0', "error %d without a message", r);
                fz_cmdline_free(&c);
                return 0;
        }
        for (size_t i = 0; i < s.n; i++) {
                const struct opt_value *v = &s.v[i];
                FUZZ_CHECK(v->def >= defs && v->def < defs + NDEFS, "value %zu has no definition", i);
                if (v->def->kind == OPT_FAMILY)
                        FUZZ_CHECK(strncmp(v->name, v->def->env, strlen(v->def->env)) == 0 &&
                                   strlen(v->name) > strlen(v->def->env),
                                   "family member \"%s\"", v->name);
                else
                        FUZZ_CHECK(strcmp(v->name, v->def->env) == 0, "\"%s\" collected as \"%s\"",
                                   v->def->env, v->name);
                for (size_t j = i + 1; j < s.n; j++)
                        FUZZ_CHECK(strcmp(v->name, s.v[j].name) != 0, "\"%s\" collected twice", v->name);
                FUZZ_CHECK(strlen(v->value) <= OPTS_MAX_VALUE, "value of %s too long", v->name);
                FUZZ_CHECK(opts_get(&s, v->name) == v->value, "opts_get(%s) is another value", v->name);
                if (!v->from_flag) {
                        const char *e = last_env(c.envp, v->name);
                        FUZZ_CHECK(e && strcmp(e, v->value) == 0, "%s=\"%s\", envp says \"%s\"",
                                   v->name, v->value, e ? e : "(none)");
                }
                char buf[300];
                const char *o = opts_origin(&s, v->name, buf, sizeof buf);
                FUZZ_CHECK((strncmp(o, "--", 2) == 0) == v->from_flag, "origin of %s is \"%s\"",
                           v->name, o);
        }
        int next = 1;
        for (size_t i = 0; i < s.nargs; i++) {
                bool found = false;
                for (; next < c.argc && !found; next++)
                        found = strcmp(c.argv[next], s.args[i]) == 0;
                FUZZ_CHECK(found, "positional \"%s\" is not an argv string in order", s.args[i]);
        }
        opts_free(&s);
        fz_cmdline_free(&c);
        return 0;
}
