/* Section 3: kpa-init at pod start. With a CA made by the openssl CLI (RSA 2048 and ECDSA
 * P-256), kpa-init issues the pod's certificate and writes the PKCS12 stores into a fresh
 * folder (first start of a pod), and finds them up to date in a reused folder (a restart).
 * Baselines timed in the same run: `openssl pkcs12 -export` of the same key and certificate
 * (the keystore alone), and the openssl CLI doing what kpa-init's first run does (new key,
 * certificate signed by the CA, keystore and truststore). */
#include "sections.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "benchutil.h"

struct timing {
        double median_ms, mean_ms;
};

/* Runs argv n times; the median and mean wall time. */
static int time_runs(char *const argv[], char *const envp[], int n, struct timing *ret) {
        double *v = calloc((size_t) n, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                uint64_t t0 = bu_now_ns();
                int st = bu_run_quiet(argv, envp);
                v[i] = (double) (bu_now_ns() - t0) / 1e6;
                if (st != 0) {
                        fprintf(stderr, "[init] %s exited with %d\n", argv[0], st);
                        free(v);
                        return -EIO;
                }
        }
        ret->mean_ms = bu_mean(v, (size_t) n);
        ret->median_ms = bu_median(v, (size_t) n);
        free(v);
        return 0;
}

static int sh(const char *cmd) {
        char *argv[] = { "/bin/sh", "-c", (char *) cmd, NULL };
        return bu_run_quiet(argv, NULL) == 0 ? 0 : -EIO;
}

struct env {
        char v[10][600];
        char *p[11];
};

static void init_env(struct env *e, const char *ca_dir, const char *key_type, const char *out,
                     const char *data) {
        const char *fixed[] = { "POD_NAME=kafka-1", "POD_NAMESPACE=bench",
                                "KPA_CLUSTER_ID=MkU3OEVBNTcwNTJENDM2Qg",
                                "KPA_LISTENERS=INTERNAL://:9092,CONTROLLER://:9093",
                                "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SSL,CONTROLLER:SSL" };
        int n = 0;
        for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
                snprintf(e->v[n++], sizeof e->v[0], "%s", fixed[i]);
        snprintf(e->v[n++], sizeof e->v[0], "KPA_TLS_CA_DIR=%s", ca_dir);
        snprintf(e->v[n++], sizeof e->v[0], "KPA_TLS_KEY_TYPE=%s", key_type);
        snprintf(e->v[n++], sizeof e->v[0], "KPA_OUTPUT_DIR=%s", out);
        snprintf(e->v[n++], sizeof e->v[0], "KPA_LOG_DIRS=%s", data);
        for (int i = 0; i < n; i++)
                e->p[i] = e->v[i];
        e->p[n] = NULL;
}

struct key_result {
        const char *name;
        struct timing fresh, reuse, export, script;
};

static int one_key_type(const struct bench_paths *p, const char *dir, const char *type,
                        const char *ca_newkey, const char *leaf_newkey, int n,
                        struct key_result *res) {
        char ca[512], cmd[4096], out[600], data[600], tag[600];
        struct env e;
        int r;

        snprintf(ca, sizeof ca, "%s/ca-%s", dir, type);
        snprintf(data, sizeof data, "%s/data", dir);
        mkdir(ca, 0700);
        mkdir(data, 0700);
        snprintf(cmd, sizeof cmd,
                 "openssl req -x509 %s -nodes -keyout %s/ca.key -out %s/ca.crt -days 365 "
                 "-subj '/CN=kpa bench CA' -addext basicConstraints=critical,CA:TRUE "
                 "-addext keyUsage=critical,keyCertSign,cRLSign", ca_newkey, ca, ca);
        if ((r = sh(cmd)) < 0) {
                fprintf(stderr, "[init] openssl could not make the %s CA\n", type);
                return r;
        }
        char *argv[] = { (char *) p->init, NULL };

        /* First start: a new output folder each time. */
        double *v = calloc((size_t) n, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                snprintf(out, sizeof out, "%s/%s-fresh-%d", dir, type, i);
                mkdir(out, 0700);
                init_env(&e, ca, type, out, data);
                uint64_t t0 = bu_now_ns();
                int st = bu_run_quiet(argv, e.p);
                v[i] = (double) (bu_now_ns() - t0) / 1e6;
                if (st != 0) {
                        fprintf(stderr, "[init] kpa-init (%s, fresh) exited with %d\n", type, st);
                        free(v);
                        return -EIO;
                }
        }
        res->fresh.mean_ms = bu_mean(v, (size_t) n);
        res->fresh.median_ms = bu_median(v, (size_t) n);
        free(v);

        /* Restart: the same folder, whose stores are already right. */
        snprintf(out, sizeof out, "%s/%s-reuse", dir, type);
        mkdir(out, 0700);
        init_env(&e, ca, type, out, data);
        if (bu_run_quiet(argv, e.p) != 0 || (r = time_runs(argv, e.p, n, &res->reuse)) < 0) {
                fprintf(stderr, "[init] kpa-init (%s, reuse) failed\n", type);
                return -EIO;
        }

        /* The same key and certificate as PEM, from kpa-init's keystore, for the baseline. */
        snprintf(cmd, sizeof cmd, "openssl pkcs12 -in %s/keystore.p12 -passin file:%s/store.password "
                 "-nodes -out %s/leaf-%s.pem", out, out, dir, type);
        if ((r = sh(cmd)) < 0) {
                fprintf(stderr, "[init] openssl could not read kpa-init's %s keystore\n", type);
                return r;
        }
        snprintf(tag, sizeof tag, "%s/leaf-%s.pem", dir, type);
        char pass[640], dest[600];
        snprintf(pass, sizeof pass, "file:%s/store.password", out);
        snprintf(dest, sizeof dest, "%s/export-%s.p12", dir, type);
        char *exp[] = { "openssl", "pkcs12", "-export", "-in", tag, "-passout", pass,
                        "-out", dest, NULL };
        if ((r = time_runs(exp, NULL, n, &res->export)) < 0)
                return r;

        /* What a shell init script does for the first start. */
        snprintf(cmd, sizeof cmd,
                 "set -e; d=%s/script-%s; mkdir -p $d; "
                 "openssl req -new %s -nodes -keyout $d/k.pem -subj /CN=kafka-1 -out $d/r.csr; "
                 "openssl x509 -req -in $d/r.csr -CA %s/ca.crt -CAkey %s/ca.key -days 90 -out $d/c.pem; "
                 "openssl pkcs12 -export -in $d/c.pem -inkey $d/k.pem -certfile %s/ca.crt "
                 "-passout %s -out $d/keystore.p12; "
                 "openssl pkcs12 -export -nokeys -in %s/ca.crt -passout %s -out $d/truststore.p12",
                 dir, type, leaf_newkey, ca, ca, ca, pass, ca, pass);
        char *scr[] = { "/bin/sh", "-c", cmd, NULL };
        if ((r = time_runs(scr, NULL, n, &res->script)) < 0)
                return r;
        res->name = strcmp(type, "rsa") == 0 ? "RSA 2048" : "ECDSA P-256";
        return 0;
}

int bench_init(const struct bench_paths *p) {
        char dir[512];
        struct key_result res[2];
        int n = p->quick ? 3 : 15, r;

        snprintf(dir, sizeof dir, "%s/init", p->tmp);
        mkdir(dir, 0700);
        fprintf(stderr, "[init] kpa-init, %d runs per figure\n", n);
        if ((r = one_key_type(p, dir, "rsa", "-newkey rsa:2048", "-newkey rsa:2048", n, &res[0])) < 0 ||
            (r = one_key_type(p, dir, "ec", "-newkey ec -pkeyopt ec_paramgen_curve:P-256",
                              "-newkey ec -pkeyopt ec_paramgen_curve:P-256", n, &res[1])) < 0)
                return r;

        bu_table_head("3. kpa-init: TLS stores at pod start (whole kpa-init run: config files included)");
        for (int i = 0; i < 2; i++) {
                const struct key_result *k = &res[i];
                char fig[96], v[64], b[64], q[32];
                snprintf(fig, sizeof fig, "first start (issue + stores), %s", k->name);
                snprintf(v, sizeof v, "%.1f ms (mean %.1f)", k->fresh.median_ms, k->fresh.mean_ms);
                snprintf(b, sizeof b, "%.1f ms (openssl CLI script)", k->script.median_ms);
                snprintf(q, sizeof q, "%.2f×", k->fresh.median_ms / k->script.median_ms);
                bu_row(fig, v, b, q, "", BU_NA);
                snprintf(b, sizeof b, "%.1f ms (pkcs12 -export)", k->export.median_ms);
                snprintf(q, sizeof q, "%.2f×", k->fresh.median_ms / k->export.median_ms);
                bu_row(fig, v, b, q, "", BU_NA);
                snprintf(fig, sizeof fig, "restart (stores reused), %s", k->name);
                snprintf(v, sizeof v, "%.1f ms (mean %.1f)", k->reuse.median_ms, k->reuse.mean_ms);
                snprintf(q, sizeof q, "%.2f×", k->reuse.median_ms / k->export.median_ms);
                bu_row(fig, v, b, q, "", BU_NA);
        }
        bu_note("\nMedians of %d runs each. \"openssl CLI script\": req -newkey, x509 -req -CA, "
                "pkcs12 -export (keystore), pkcs12 -export -nokeys (truststore) in one sh -c; "
                "\"pkcs12 -export\": the keystore alone, from the same key and certificate.", n);
        return 0;
}
