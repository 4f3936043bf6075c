#include "kpa/opts.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/secret.h"

/* "KPA_CLUSTER_ID" -> "kpa-cluster-id" */
static void env_to_flag(const char *env, char *buf, size_t len) {
        size_t i = 0;
        for (; env[i] && i + 1 < len; i++)
                buf[i] = env[i] == '_' ? '-' : (char) tolower((unsigned char) env[i]);
        buf[i] = '\0';
}

/* Does flag name (without dashes) name the option; for families, sets *ret_suffix. */
static bool flag_matches(const struct opt_def *d, const char *flag, size_t flen,
                         const char **ret_suffix) {
        char full[128];
        env_to_flag(d->env, full, sizeof full);
        const char *forms[2] = { full, strncmp(full, "kpa-", 4) == 0 ? full + 4 : NULL };
        for (int k = 0; k < 2; k++) {
                const char *f = forms[k];
                if (!f)
                        continue;
                size_t n = strlen(f);
                if (d->kind == OPT_FAMILY) {
                        if (flen > n && strncmp(flag, f, n) == 0) {
                                *ret_suffix = flag + n;
                                return true;
                        }
                } else if (flen == n && strncmp(flag, f, n) == 0) {
                        return true;
                }
        }
        return false;
}

static bool has_control(const char *v) {
        for (; *v; v++)
                if ((unsigned char) *v < 0x20 || *v == 0x7f)
                        return true;
        return false;
}

static int set_value(struct opt_set *s, const struct opt_def *d, const char *name,
                     const char *value, bool from_flag) {
        if (strlen(value) > OPTS_MAX_VALUE)
                return -E2BIG;
        /* No input is multi-line, and a value quoted in an error must keep it one line. */
        if (has_control(value))
                return -EILSEQ;
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->v[i].name, name) == 0) {
                        char *nv = strdup(value);
                        if (!nv)
                                return -ENOMEM;
                        secret_free(s->v[i].value);
                        s->v[i].value = nv;
                        s->v[i].from_flag = from_flag;
                        return 0;
                }
        struct opt_value *nv = realloc(s->v, (s->n + 1) * sizeof *nv);
        if (!nv)
                return -ENOMEM;
        s->v = nv;
        char *n = strdup(name), *v = strdup(value);
        if (!n || !v) {
                free(n);
                free(v);
                return -ENOMEM;
        }
        s->v[s->n++] = (struct opt_value){ d, n, v, from_flag };
        return 0;
}

int opts_collect(const struct opt_def *defs, size_t ndefs, char *const envp[], int argc,
                 char *const argv[], struct opt_set *ret, char *errbuf, size_t errlen) {
        struct opt_set s = { 0 };
        int r = 0;

        for (size_t e = 0; envp && envp[e]; e++) {
                const char *eq = strchr(envp[e], '=');
                if (!eq)
                        continue;
                size_t nlen = (size_t) (eq - envp[e]);
                for (size_t i = 0; i < ndefs; i++) {
                        size_t dl = strlen(defs[i].env);
                        bool hit = defs[i].kind == OPT_FAMILY
                                ? nlen > dl && strncmp(envp[e], defs[i].env, dl) == 0
                                : nlen == dl && strncmp(envp[e], defs[i].env, dl) == 0;
                        if (!hit)
                                continue;
                        char name[256];
                        if (nlen >= sizeof name)
                                break;
                        memcpy(name, envp[e], nlen);
                        name[nlen] = '\0';
                        r = set_value(&s, &defs[i], name, eq + 1, false);
                        if (r < 0) {
                                if (r == -EILSEQ)
                                        snprintf(errbuf, errlen, "%s contains a line break or another control character", name);
                                else if (r == -E2BIG)
                                        snprintf(errbuf, errlen, "%s: value too long (at most %d bytes)",
                                                 name, OPTS_MAX_VALUE);
                                else
                                        snprintf(errbuf, errlen, "out of memory");
                                if (r != -ENOMEM)
                                        r = -EINVAL;
                                goto fail;
                        }
                        break;
                }
        }

        bool flags_done = false;
        for (int a = 1; a < argc; a++) {
                const char *arg = argv[a];
                if (flags_done || strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
                        if (!flags_done && strcmp(arg, "--") == 0) {
                                flags_done = true;
                                continue;
                        }
                        if (has_control(arg)) {
                                snprintf(errbuf, errlen, "argument %d contains a line break or another control character", a);
                                r = -EINVAL;
                                goto fail;
                        }
                        if (arg[0] == '-' && arg[1] != '\0' && !flags_done) {
                                snprintf(errbuf, errlen, "unknown flag %s (flags are --name)", arg);
                                r = -EINVAL;
                                goto fail;
                        }
                        char **na = realloc(s.args, (s.nargs + 1) * sizeof *na);
                        if (!na || !(na[s.nargs] = strdup(arg))) {
                                if (na)
                                        s.args = na;
                                r = -ENOMEM;
                                snprintf(errbuf, errlen, "out of memory");
                                goto fail;
                        }
                        s.args = na;
                        s.nargs++;
                        continue;
                }
                const char *flag = arg + 2, *eq = strchr(flag, '=');
                size_t flen = eq ? (size_t) (eq - flag) : strlen(flag);
                const struct opt_def *d = NULL;
                const char *suffix = NULL;
                for (size_t i = 0; i < ndefs && !d; i++)
                        if (flag_matches(&defs[i], flag, flen, &suffix))
                                d = &defs[i];
                if (!d) {
                        snprintf(errbuf, errlen, "unknown flag --%.*s (see --help)", (int) flen, flag);
                        r = -EINVAL;
                        goto fail;
                }
                const char *value;
                if (eq)
                        value = eq + 1;
                else if (d->kind == OPT_SWITCH)
                        value = "true";
                else if (a + 1 < argc)
                        value = argv[++a];
                else {
                        snprintf(errbuf, errlen, "flag --%.*s needs a value", (int) flen, flag);
                        r = -EINVAL;
                        goto fail;
                }
                char name[256];
                if (d->kind == OPT_FAMILY) {
                        size_t sl = flen - (size_t) (suffix - flag);
                        size_t pl = strlen(d->env);
                        if (pl + sl >= sizeof name) {
                                snprintf(errbuf, errlen, "flag --%.*s is too long", (int) flen, flag);
                                r = -EINVAL;
                                goto fail;
                        }
                        memcpy(name, d->env, pl);
                        for (size_t k = 0; k < sl; k++)
                                name[pl + k] = suffix[k] == '-' ? '_'
                                                : (char) toupper((unsigned char) suffix[k]);
                        name[pl + sl] = '\0';
                } else {
                        snprintf(name, sizeof name, "%s", d->env);
                }
                r = set_value(&s, d, name, value, true);
                if (r < 0) {
                        if (r == -EILSEQ)
                                snprintf(errbuf, errlen, "--%.*s contains a line break or another control character",
                                         (int) flen, flag);
                        else if (r == -E2BIG)
                                snprintf(errbuf, errlen, "--%.*s: value too long (at most %d bytes)",
                                         (int) flen, flag, OPTS_MAX_VALUE);
                        else
                                snprintf(errbuf, errlen, "out of memory");
                        if (r != -ENOMEM)
                                r = -EINVAL;
                        goto fail;
                }
        }
        *ret = s;
        return 0;
fail:
        opts_free(&s);
        return r;
}

const char *opts_get(const struct opt_set *s, const char *env) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->v[i].name, env) == 0)
                        return s->v[i].value;
        return NULL;
}

bool opts_from_flag(const struct opt_set *s, const char *env) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->v[i].name, env) == 0)
                        return s->v[i].from_flag;
        return false;
}

const char *opts_origin(const struct opt_set *s, const char *env, char *buf, size_t len) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->v[i].name, env) == 0 && s->v[i].from_flag) {
                        char f[256];
                        env_to_flag(env, f, sizeof f);
                        snprintf(buf, len, "--%s", strncmp(f, "kpa-", 4) == 0 ? f + 4 : f);
                        return buf;
                }
        snprintf(buf, len, "%s", env);
        return buf;
}

void opts_free(struct opt_set *s) {
        for (size_t i = 0; i < s->n; i++) {
                free(s->v[i].name);
                secret_free(s->v[i].value);
        }
        for (size_t i = 0; i < s->nargs; i++)
                free(s->args[i]);
        free(s->v);
        free(s->args);
        *s = (struct opt_set){ 0 };
}

void opts_usage(const struct opt_def *defs, size_t ndefs, FILE *out) {
        for (size_t i = 0; i < ndefs; i++) {
                char f[128];
                env_to_flag(defs[i].env, f, sizeof f);
                const char *flag = strncmp(f, "kpa-", 4) == 0 ? f + 4 : f;
                fprintf(out, "  --%s%s%s\n      %s\n", flag, defs[i].kind == OPT_FAMILY ? "<name>" : "",
                        defs[i].kind == OPT_VALUE || defs[i].kind == OPT_FAMILY ? " VALUE" : "",
                        defs[i].help);
                fprintf(out, "      env %s%s\n", defs[i].env, defs[i].kind == OPT_FAMILY ? "<NAME>" : "");
        }
}
