/* The broker's data volumes: refuse one that belongs to another broker or cluster. */
#ifndef KPA_STORAGE_H
#define KPA_STORAGE_H

#include <stddef.h>
#include <stdint.h>

/* For each log dir holding a meta.properties, its node.id and cluster.id must equal ours.
 * A missing dir or file is fine (a new volume). -EINVAL with the dir and both values named;
 * other negatives for unreadable files. */
int storage_check_meta(char *const dirs[], size_t n, uint32_t node_id, const char *cluster_id,
                       char *errbuf, size_t errlen);

#endif
