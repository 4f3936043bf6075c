/* The I/O edge of leadership.h: sends the preferred leader elections the pure state asks for,
 * one ElectLeaders (kwire_elect.h) at a time to the local broker over the agent's own
 * transport (kconn.h, with client.properties' TLS and SASL PLAIN settings), on a libuv worker
 * thread so that the loop never waits on Kafka. The broker forwards it to the active
 * controller. The daemon feeds it each answered check's snapshot and each verdict, and asks
 * it to act after each check; it never touches /livez. */
#ifndef KPA_ELECTOR_H
#define KPA_ELECTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "kpa/kafkaconf.h"
#include "kpa/leadership.h"
#include "kpa/snapshot.h"
#include "kpa/verdict.h"

struct elector_opts {
        int32_t local_id;
        bool enabled;                  /* --restore-leadership */
        uint64_t ready_wait_ms;        /* --ready-waits-for-leadership */
        uint64_t timeout_ms;           /* one request, connect included; also the election's
                                          own TimeoutMs */
};

struct elector;

/* Called on the loop after each election (e.g. to check again at once, so that /status
 * shows the new leaders). */
typedef void (*elector_done_cb)(void *data);

/* Takes ownership of conf (NULL: never sends; may come later with elector_set_conf). Settings
 * the transport cannot honour are not an error here: each election then fails with them as
 * the reason. 0 or -ENOMEM. */
int elector_new(uv_loop_t *loop, const struct elector_opts *o, struct kafka_conf *conf,
                elector_done_cb cb, void *data, struct elector **ret);
/* Replaces the client configuration from the next election (ownership passes). */
void elector_set_conf(struct elector *e, struct kafka_conf *conf);
/* An answered check's snapshot (read now, not kept). */
void elector_observe(struct elector *e, const struct snapshot *s);
/* Folds the leadership check into a verdict computed without it: records whether the broker
 * is otherwise ready (which starts or ends an episode), sets CHECK_LEADERSHIP, and clears
 * v->ready when it fails. Accepts NULL (the check then does not apply). */
void elector_verdict(struct elector *e, uint64_t now_ms, struct verdict *v);
/* Sends an election if the state says so (leadership_should_elect). */
void elector_kick(struct elector *e, bool stop_pending, uint64_t now_ms);
const struct leadership *elector_view(const struct elector *e);
/* Stops; frees once a running election has finished. Accepts NULL. */
void elector_stop(struct elector *e);

#endif
