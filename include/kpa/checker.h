/* Runs the blocking Kafka check off the event loop: a uv_timer_t ticks every interval and
 * starts kafka_check() on libuv's threadpool (uv_queue_work); its result comes back on the
 * loop thread through the result callback. At most one check runs at a time: a tick that
 * finds a check still running is skipped, so results arrive in order and never overlap. */
#ifndef KPA_CHECKER_H
#define KPA_CHECKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "kpa/ctlcheck.h"
#include "kpa/kafka.h"

struct checker_opts {
        uint64_t interval_ms;     /* time between check starts at first; > 0 */
        uint64_t stop_grace_ms;   /* checker_stop waits check timeout + this; 0: 2000 */
};

/* Called on the loop thread with each finished check. The callee owns r->snap and
 * r->peers.view (free them with kafka_result_release, or keep them); r itself is only valid
 * during the call. */
typedef void (*checker_result_cb)(struct kafka_result *r, void *data);
/* Called once the checker is stopped and freed: status 0, or -ETIMEDOUT when a check was
 * still running at the deadline (then a librdkafka thread may still be busy: the loop will not
 * become idle before it ends, so exit without waiting for uv_loop_close). */
typedef void (*checker_closed_cb)(int status, void *data);

struct checker;

struct checker_stats {
        uint64_t started, finished, skipped_ticks;
        bool running;
};

/* Takes ownership of kc (also on failure). 0 or -EINVAL/-ENOMEM/uv error. */
int checker_new(uv_loop_t *loop, struct kafka_client *kc, const struct checker_opts *o,
                checker_result_cb cb, void *data, struct checker **ret, char *errbuf,
                size_t errlen);
/* The same runner over a controller-only node's check (ctlcheck) instead of the Metadata
 * check: takes ownership of cc (also on failure). The callee owns nothing in r; r is only
 * valid during the call. want_configs has no meaning there and is ignored. */
typedef void (*checker_ctl_result_cb)(struct ctlcheck_result *r, void *data);
int checker_new_controller(uv_loop_t *loop, struct ctlcheck *cc, const struct checker_opts *o,
                           checker_ctl_result_cb cb, void *data, struct checker **ret,
                           char *errbuf, size_t errlen);
/* Starts ticking; the first check starts at once. 0 or a uv error. */
int checker_start(struct checker *c);
/* Changes the time between check starts (the agent checks faster while its broker is not
 * ready or a stop is pending): the next check starts interval_ms after the last one started,
 * or at once if that has passed. A tick that finds a check running is still skipped. */
void checker_set_interval(struct checker *c, uint64_t interval_ms);
uint64_t checker_interval(const struct checker *c);
/* Starts a check now, or right after the running one ends (for start-up, SIGHUP, /prestop).
 * want_configs asks that check to refresh min.insync.replicas. */
void checker_trigger_now(struct checker *c, bool want_configs);
/* While on, every check started is a gate check (kafka_check_gate: other brokers are asked
 * too), for as long as a /prestop is pending; off: the plain check, nothing more. */
void checker_set_gate(struct checker *c, bool on);
/* Replaces the client configuration (ownership passes) before the next check starts; a
 * running check finishes with the old one. */
void checker_set_conf(struct checker *c, struct kafka_conf *conf);
void checker_get_stats(const struct checker *c, struct checker_stats *ret);
/* Stops ticking, cancels a queued check or waits for the running one (up to the check
 * timeout plus the grace), closes the handles, frees the checker, then calls cb (may be
 * NULL). Results of a check that ends during the stop are dropped. */
void checker_stop(struct checker *c, checker_closed_cb cb, void *data);

#endif
