#include "retry.h"

#include <math.h>
#include <time.h>

void hs_retry_init(hs_retry_policy *p, int retries, double delay, double max_delay,
                   unsigned long long seed)
{
    p->retries = retries;
    p->delay = delay;
    p->max_delay = max_delay;
    p->rng = seed ? seed : 1;
}

static double next_random(hs_retry_policy *p)
{
    /* xorshift64*: jitter only, not security */
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return (double)((p->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

int hs_retry_max_sends(const hs_retry_policy *p, hs_retry_class cls, int attempt)
{
    /* a read may spend its remaining retries on libcurl's own re-sends */
    return cls == HS_RETRY_READ ? p->retries + 2 - attempt : 1;
}

int hs_retry_decide(hs_retry_policy *p, const hs_resp *r, hs_retry_class cls, int attempt,
                    double *delay)
{
    int retry = 0;
    double d;
    if (attempt > p->retries)
        return 0;
    switch (r->result) {
    case HS_T_TIMEOUT:
    case HS_T_NETWORK: retry = !r->reached || cls == HS_RETRY_READ; break;
    case HS_T_OK:
        retry = cls == HS_RETRY_READ &&
                (r->status == 429 || r->status == 502 || r->status == 503 || r->status == 504);
        break;
    default: retry = 0;
    }
    if (!retry)
        return 0;
    d = p->delay * pow(2.0, attempt - 1);
    if (d > p->max_delay)
        d = p->max_delay;
    d = d * (0.5 + 0.5 * next_random(p)); /* jitter: clients do not retry in step */
    if (r->result == HS_T_OK && r->retry_after >= 0) {
        if ((double)r->retry_after > p->max_delay)
            return 0; /* the server asks for longer than we may wait: give the caller the 429 */
        if ((double)r->retry_after > d)
            d = (double)r->retry_after;
    }
    *delay = d;
    return 1;
}

int hs_sleep(double s, int (*cancel)(void *ud), void *ud)
{
    struct timespec ts;
    if (s <= 0)
        return 0;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0) /* a signal ends the sleep early */
        if (cancel != NULL && cancel(ud))
            return 1;
    return 0;
}
