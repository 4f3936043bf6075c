/* broker.rack values and node label keys (init/rack.c rack_validate, rack_label_key_validate).
 * The Node JSON answer is parsed by a static function (parse_node) and is not reachable
 * without an HTTPS server; see the report.
 *
 * Invariants: each validator agrees with an independent statement of its rule (rack.h; for
 * label keys the Kubernetes rule: an optional lower-case DNS subdomain prefix of at most 253
 * characters and '/', then a name of 1-63 characters from A-Z a-z 0-9 . _ - that starts and
 * ends with an alphanumeric); a refusal has a message of printable characters. */
#include <ctype.h>
#include <errno.h>

#include "fuzz.h"
#include "kpa/rack.h"

static bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

static bool rack_oracle(const char *s) {
        size_t n = strlen(s);
        if (n < 1 || n > RACK_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!alnum(s[i]) && !strchr("._-", s[i]))
                        return false;
        return true;
}

static bool subdomain_oracle(const char *s, size_t n) {
        if (n < 1 || n > 253)
                return false;
        size_t start = 0;
        for (size_t i = 0; i <= n; i++) {
                if (i < n && s[i] != '.')
                        continue;
                size_t len = i - start;
                if (len < 1 || len > 63 || s[start] == '-' || s[i - 1] == '-')
                        return false;
                for (size_t k = start; k < i; k++)
                        if (!((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9') || s[k] == '-'))
                                return false;
                start = i + 1;
        }
        return true;
}

static bool label_key_oracle(const char *s) {
        const char *slash = strchr(s, '/');
        const char *name = slash ? slash + 1 : s;
        if (slash && !subdomain_oracle(s, (size_t) (slash - s)))
                return false;
        size_t n = strlen(name);
        if (n < 1 || n > 63 || !alnum(name[0]) || !alnum(name[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!alnum(name[i]) && !strchr("._-", name[i]))
                        return false;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        size_t len;
        char *s = fz_rest(&f, &len);
        char err[1024] = "";
        int r = rack_validate(s, "KPA_RACK", err, sizeof err);
        FUZZ_CHECK((r == 0) == rack_oracle(s), "rack_validate(\"%s\") = %d", s, r);
        if (r < 0)
                FUZZ_CHECK(r == -EINVAL && err[0], "error %d", r);
        err[0] = '\0';
        r = rack_label_key_validate(s, err, sizeof err);
        FUZZ_CHECK((r == 0) == label_key_oracle(s), "rack_label_key_validate(\"%s\") = %d", s, r);
        if (r < 0)
                FUZZ_CHECK(r == -EINVAL && err[0], "error %d", r);
        free(s);
        return 0;
}
