#include "kpa/storage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/fsx.h"
#include "kpa/parse.h"
#include "kpa/props.h"

static int check_one(const char *dir, uint32_t node_id, const char *cluster_id, char *errbuf,
                     size_t errlen) {
        char path[4096], *text = NULL, perr[128];
        size_t len;
        snprintf(path, sizeof path, "%s/meta.properties", dir);
        int r = fsx_read_file(path, 64 * 1024, &text, &len);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r < 0) {
                snprintf(errbuf, errlen, "cannot read %s: %s", path, strerror(-r));
                return r;
        }
        struct props p = { 0 };
        r = props_parse(&p, text, len, perr, sizeof perr);
        free(text);
        if (r < 0) {
                snprintf(errbuf, errlen, "%s is not a properties file (%s)", path, perr);
                props_free(&p);
                return -EINVAL;
        }
        const char *nid = props_get(&p, "node.id"), *cid = props_get(&p, "cluster.id");
        uint64_t have;
        if (nid && (parse_u64(nid, 0, INT32_MAX, &have) < 0 || have != node_id)) {
                snprintf(errbuf, errlen,
                         "%s says node.id %s but this pod is node.id %u: the volume belongs to another broker (check KPA_NODE_ID_OFFSET and the PVC)",
                         path, nid, node_id);
                r = -EINVAL;
        } else if (cid && strcmp(cid, cluster_id) != 0) {
                snprintf(errbuf, errlen,
                         "%s says cluster.id %s but KPA_CLUSTER_ID is %s: the volume belongs to another cluster",
                         path, cid, cluster_id);
                r = -EINVAL;
        }
        props_free(&p);
        return r;
}

int storage_check_meta(char *const dirs[], size_t n, uint32_t node_id, const char *cluster_id,
                       char *errbuf, size_t errlen) {
        for (size_t i = 0; i < n; i++) {
                int r = check_one(dirs[i], node_id, cluster_id, errbuf, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}
