/* The transport (bottom layer). Plain C: it includes no Lua header and shows
 * no libcurl type (libcurl stays behind this seam, in transport.c and
 * multipart.c, see transport_curl.h). It takes a request description, fills
 * C buffers and returns a status, so a Lua error can never cross a libcurl
 * frame. One connection (hs_conn) runs one transfer at a time, alone
 * (hs_transport_perform) or with others over a hs_multi (pages in flight). */
#ifndef HUBSOFT_TRANSPORT_H
#define HUBSOFT_TRANSPORT_H

#include <stddef.h>

#include "buf.h"

#define HS_ERROR_SIZE 256 /* == CURL_ERROR_SIZE, checked in transport.c */

typedef struct hs_conn hs_conn;       /* a connection handle (keeps its pool) */
typedef struct hs_multi hs_multi;     /* several transfers driven together */
typedef struct hs_headers hs_headers; /* a list of request header lines */

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
    const hs_headers *headers; /* owned by the caller */
    const char *body;          /* JSON body or NULL */
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
    char error[HS_ERROR_SIZE];
    void *mime; /* transport-private: the multipart body, freed by hs_resp_reset/free */
} hs_resp;

/* Whether s can go into a header value: no control character (CR, LF, NUL,
 * ...), which would end the header and start another. Empty is refused too. */
int hs_header_value_ok(const char *s, size_t len);

void hs_resp_init(hs_resp *r);
void hs_resp_reset(hs_resp *r);
void hs_resp_free(hs_resp *r);

/* Once per process, before any connection (refcounted by libcurl). 0 or -1. */
int hs_transport_global_init(void);

hs_conn *hs_conn_new(void); /* NULL when out of memory */
void hs_conn_free(hs_conn *conn);

/* Send req on conn and wait for the outcome, written into resp. */
hs_tresult hs_transport_perform(hs_conn *conn, const hs_req *req, hs_resp *resp);

/* Header lists: add appends a copy of line (0, or -1 when out of memory; the
 * list is unchanged then); copy gives an independent list (NULL on failure
 * or for an empty list); free takes NULL. */
int hs_headers_add(hs_headers **list, const char *line);
hs_headers *hs_headers_copy(const hs_headers *list);
void hs_headers_free(hs_headers *list);

/* Pages in flight: start adds conn's transfer of req (0, or -1 with
 * resp->error set); drive moves every transfer on without blocking and
 * finishes those that ended into their resp; wait blocks up to timeout_ms
 * for activity (a signal ends it early); cancel removes a running transfer.
 * req and resp must live until the transfer is finished or cancelled. */
hs_multi *hs_multi_new(void);
void hs_multi_free(hs_multi *m); /* cancels what still runs */
int hs_multi_start(hs_multi *m, hs_conn *conn, const hs_req *req, hs_resp *resp);
void hs_multi_drive(hs_multi *m);
void hs_multi_wait(hs_multi *m, int timeout_ms);
void hs_multi_cancel(hs_multi *m, hs_conn *conn);
int hs_conn_running(const hs_conn *conn); /* started and not finished */

/* multipart.c */
const char *hs_mime_type_for(const char *filename);

#endif
