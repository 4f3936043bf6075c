/* Inputs given as environment variables (the Kubernetes way) or as --flags of the same name.
 *
 * An option is named by its environment variable, e.g. KPA_CLUSTER_ID. Its flag is that name
 * in lower case with dashes, --kpa-cluster-id, and for a KPA_ name also without the prefix,
 * --cluster-id. A flag takes its value as --flag=value or --flag value; a flag given on the
 * command line wins over the environment. A family (KPA_ADVERTISED_) collects every variable
 * with that prefix; its flags are --advertised-<suffix>, the suffix upper-cased back. */
#ifndef KPA_OPTS_H
#define KPA_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum opt_kind { OPT_VALUE, OPT_SWITCH, OPT_FAMILY };

struct opt_def {
        const char *env;
        enum opt_kind kind;
        const char *help;
};

/* A value found for an option; for a family, name is the full variable name. */
struct opt_value {
        const struct opt_def *def;
        char *name;
        char *value;
        bool from_flag;
};

struct opt_set {
        struct opt_value *v;
        size_t n;
        char **args;     /* positional arguments, in order */
        size_t nargs;
};

#define OPTS_MAX_VALUE 65536

/* Collects values from envp (NULL-terminated, as environ) and argv[1..]. "--" ends flags.
 * 0, or -EINVAL with "unknown flag --x" / "flag --x needs a value" in errbuf. */
int opts_collect(const struct opt_def *defs, size_t ndefs, char *const envp[], int argc,
                 char *const argv[], struct opt_set *ret, char *errbuf, size_t errlen);
/* The value of a plain or switch option, or NULL when absent. A switch given as a flag with
 * no value reads as "true". */
const char *opts_get(const struct opt_set *s, const char *env);
/* Was the option given as a --flag (not only in the environment)? For --help: an
 * environment variable must not turn a program into its usage text. */
bool opts_from_flag(const struct opt_set *s, const char *env);
/* Where the value came from, for error messages: "--cluster-id" or "KPA_CLUSTER_ID". */
const char *opts_origin(const struct opt_set *s, const char *env, char *buf, size_t len);
void opts_free(struct opt_set *s);
/* Prints "  --flag, ENV  help" lines for a usage text. */
void opts_usage(const struct opt_def *defs, size_t ndefs, FILE *out);

#endif
