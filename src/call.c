#include "call.h"

#include <string.h>

enum { X_SLEEP = 0, X_SEND, X_RESEND, X_RESEND_NEXT, X_FINAL, X_DECIDE, X_DONE };

void hs_call_req(hs_req *req, const hs_settings *set, const hs_call *call)
{
    memset(req, 0, sizeof(*req));
    req->method = call->method;
    req->url = call->url;
    req->headers = call->headers;
    req->body = call->body;
    req->body_len = call->body_len;
    req->parts = call->parts;
    req->nparts = call->nparts;
    req->field = "files";
    req->timeout_ms = set->timeout_ms;
    req->connect_timeout_ms = set->connect_timeout_ms;
    req->max_body = set->max_body;
    req->user_agent = set->user_agent;
    req->verify_tls = set->verify_tls;
    req->ca_file = set->ca_file;
    req->ca_path = set->ca_path;
    req->proxy = set->proxy;
    req->compress = set->compress;
    req->max_sends = 1;
}

void hs_exchange_begin(hs_exchange *x, const hs_settings *set, const hs_call *call,
                       hs_retry_policy *policy, hs_conn *conn, hs_resp *resp, int first,
                       double delay, int (*cancel)(void *ud), void *cancel_ud)
{
    memset(x, 0, sizeof(*x));
    hs_call_req(&x->req, set, call);
    x->req.cancel = cancel;
    x->req.cancel_ud = cancel_ud;
    x->cls = call->cls;
    x->policy = policy;
    x->conn = conn;
    x->resp = resp;
    x->cancel = cancel;
    x->cancel_ud = cancel_ud;
    x->attempt = first;
    x->state = X_SLEEP;
    x->first_delay = delay;
}

hs_xstep hs_exchange_next(hs_exchange *x)
{
    for (;;) {
        switch (x->state) {
        case X_SLEEP: /* the backoff owed by an attempt made elsewhere */
            x->state = X_SEND;
            if (hs_sleep(x->first_delay, x->cancel, x->cancel_ud))
                return HS_X_INTERRUPTED;
            break;
        case X_SEND:
            x->req.max_sends = hs_retry_max_sends(x->policy, x->cls, x->attempt);
            hs_transport_perform(x->conn, &x->req, x->resp);
            /* no hook may run now: its pcall would swallow the interrupt */
            if (x->resp->result == HS_T_CANCELLED || (x->cancel && x->cancel(x->cancel_ud)))
                return HS_X_INTERRUPTED;
            /* libcurl re-sent it on its own after a reused connection died:
             * each earlier send was an attempt with no answer */
            x->resends = x->resp->sends > 1 ? x->resp->sends - 1 : 0;
            x->state = X_RESEND;
            break;
        case X_RESEND:
            if (x->resends == 0) {
                x->state = X_FINAL;
                break;
            }
            x->resends--;
            memset(&x->none, 0, sizeof(x->none));
            x->report = &x->none;
            x->state = X_RESEND_NEXT;
            return HS_X_REPORT;
        case X_RESEND_NEXT:
            x->attempt++;
            x->state = X_RESEND;
            break;
        case X_FINAL:
            x->report = x->resp;
            x->state = X_DECIDE;
            return HS_X_REPORT;
        case X_DECIDE: {
            double delay = 0;
            if (!hs_retry_decide(x->policy, x->resp, x->cls, x->attempt, &delay)) {
                x->state = X_DONE;
                return (x->cancel && x->cancel(x->cancel_ud)) ? HS_X_INTERRUPTED : HS_X_DONE;
            }
            if (hs_sleep(delay, x->cancel, x->cancel_ud))
                return HS_X_INTERRUPTED;
            x->attempt++;
            x->state = X_SEND;
            break;
        }
        default: return HS_X_DONE;
        }
    }
}
