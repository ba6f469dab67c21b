/* The retry classes and the backoff (middle layer, no Lua header).
 *
 * Policy (README "Retries"):
 *   - never reached the server (DNS, refused, connect timeout): any request;
 *   - a read (GET, or a POST marked idempotent; also the login): also 429
 *     (Retry-After), 502, 503, 504 and a timeout or broken connection after
 *     sending;
 *   - a write (create, append, edit): never re-sent once its bytes may have
 *     reached the server. libcurl silently re-sends a request when a reused
 *     keep-alive connection turns out dead before any answer; the transport
 *     counts each send as an attempt, and refuses it for a write or past a
 *     read's budget (hs_retry_max_sends). */
#ifndef HUBSOFT_RETRY_H
#define HUBSOFT_RETRY_H

#include "transport.h"

typedef enum hs_retry_class {
    HS_RETRY_WRITE = 0, /* sent at most once once it may have reached the server */
    HS_RETRY_READ = 1   /* may be sent again: it only reads */
} hs_retry_class;

typedef struct hs_retry_policy {
    int retries;            /* attempts after the first */
    double delay;           /* first backoff, doubled each time */
    double max_delay;       /* cap, and the longest Retry-After we wait for */
    unsigned long long rng; /* jitter state; per client, no globals */
} hs_retry_policy;

void hs_retry_init(hs_retry_policy *p, int retries, double delay, double max_delay,
                   unsigned long long seed);

/* How many sends libcurl may make for attempt `attempt` (1-based). */
int hs_retry_max_sends(const hs_retry_policy *p, hs_retry_class cls, int attempt);

/* Whether another attempt follows `attempt`, which ended in r; sets *delay. */
int hs_retry_decide(hs_retry_policy *p, const hs_resp *r, hs_retry_class cls, int attempt,
                    double *delay);

/* Sleep s seconds; a signal ends the sleep early, and then cancel (may be
 * NULL) decides: returns 1 when cancel said stop, else 0 after the full time. */
int hs_sleep(double s, int (*cancel)(void *ud), void *ud);

#endif
