/* The call pipeline (middle layer, no Lua header): a prepared request is sent
 * with the retry policy (send, classify, back off, send again) until it ends
 * in a response or a transport failure. It runs as steps: between two steps
 * the caller may run anything (the on_request hook, the token_store), since
 * the pipeline holds nothing it needs back but what the caller gave it.
 * Single calls, logins and pages in flight all go through it. */
#ifndef HUBSOFT_CALL_H
#define HUBSOFT_CALL_H

#include <stddef.h>

#include "retry.h"
#include "transport.h"

/* The client's transport settings, copied from the config. */
typedef struct hs_settings {
    long timeout_ms, connect_timeout_ms;
    size_t max_body;
    const char *user_agent;
    int verify_tls;
    const char *ca_file, *ca_path, *proxy;
    int compress;
} hs_settings;

/* A prepared request: every input already copied into C memory. */
typedef struct hs_call {
    const char *method; /* "GET", "POST", ... */
    hs_retry_class cls;
    const char *url;
    const char *url_redacted; /* for errors and hooks */
    const hs_headers *headers;
    const char *body; /* JSON, or NULL */
    size_t body_len;
    const hs_part *parts; /* attachments, or NULL */
    size_t nparts;
} hs_call;

/* The request description the transport takes, for call under settings. */
void hs_call_req(hs_req *req, const hs_settings *set, const hs_call *call);

typedef enum hs_xstep {
    HS_X_REPORT,     /* an attempt ended: x->report, x->attempt (call the hook now) */
    HS_X_DONE,       /* no further attempt: the outcome is in the resp given */
    HS_X_INTERRUPTED /* cancel() said stop: end the call without running any Lua */
} hs_xstep;

typedef struct hs_exchange {
    hs_req req;
    hs_retry_class cls;
    hs_retry_policy *policy;
    hs_conn *conn;
    hs_resp *resp;
    int (*cancel)(void *ud);
    void *cancel_ud;
    int attempt;        /* the attempt being reported or sent (1-based) */
    int resends;        /* libcurl's silent re-sends still to report */
    int state;          /* internal */
    double first_delay; /* slept before the first send */
    const hs_resp *report;
    hs_resp none; /* the report of a send that got no answer */
} hs_exchange;

/* Prepare x to send call on conn into resp, starting at attempt `first`
 * of the policy's budget (1; 2 when attempt 1 was a page in flight, after
 * sleeping its backoff `delay`). cancel may be NULL. */
void hs_exchange_begin(hs_exchange *x, const hs_settings *set, const hs_call *call,
                       hs_retry_policy *policy, hs_conn *conn, hs_resp *resp, int first,
                       double delay, int (*cancel)(void *ud), void *cancel_ud);
hs_xstep hs_exchange_next(hs_exchange *x);

#endif
