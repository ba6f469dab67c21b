#include "transport_curl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef char hs_error_size_check[CURL_ERROR_SIZE == HS_ERROR_SIZE ? 1 : -1];

struct hs_multi {
    CURLM *multi;
};

int hs_transport_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

hs_conn *hs_conn_new(void)
{
    hs_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL)
        return NULL;
    conn->easy = curl_easy_init();
    if (conn->easy == NULL) {
        free(conn);
        return NULL;
    }
    return conn;
}

void hs_conn_free(hs_conn *conn)
{
    if (conn == NULL)
        return;
    curl_easy_cleanup(conn->easy);
    free(conn);
}

int hs_headers_add(hs_headers **list, const char *line)
{
    struct curl_slist *n;
    if (*list == NULL) {
        *list = calloc(1, sizeof(**list));
        if (*list == NULL)
            return -1;
    }
    n = curl_slist_append((*list)->list, line);
    if (n == NULL)
        return -1;
    (*list)->list = n;
    return 0;
}

hs_headers *hs_headers_copy(const hs_headers *list)
{
    hs_headers *out = NULL;
    const struct curl_slist *l;
    for (l = list ? list->list : NULL; l != NULL; l = l->next)
        if (hs_headers_add(&out, l->data) != 0) {
            hs_headers_free(out);
            return NULL;
        }
    return out;
}

void hs_headers_free(hs_headers *list)
{
    if (list == NULL)
        return;
    curl_slist_free_all(list->list);
    free(list);
}

int hs_header_value_ok(const char *s, size_t len)
{
    size_t i;
    if (s == NULL || len == 0)
        return 0;
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

void hs_resp_init(hs_resp *r)
{
    memset(r, 0, sizeof(*r));
    hs_buf_init(&r->body);
    r->retry_after = -1;
}

void hs_resp_reset(hs_resp *r)
{
    r->status = 0;
    /* keep a moderate buffer for the next call, drop a huge one */
    hs_buf_shrink(&r->body, (size_t)4 << 20);
    r->content_type[0] = '\0';
    r->retry_after = -1;
    r->too_big = 0;
    r->result = HS_T_OK;
    r->reached = 0;
    r->sends = 0;
    r->resend_blocked = 0;
    r->cancelled = 0;
    r->cancel = NULL;
    r->cancel_ud = NULL;
    r->elapsed = 0;
    r->error[0] = '\0';
    if (r->mime != NULL) {
        curl_mime_free((curl_mime *)r->mime);
        r->mime = NULL;
    }
}

void hs_resp_free(hs_resp *r)
{
    hs_resp_reset(r);
    hs_buf_free(&r->body);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    hs_resp *r = ud;
    size_t n = size * nmemb;
    if (r->body.len + n > r->max_body) {
        r->too_big = 1;
        return 0; /* abort the transfer */
    }
    if (hs_buf_add(&r->body, ptr, n) != 0)
        return 0;
    return n;
}

static void trim_copy(char *dst, size_t dstlen, const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == ' '))
        n--;
    if (n >= dstlen)
        n = dstlen - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    hs_resp *r = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        /* a new response (after 100 Continue, or a retry): forget the last one */
        r->content_type[0] = '\0';
        r->retry_after = -1;
        r->body.len = 0;
    } else if (n > 15 && strncasecmp(ptr, "content-length:", 15) == 0) {
        char tmp[32];
        unsigned long long cl;
        trim_copy(tmp, sizeof(tmp), ptr + 15, n - 15);
        cl = strtoull(tmp, NULL, 10);
        if (cl > r->max_body) {
            r->too_big = 1;
            return 0;
        }
        /* pre-size the receive buffer: one allocation for the whole body */
        if (cl > 0 && hs_buf_reserve(&r->body, (size_t)cl) != 0)
            return 0;
    } else if (n > 13 && strncasecmp(ptr, "content-type:", 13) == 0) {
        trim_copy(r->content_type, sizeof(r->content_type), ptr + 13, n - 13);
    } else if (n > 12 && strncasecmp(ptr, "retry-after:", 12) == 0) {
        char tmp[32];
        char *end;
        long v;
        trim_copy(tmp, sizeof(tmp), ptr + 12, n - 12);
        v = strtol(tmp, &end, 10);
        if (end != tmp && *end == '\0' && v >= 0)
            r->retry_after = v;
    }
    return n;
}

#if LIBCURL_VERSION_NUM >= 0x075000
/* Called each time libcurl is about to send the request: a second call in one
 * transfer is libcurl's own silent re-send after a reused connection died.
 * It counts as an attempt, and is refused past the caller's budget. */
static int on_prereq(void *ud, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
    hs_resp *r = ud;
    (void)conn_primary_ip;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    if (++r->sends > r->max_sends) {
        r->sends--;
        r->resend_blocked = 1;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}
#endif

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    hs_resp *r = ud;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    if (r->cancel != NULL && r->cancel(r->cancel_ud)) {
        r->cancelled = 1;
        return 1; /* CURLE_ABORTED_BY_CALLBACK */
    }
    return 0;
}

static int transport_setup(CURL *easy, const hs_req *req, hs_resp *resp)
{
    hs_resp_reset(resp);
    resp->max_body = req->max_body;
    curl_easy_reset(easy); /* keeps the connection pool and DNS cache */

    curl_easy_setopt(easy, CURLOPT_URL, req->url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, resp->error);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    if (req->user_agent != NULL)
        curl_easy_setopt(easy, CURLOPT_USERAGENT, req->user_agent);
    if (req->headers != NULL)
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, req->headers->list);
    if (req->compress)
        curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, req->verify_tls ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, req->verify_tls ? 2L : 0L);
    if (req->ca_file != NULL)
        curl_easy_setopt(easy, CURLOPT_CAINFO, req->ca_file);
    if (req->ca_path != NULL)
        curl_easy_setopt(easy, CURLOPT_CAPATH, req->ca_path);
    if (req->proxy != NULL)
        curl_easy_setopt(easy, CURLOPT_PROXY, req->proxy);
    resp->max_sends = req->max_sends > 0 ? req->max_sends : 1;
    if (req->cancel != NULL) {
        resp->cancel = req->cancel;
        resp->cancel_ud = req->cancel_ud;
        curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(easy, CURLOPT_XFERINFODATA, resp);
        curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    }
#if LIBCURL_VERSION_NUM >= 0x075000
    curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(easy, CURLOPT_PREREQDATA, resp);
    if (req->fresh_connect)
        curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
#else
    /* no way to see libcurl's silent re-send: never reuse a connection then */
    if (req->fresh_connect || req->max_sends <= 1)
        curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
#endif

    if (req->parts != NULL && req->nparts > 0) {
        curl_mime *mime = hs_mime_build(easy, req, resp->error, sizeof(resp->error));
        if (mime == NULL)
            return -1;
        resp->mime = mime;
        curl_easy_setopt(easy, CURLOPT_MIMEPOST, mime);
        if (strcmp(req->method, "POST") != 0)
            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
    } else if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body ? req->body_len : 0));
        if (strcmp(req->method, "POST") != 0)
            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
    }
    return 0;
}

static int is_tls_error(CURLcode c)
{
    switch (c) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED: return 1;
    default: return 0;
    }
}

static hs_tresult transport_finish(CURL *easy, CURLcode code, hs_resp *resp)
{
    long reqsize = 0;
    double t = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &reqsize);
    if (curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME, &t) == CURLE_OK)
        resp->elapsed = t;
    /* Bytes of the request went out: the server may have acted on it. */
    resp->reached = reqsize > 0 || resp->status > 0;

    if (code == CURLE_OK) {
        resp->result = HS_T_OK;
    } else if (resp->cancelled) {
        resp->result = HS_T_CANCELLED;
    } else if (resp->too_big) {
        resp->result = HS_T_TOO_BIG;
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        resp->result = HS_T_TIMEOUT;
    } else if (is_tls_error(code)) {
        resp->result = HS_T_TLS;
    } else if (code == CURLE_OUT_OF_MEMORY || code == CURLE_READ_ERROR ||
               code == CURLE_FILE_COULDNT_READ_FILE) {
        resp->result = HS_T_LOCAL;
    } else {
        resp->result = HS_T_NETWORK;
    }
    if (resp->resend_blocked) {
        /* the connection died after the request went out: it may have been acted on */
        resp->result = HS_T_NETWORK;
        resp->reached = 1;
        snprintf(resp->error, sizeof(resp->error),
                 "the connection closed before any answer arrived");
    }
#if LIBCURL_VERSION_NUM < 0x075000
    resp->sends = 1;
#else
    if (resp->sends == 0 && resp->reached)
        resp->sends = 1;
#endif
    if (code != CURLE_OK && resp->error[0] == '\0')
        snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(code));
    if (code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_CONNECT ||
        code == CURLE_COULDNT_RESOLVE_PROXY)
        resp->reached = 0;
    if (code != CURLE_OK && resp->status > 0 && resp->result != HS_T_TOO_BIG)
        resp->reached = 1;
    return resp->result;
}

hs_tresult hs_transport_perform(hs_conn *conn, const hs_req *req, hs_resp *resp)
{
    CURLcode code;
    if (transport_setup(conn->easy, req, resp) != 0) {
        resp->result = HS_T_LOCAL;
        resp->reached = 0;
        return resp->result;
    }
    code = curl_easy_perform(conn->easy);
    return transport_finish(conn->easy, code, resp);
}

hs_multi *hs_multi_new(void)
{
    hs_multi *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->multi = curl_multi_init();
    if (m->multi == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void hs_multi_free(hs_multi *m)
{
    if (m == NULL)
        return;
    curl_multi_cleanup(m->multi); /* the caller cancelled its transfers first */
    free(m);
}

int hs_multi_start(hs_multi *m, hs_conn *conn, const hs_req *req, hs_resp *resp)
{
    if (transport_setup(conn->easy, req, resp) != 0)
        return -1;
    curl_easy_setopt(conn->easy, CURLOPT_PRIVATE, (void *)conn); /* reset cleared it */
    if (curl_multi_add_handle(m->multi, conn->easy) != CURLM_OK) {
        snprintf(resp->error, sizeof(resp->error), "could not start the transfer");
        return -1;
    }
    conn->resp = resp;
    conn->running = 1;
    return 0;
}

void hs_multi_drive(hs_multi *m)
{
    int running = 0, left = 0;
    CURLMsg *msg;
    curl_multi_perform(m->multi, &running);
    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        hs_conn *conn = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&conn);
        if (conn == NULL || !conn->running)
            continue;
        transport_finish(conn->easy, msg->data.result, conn->resp);
        curl_multi_remove_handle(m->multi, conn->easy);
        conn->running = 0;
        conn->resp = NULL;
    }
}

void hs_multi_wait(hs_multi *m, int timeout_ms)
{
    curl_multi_poll(m->multi, NULL, 0, timeout_ms, NULL);
}

void hs_multi_cancel(hs_multi *m, hs_conn *conn)
{
    if (conn == NULL || !conn->running)
        return;
    curl_multi_remove_handle(m->multi, conn->easy);
    conn->running = 0;
    conn->resp = NULL;
}

int hs_conn_running(const hs_conn *conn)
{
    return conn != NULL && conn->running;
}
