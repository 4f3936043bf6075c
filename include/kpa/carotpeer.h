/* Reading a peer agent's CA rotation report (agent/carotpeer.c): an HTTP GET of its /status at
 * the peer broker's host and the port of this agent's own --listen (every broker pod runs the
 * agent with the same flags), the body bounded, parsed by carot_parse_report. Blocking: meant
 * for the rotation's worker thread.
 *
 * Plain HTTP inside the cluster, as the probes are: what is read is public (CA fingerprints),
 * and a forged answer can at worst open a gate early, which makes a handshake fail, never
 * leaks anything (docs/tls-rotation.md). */
#ifndef KPA_CAROTPEER_H
#define KPA_CAROTPEER_H

#include <stddef.h>
#include <stdint.h>

#include "kpa/carot.h"

/* 0 with ret filled, or < 0 with why (one line: the address, then what went wrong). */
int carotpeer_report(const char *host, uint16_t port, uint64_t timeout_ms, struct carot_report *ret,
                     char *why, size_t whylen);

#endif
