/* The libcurl layer. Plain C: it includes no Lua header, takes a request
 * description, fills C buffers and returns a status, so a Lua error can never
 * cross a libcurl frame. Setup and finish are separate so a multi handle can
 * drive several transfers (pages in flight) with the same code. */
#ifndef HUBSOFT_TRANSPORT_H
#define HUBSOFT_TRANSPORT_H

#include <curl/curl.h>
#include <stddef.h>

#include "buf.h"

typedef struct hs_part {
    const char *filename;     /* may be NULL: the basename of path */
    const char *content_type; /* may be NULL: guessed from the file name */
    const char *path;         /* streamed from disk when set */
    const char *data;         /* in-memory content otherwise (binary-safe) */
    size_t len;
} hs_part;

typedef struct hs_req {
    const char *method; /* "GET", "POST", ... */
    const char *url;
    struct curl_slist *headers; /* owned by the caller */
    const char *body;           /* JSON body or NULL */
    size_t body_len;
    const hs_part *parts; /* multipart attachments, or NULL */
    size_t nparts;
    const char *field; /* multipart field prefix: "files" gives files[0], files[1], ... */
    int fresh_connect; /* never reuse a pooled connection */
    int max_sends;     /* how many times libcurl may send it (it silently re-sends on a
                          reused connection that died): 1 for writes */
    long timeout_ms;
    long connect_timeout_ms;
    size_t max_body; /* refuse responses larger than this */
    const char *user_agent;
    int verify_tls;
    const char *ca_file, *ca_path, *proxy;
    int compress; /* offer gzip/deflate */
    /* Asked at least once a second while the transfer runs (never calls
     * Lua): nonzero ends it with HS_T_CANCELLED. NULL: never cancelled. */
    int (*cancel)(void *ud);
    void *cancel_ud;
} hs_req;

typedef enum hs_tresult {
    HS_T_OK = 0,   /* a complete HTTP response arrived (any status) */
    HS_T_TIMEOUT,  /* timed out */
    HS_T_NETWORK,  /* DNS, refused, reset, truncated transfer, ... */
    HS_T_TLS,      /* certificate or handshake failure */
    HS_T_TOO_BIG,  /* the response exceeded max_body */
    HS_T_LOCAL,    /* local problem: out of memory, unreadable attachment */
    HS_T_CANCELLED /* req->cancel asked to stop (an interrupt, Ctrl-C) */
} hs_tresult;

typedef struct hs_resp {
    long status;
    hs_buf body;
    char content_type[128];
    long retry_after; /* seconds from Retry-After, -1 when absent */
    int too_big;
    size_t max_body;
    hs_tresult result;
    int reached; /* 1 when bytes of the request may have reached the server */
    int sends;   /* how many times the request went out in this transfer */
    int max_sends;
    int resend_blocked; /* libcurl wanted to send it again and we refused */
    int cancelled;      /* req->cancel said stop */
    int (*cancel)(void *ud);
    void *cancel_ud;
    double elapsed;
    char error[CURL_ERROR_SIZE];
    curl_mime *mime; /* owned: freed by hs_resp_reset/free */
} hs_resp;

/* Whether s can go into a header value: no control character (CR, LF, NUL,
 * ...), which would end the header and start another. Empty is refused too. */
int hs_header_value_ok(const char *s, size_t len);

void hs_resp_init(hs_resp *r);
void hs_resp_reset(hs_resp *r);
void hs_resp_free(hs_resp *r);

/* Configure `easy` for `req`, writing into `resp`. 0 on success, or -1 with
 * resp->error set (for example an attachment could not be prepared). */
int hs_transport_setup(CURL *easy, const hs_req *req, hs_resp *resp);
/* Classify the outcome of a finished transfer into resp. */
hs_tresult hs_transport_finish(CURL *easy, CURLcode code, hs_resp *resp);
/* setup + curl_easy_perform + finish. */
hs_tresult hs_transport_perform(CURL *easy, const hs_req *req, hs_resp *resp);

/* multipart.c */
curl_mime *hs_mime_build(CURL *easy, const hs_req *req, char *err, size_t errlen);
const char *hs_mime_type_for(const char *filename);

#endif
