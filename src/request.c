/* api:request and the retry policy shared by every endpoint and the login.
 *
 * Retry policy (README "Retries"):
 *   - never reached the server (DNS, refused, connect timeout): any method;
 *   - a read (GET, or a POST marked idempotent): also 429 (Retry-After), 502,
 *     503, 504 and a timeout or broken connection after sending;
 *   - a write (create, append, edit): never re-sent once its bytes may have
 *     reached the server. libcurl silently re-sends a request when a reused
 *     keep-alive connection turns out dead before any answer; transport.c
 *     sees each send (CURLOPT_PREREQFUNCTION), counts it as an attempt, and
 *     refuses it for a write or past a read's retry budget. */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "compat.h"
#include "json.h"
#include "urlenc.h"

#define OOM(L, c) luaL_error((L), "hubsoft: out of memory")

int hs_push_closed(lua_State *L, hs_client *c, const char *method)
{
    hs_errinfo e;
    memset(&e, 0, sizeof(e));
    e.kind = "closed";
    e.message = "the client was closed";
    e.method = method;
    return hs_push_error(L, c, &e);
}

static double next_random(hs_client *c)
{
    /* xorshift64*: jitter only, not security */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return (double)((c->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

void hs_intr_arm(hs_intr *in, lua_State *L)
{
    in->n = 0;
    in->L[in->n++] = L;
#if LUA_VERSION_NUM >= 502
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    if (lua_tothread(L, -1) != L && lua_tothread(L, -1) != NULL)
        in->L[in->n++] = lua_tothread(L, -1);
    lua_pop(L, 1);
#endif
    {
        int i;
        for (i = 0; i < in->n; i++) {
            in->hook[i] = lua_gethook(in->L[i]);
            in->mask[i] = lua_gethookmask(in->L[i]);
        }
    }
}

int hs_intr_check(void *ud)
{
    hs_intr *in = ud;
    int i;
    for (i = 0; i < in->n; i++)
        if (lua_gethook(in->L[i]) != in->hook[i] || lua_gethookmask(in->L[i]) != in->mask[i])
            return 1;
    return 0;
}

int hs_push_interrupted(lua_State *L, hs_client *c, const char *method)
{
    hs_errinfo e;
    memset(&e, 0, sizeof(e));
    e.kind = "network";
    e.message = "interrupted";
    e.method = method;
    e.url = c->url_redacted.len ? c->url_redacted.data : NULL;
    return hs_push_error(L, c, &e);
}

int hs_sleep_seconds(double s, hs_intr *intr)
{
    struct timespec ts;
    if (s <= 0)
        return 0;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0) /* a signal ends the sleep early */
        if (intr != NULL && hs_intr_check(intr))
            return HS_INTERRUPTED;
    return 0;
}

void hs_call_hook(lua_State *L, hs_client *c, const hs_resp *r, const hs_buf *url_redacted,
                  const char *method, int attempt)
{
    int top = lua_gettop(L);
    hs_push_state(L, c);
    lua_getfield(L, -1, "on_request");
    if (!lua_isfunction(L, -1)) {
        lua_settop(L, top);
        return;
    }
    lua_createtable(L, 0, 6);
    lua_pushstring(L, method);
    lua_setfield(L, -2, "method");
    hs_push_scrubbed(L, c, url_redacted->data, url_redacted->len);
    lua_setfield(L, -2, "url");
    if (r->status > 0) {
        hs_pushint(L, r->status);
        lua_setfield(L, -2, "status");
    }
    lua_pushnumber(L, r->elapsed);
    lua_setfield(L, -2, "elapsed");
    hs_pushint(L, (long long)r->body.len);
    lua_setfield(L, -2, "bytes");
    hs_pushint(L, attempt);
    lua_setfield(L, -2, "attempt");
    c->busy = 1;
    if (lua_pcall(L, 1, 0, 0) != 0) {
        size_t n;
        const char *m = lua_tolstring(L, -1, &n);
        c->busy = 0;
        hs_push_scrubbed(L, c, m ? m : "(non-string error)", m ? n : 18);
        fprintf(stderr, "lua-hubsoft: on_request hook failed: %s\n", lua_tostring(L, -1));
    }
    c->busy = 0;
    lua_settop(L, top);
}

int hs_should_retry(hs_client *c, const hs_resp *r, const hs_call *call, int attempt, double *delay)
{
    int retry = 0;
    double d;
    if (attempt > c->retries)
        return 0;
    switch (r->result) {
    case HS_T_TIMEOUT:
    case HS_T_NETWORK: retry = !r->reached || call->idempotent; break;
    case HS_T_OK:
        retry = call->idempotent &&
                (r->status == 429 || r->status == 502 || r->status == 503 || r->status == 504);
        break;
    default: retry = 0;
    }
    if (!retry)
        return 0;
    d = c->retry_delay * pow(2.0, attempt - 1);
    if (d > c->retry_max_delay)
        d = c->retry_max_delay;
    d = d * (0.5 + 0.5 * next_random(c)); /* jitter: clients do not retry in step */
    if (r->result == HS_T_OK && r->retry_after >= 0) {
        if ((double)r->retry_after > c->retry_max_delay)
            return 0; /* the server asks for longer than we may wait: give the caller the 429 */
        if ((double)r->retry_after > d)
            d = (double)r->retry_after;
    }
    *delay = d;
    return 1;
}

void hs_req_from_client(hs_req *req, hs_client *c, const hs_call *call, const char *url)
{
    memset(req, 0, sizeof(*req));
    req->method = call->method;
    req->url = url;
    req->headers = call->headers;
    req->body = call->body;
    req->body_len = call->body_len;
    req->parts = call->parts;
    req->nparts = call->nparts;
    req->field = "files";
    req->timeout_ms = c->timeout_ms;
    req->connect_timeout_ms = c->connect_timeout_ms;
    req->max_body = c->max_body;
    req->user_agent = c->user_agent;
    req->verify_tls = c->verify_tls;
    req->ca_file = c->ca_file;
    req->ca_path = c->ca_path;
    req->proxy = c->proxy;
    req->compress = c->compress;
    req->max_sends = 1;
}

int hs_exchange(lua_State *L, hs_client *c, const hs_call *call, int *attempts)
{
    hs_req req;
    int attempt;
    hs_req_from_client(&req, c, call, c->url.data);
    req.cancel = hs_intr_check;
    req.cancel_ud = &c->intr;
    for (attempt = 1;;) {
        double delay = 0;
        /* a read may spend its remaining retries on libcurl's own re-sends;
         * a write is sent at most once per attempt we decide on */
        req.max_sends = call->idempotent ? c->retries + 2 - attempt : 1;
        hs_intr_arm(&c->intr, L);
        hs_transport_perform(c->conn, &req, &c->resp);
        /* no hook may run now: its pcall would swallow the interrupt */
        if (c->resp.result == HS_T_CANCELLED || hs_intr_check(&c->intr))
            return HS_INTERRUPTED;
        if (c->resp.sends > 1) {
            /* libcurl re-sent it on its own after a reused connection died:
             * each earlier send was an exchange with no answer */
            hs_resp none;
            int k;
            memset(&none, 0, sizeof(none));
            for (k = 1; k < c->resp.sends; k++) {
                hs_call_hook(L, c, &none, &c->url_redacted, call->method, attempt);
                if (c->closed)
                    return -1;
                attempt++;
            }
        }
        *attempts = attempt;
        hs_call_hook(L, c, &c->resp, &c->url_redacted, call->method, attempt);
        if (c->closed)
            return -1;
        if (!hs_should_retry(c, &c->resp, call, attempt, &delay))
            return hs_intr_check(&c->intr) ? HS_INTERRUPTED : 0;
        if (hs_sleep_seconds(delay, &c->intr) != 0)
            return HS_INTERRUPTED;
        attempt++;
    }
}

static int http_error(lua_State *L, hs_client *c, const hs_resp *r, const char *url,
                      const hs_call *call, int attempts, const char *kind, const char *message,
                      int retryable, int errors_idx)
{
    hs_errinfo e;
    memset(&e, 0, sizeof(e));
    e.kind = kind;
    e.message = message;
    e.status = r->status;
    e.method = call->method;
    e.url = url;
    e.retryable = retryable;
    e.attempts = attempts;
    e.errors_idx = errors_idx;
    return hs_push_error(L, c, &e);
}

/* The server's own words for an error: msg (vendor), message (Laravel), or
 * error_description (OAuth). Never a trace or file name. Pushes a string,
 * scrubbed before it is cut, so no part of a secret survives the cut. */
static void push_server_message(lua_State *L, hs_client *c, int t, const char *fallback)
{
    static const char *const keys[] = {"msg", "message", "error_description", "error", NULL};
    int i;
    for (i = 0; keys[i] != NULL; i++) {
        lua_getfield(L, t, keys[i]);
        if (lua_type(L, -1) == LUA_TSTRING && hs_rawlen(L, -1) > 0) {
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            hs_push_scrubbed(L, c, s, n);
            lua_remove(L, -2);
            if (hs_rawlen(L, -1) > 300) { /* one line, not a dump */
                s = lua_tostring(L, -1);
                lua_pushlstring(L, s, 300);
                lua_remove(L, -2);
            }
            return;
        }
        lua_pop(L, 1);
    }
    lua_pushstring(L, fallback);
}

int hs_push_result(lua_State *L, hs_client *c, const hs_call *call, int attempts)
{
    return hs_push_result_of(L, c, &c->resp, c->url_redacted.data, call, attempts);
}

int hs_push_result_of(lua_State *L, hs_client *c, const hs_resp *r, const char *url,
                      const hs_call *call, int attempts)
{
    char msg[HS_ERROR_SIZE + 160];
    int top = lua_gettop(L);
    int status_retryable = r->status == 429 || r->status >= 500;
    int reread = call->idempotent || !r->reached;

    switch (r->result) {
    case HS_T_TIMEOUT:
        snprintf(msg, sizeof(msg), "request timed out (%s)%s", r->error,
                 reread ? "" : "; it may have reached the server, check before sending it again");
        return http_error(L, c, r, url, call, attempts, "timeout", msg, reread, 0);
    case HS_T_NETWORK:
        snprintf(msg, sizeof(msg), "%s%s", r->error,
                 reread ? "" : "; it may have reached the server, check before sending it again");
        return http_error(L, c, r, url, call, attempts, "network", msg, reread, 0);
    case HS_T_TLS:
        snprintf(msg, sizeof(msg), "TLS error: %s", r->error);
        return http_error(L, c, r, url, call, attempts, "tls", msg, 0, 0);
    case HS_T_TOO_BIG:
        snprintf(msg, sizeof(msg),
                 "response larger than max_response_size (%zu bytes): refused, not read",
                 c->max_body);
        return http_error(L, c, r, url, call, attempts, "decode", msg, 0, 0);
    case HS_T_LOCAL:
        snprintf(msg, sizeof(msg), "could not send the request: %s", r->error);
        return http_error(L, c, r, url, call, attempts, "network", msg, 0, 0);
    case HS_T_CANCELLED:
        return http_error(L, c, r, url, call, attempts, "network", "interrupted", 0, 0);
    case HS_T_OK: break;
    }

    if (r->body.len == 0) {
        if (r->status >= 200 && r->status < 300) {
            lua_newtable(L);
            return 1;
        }
        snprintf(msg, sizeof(msg), "HTTP %ld with an empty body", r->status);
        return http_error(L, c, r, url, call, attempts, "http", msg, status_retryable, 0);
    }
    if (hs_json_decode(L, r->body.data, r->body.len, c->keep_nulls, r->content_type, msg,
                       sizeof(msg)) != 0) {
        char text[sizeof(msg) + 96];
        int html = r->body.len > 0 && (r->body.data[0] == '<' || strstr(r->content_type, "html"));
        if (r->status >= 200 && r->status < 300) {
            snprintf(text, sizeof(text), "the response is not valid JSON (%s)",
                     html ? "an HTML page" : msg);
            return http_error(L, c, r, url, call, attempts, "decode", text, 0, 0);
        }
        snprintf(text, sizeof(text), "HTTP %ld%s", r->status,
                 html ? " (an HTML error page, not JSON)" : " (the body is not JSON)");
        return http_error(L, c, r, url, call, attempts, "http", text, status_retryable, 0);
    }
    /* decoded value at top */
    if (lua_istable(L, -1)) {
        int t = lua_gettop(L), is_error;
        lua_getfield(L, t, "status");
        /* anything but "error" is success: the vendor also answers "suscess" */
        is_error = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "error") == 0;
        lua_pop(L, 1);
        if (is_error) {
            int errs;
            push_server_message(L, c, t, "the server answered status error");
            lua_getfield(L, t, "errors");
            errs = lua_gettop(L);
            if (lua_istable(L, errs) && hs_rawlen(L, errs) > 0) {
                lua_rawgeti(L, errs, 1);
                if (lua_type(L, -1) == LUA_TSTRING) {
                    lua_pushvalue(L, errs - 1);
                    lua_pushliteral(L, ": ");
                    lua_pushvalue(L, -3);
                    lua_concat(L, 3);
                    lua_replace(L, errs - 1);
                }
                lua_pop(L, 1);
            }
            http_error(L, c, r, url, call, attempts, "api", lua_tostring(L, errs - 1),
                       r->status >= 500 || r->status == 429, errs);
            lua_replace(L, top + 2);
            lua_replace(L, top + 1);
            lua_settop(L, top + 2);
            return 2;
        }
        if (r->status < 200 || r->status >= 300) {
            char text[400];
            push_server_message(L, c, t, "no message");
            snprintf(text, sizeof(text), "HTTP %ld: %s", r->status, lua_tostring(L, -1));
            lua_getfield(L, t, "errors");
            http_error(L, c, r, url, call, attempts, "http", text, status_retryable, top + 3);
            lua_replace(L, top + 2);
            lua_replace(L, top + 1);
            lua_settop(L, top + 2);
            return 2;
        }
        return 1;
    }
    if (r->status < 200 || r->status >= 300) {
        lua_settop(L, top);
        snprintf(msg, sizeof(msg), "HTTP %ld", r->status);
        return http_error(L, c, r, url, call, attempts, "http", msg, status_retryable, 0);
    }
    if (lua_isnil(L, -1)) { /* a bare JSON null: success with nothing in it */
        lua_pop(L, 1);
        lua_newtable(L);
    }
    return 1;
}

/* ---------------------------------------------------------- api:request */

static int validation_error(lua_State *L, hs_client *c, const char *method, const char *field,
                            const char *message)
{
    hs_errinfo e;
    memset(&e, 0, sizeof(e));
    e.kind = "validation";
    e.message = message;
    e.method = method;
    e.field = field;
    e.url = c->url_redacted.len ? c->url_redacted.data : NULL;
    return hs_push_error(L, c, &e);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Append one query value; 0 ok, 1 bad type, -1 oom. */
static int add_query_scalar(lua_State *L, int idx, hs_buf *out)
{
    char tmp[64];
    size_t len;
    const char *s;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: s = lua_tolstring(L, idx, &len); return hs_url_escape(out, s, len);
    case LUA_TNUMBER: {
        lua_Number n;
        int k;
#if HS_HAVE_INTEGERS
        if (lua_isinteger(L, idx)) { /* exact, even beyond 2^53 */
            k = snprintf(tmp, sizeof(tmp), "%lld", (long long)lua_tointeger(L, idx));
            return hs_url_escape(out, tmp, (size_t)k);
        }
#endif
        n = lua_tonumber(L, idx);
        if (n != n || n == HUGE_VAL || n == -HUGE_VAL)
            return 1;
        if (n == floor(n) && fabs(n) < 9007199254740992.0)
            k = snprintf(tmp, sizeof(tmp), "%.0f", (double)n);
        else
            k = snprintf(tmp, sizeof(tmp), "%.17g", (double)n);
        return hs_url_escape(out, tmp, (size_t)k);
    }
    case LUA_TBOOLEAN: return hs_buf_adds(out, lua_toboolean(L, idx) ? "true" : "false");
    default: return 1;
    }
}

/* Build c->url and c->url_redacted. Returns NULL or a message; *field is set
 * to the offending query key. */
const char *hs_build_url(lua_State *L, hs_client *c, hs_buf *url, hs_buf *redacted,
                         const char *path, size_t plen, int query_idx, const char **field)
{
    hs_buf_clear(url);
    hs_buf_clear(redacted);
    if (hs_buf_adds(url, c->base_url) != 0 || hs_buf_add(url, path, plen) != 0)
        OOM(L, c);
    if (query_idx != 0 && lua_istable(L, query_idx)) {
        size_t nkeys = 0, i, cap = 0;
        const char **keys;
        lua_pushnil(L);
        while (lua_next(L, query_idx) != 0) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING) {
                lua_pop(L, 1);
                *field = "query";
                return "query keys must be strings";
            }
            cap++;
        }
        /* key array owned by Lua (a userdata), so an error cannot leak it */
        keys = lua_newuserdata(L, (cap ? cap : 1) * sizeof(*keys));
        lua_pushnil(L);
        while (lua_next(L, query_idx) != 0) {
            lua_pop(L, 1);
            keys[nkeys++] = lua_tostring(L, -1); /* anchored by the query table */
        }
        qsort(keys, nkeys, sizeof(*keys), cmp_str);
        for (i = 0; i < nkeys; i++) {
            int rc = 0;
            size_t klen = strlen(keys[i]);
            lua_getfield(L, query_idx, keys[i]);
            if (hs_buf_addc(url, i == 0 ? '?' : '&') != 0 ||
                hs_url_escape(url, keys[i], klen) != 0 || hs_buf_addc(url, '=') != 0)
                OOM(L, c);
            if (lua_istable(L, -1)) { /* arrays become comma lists: "1,2,3" */
                size_t j, n = hs_rawlen(L, -1);
                for (j = 1; j <= n && rc == 0; j++) {
                    lua_rawgeti(L, -1, (int)j);
                    if (j > 1 && hs_buf_addc(url, ',') != 0)
                        rc = -1;
                    if (rc == 0)
                        rc = lua_istable(L, -1) ? 1 : add_query_scalar(L, -1, url);
                    lua_pop(L, 1);
                }
            } else {
                rc = add_query_scalar(L, -1, url);
            }
            lua_pop(L, 1);
            if (rc < 0)
                OOM(L, c);
            if (rc > 0) {
                *field = keys[i]; /* still anchored by the query table */
                lua_pop(L, 1);
                return "query values must be strings, numbers, booleans or arrays of them";
            }
        }
        lua_pop(L, 1); /* keys */
    }
    if (hs_buf_cstr(url) != 0 || hs_url_redact(redacted, url->data, url->len) != 0 ||
        hs_buf_cstr(redacted) != 0)
        OOM(L, c);
    return NULL;
}

/* Push a copy of the attachment list at idx: each table item becomes a plain
 * table of its four fields. Reading the caller's tables may run __index,
 * which may run anything (close the client, make another call), so this
 * happens before the call touches any client state. Non-lists are pushed
 * as they are, for collect_files to refuse. */
static void copy_files(lua_State *L, int idx)
{
    static const char *const keys[] = {"path", "data", "filename", "content_type"};
    size_t n, i;
    int k;
    if (!lua_istable(L, idx)) {
        lua_pushvalue(L, idx);
        return;
    }
    n = hs_rawlen(L, idx);
    lua_createtable(L, (int)n, 0);
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, (int)i);
        if (lua_istable(L, -1)) {
            lua_createtable(L, 0, 4);
            for (k = 0; k < 4; k++) {
                lua_getfield(L, -2, keys[k]);
                lua_setfield(L, -2, keys[k]);
            }
            lua_remove(L, -2);
        }
        lua_rawseti(L, -2, (int)i);
    }
}

/* Collect opts.files into c->parts; NULL or a message (field set). */
static const char *collect_files(lua_State *L, hs_client *c, int files_idx, int anchor, char *field,
                                 size_t fieldlen)
{
    int nanchored = 0;
    size_t n = hs_rawlen(L, files_idx), i;
    hs_part *parts;
    if (n == 0) {
        snprintf(field, fieldlen, "files");
        return "files must be a non-empty list";
    }
    parts = realloc(c->parts, n * sizeof(*parts));
    if (parts == NULL)
        OOM(L, c);
    c->parts = parts;
    c->nparts = 0;
    for (i = 0; i < n; i++) {
        hs_part *p = &parts[i];
        memset(p, 0, sizeof(*p));
        snprintf(field, fieldlen, "files[%zu]", i + 1);
        lua_rawgeti(L, files_idx, (int)(i + 1));
        /* Every string is also kept in the anchor table (a stack slot of the
         * call): hooks and the token_store run between attempts and could
         * drop it from the caller's tables, and the GC with it. */
        if (lua_type(L, -1) == LUA_TSTRING) {
            p->path = lua_tostring(L, -1);
            lua_pushvalue(L, -1);
            lua_rawseti(L, anchor, ++nanchored);
        } else if (lua_istable(L, -1)) {
            static const char *const keys[] = {"path", "data", "filename", "content_type"};
            int k;
            for (k = 0; k < 4; k++) {
                lua_pushstring(L, keys[k]); /* a raw copy made by copy_files */
                lua_rawget(L, -2);
                if (lua_type(L, -1) == LUA_TSTRING) {
                    size_t len;
                    const char *v = lua_tolstring(L, -1, &len);
                    if (k == 0)
                        p->path = v;
                    else if (k == 1) {
                        p->data = v;
                        p->len = len;
                    } else if (k == 2)
                        p->filename = v;
                    else
                        p->content_type = v;
                    lua_rawseti(L, anchor, ++nanchored);
                } else {
                    lua_pop(L, 1);
                }
            }
            if ((p->path == NULL) == (p->data == NULL)) {
                lua_pop(L, 1);
                return "an attachment needs exactly one of path or data";
            }
        } else {
            lua_pop(L, 1);
            return "an attachment must be a path string or a table {path=...} / {data=...}";
        }
        lua_pop(L, 1);
        if (p->path != NULL) {
            FILE *f = fopen(p->path, "rb"); /* checked before anything is sent */
            if (f == NULL)
                return "cannot open the file for reading";
            fclose(f);
        }
        if ((p->filename && strpbrk(p->filename, "\r\n\"")) ||
            (p->content_type && strpbrk(p->content_type, "\r\n")))
            return "filename and content_type must not contain quotes or line breaks";
        c->nparts = i + 1;
    }
    return NULL;
}

int hs_l_request(lua_State *L)
{
    hs_client *c = hs_check_client(L, 1);
    const char *m = luaL_checkstring(L, 2);
    size_t plen;
    const char *path = luaL_checklstring(L, 3, &plen);
    char method[8];
    const char *bad, *qfield = NULL;
    char field[32];
    hs_call call;
    int attempts = 0, rc, i, stage = 0; /* 1: took a newer shared token, 2: logged in */

    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TTABLE);
    lua_settop(L, 4);
    for (i = 0; m[i] != '\0' && i < 7; i++)
        method[i] = (char)((m[i] >= 'a' && m[i] <= 'z') ? m[i] - 32 : m[i]);
    method[i] = '\0';
    if (c->closed)
        return hs_push_closed(L, c, method);
    if (c->busy)
        return luaL_error(L, "hubsoft: a client cannot be used from its own hook or token_store");
    hs_buf_clear(&c->url_redacted);
    if (m[i] != '\0' ||
        !(strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
          strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0))
        return validation_error(L, c, NULL, "method",
                                "method must be one of GET, POST, PUT, PATCH, DELETE");
    if ((bad = hs_path_check(path, plen)) != NULL) {
        lua_pushfstring(L, "path %s", bad);
        return validation_error(L, c, method, "path", lua_tostring(L, -1));
    }

    memset(&call, 0, sizeof(call));
    call.method = method;
    call.idempotent = strcmp(method, "GET") == 0;
    if (lua_istable(L, 4)) {
        /* a misspelt option (quer = ...) must not silently drop a filter */
        lua_pushnil(L);
        while (lua_next(L, 4) != 0) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
            lua_pop(L, 1);
            if (strcmp(k, "query") != 0 && strcmp(k, "json") != 0 && strcmp(k, "files") != 0 &&
                strcmp(k, "idempotent") != 0) {
                lua_pop(L, 1);
                return validation_error(L, c, method, "opts",
                                        "opts: unknown key (allowed: files, idempotent, json, "
                                        "query)");
            }
        }
        lua_getfield(L, 4, "idempotent");
        if (lua_toboolean(L, -1))
            call.idempotent = 1;
        lua_getfield(L, 4, "query");
        lua_getfield(L, 4, "json");
        lua_getfield(L, 4, "files");
    } else {
        lua_pushnil(L);
        lua_pushnil(L);
        lua_pushnil(L);
        lua_pushnil(L);
    }
    /* 5 idempotent, 6 query, 7 json, 8 files (a copy), 9 anchor for attachment strings */
    copy_files(L, 8);
    lua_replace(L, 8);
    lua_newtable(L);
    /* every Lua input is read; from here on no metamethod of the caller runs,
     * but one that already ran may have closed the client */
    if (c->closed)
        return hs_push_closed(L, c, method);
    if (!lua_isnil(L, 6) && !lua_istable(L, 6))
        return validation_error(L, c, method, "query", "opts.query must be a table");
    if ((bad = hs_build_url(L, c, &c->url, &c->url_redacted, path, plen, 6, &qfield)) != NULL) {
        lua_pushfstring(L, "query.%s: %s", qfield, bad);
        return validation_error(L, c, method, qfield, lua_tostring(L, -1));
    }
    c->nparts = 0;
    hs_buf_clear(&c->body);
    if (!lua_isnil(L, 8)) {
        if (!lua_istable(L, 8))
            return validation_error(L, c, method, "files", "opts.files must be a list");
        if (!lua_isnil(L, 7))
            return validation_error(L, c, method, "json",
                                    "opts.json and opts.files cannot be sent together");
        if ((bad = collect_files(L, c, 8, 9, field, sizeof(field))) != NULL) {
            lua_pushfstring(L, "%s: %s", field, bad);
            return validation_error(L, c, method, field, lua_tostring(L, -1));
        }
        call.parts = c->parts;
        call.nparts = c->nparts;
    } else if (!lua_isnil(L, 7)) {
        char where[128];
        if ((bad = hs_json_encode(L, 7, &c->body, where, sizeof(where))) != NULL) {
            lua_pushfstring(L, "json%s%s %s", where[0] == '[' || !where[0] ? "" : ".", where, bad);
            return validation_error(L, c, method, where[0] ? where : "json", lua_tostring(L, -1));
        }
        call.body = c->body.data ? c->body.data : "";
        call.body_len = c->body.len;
    }

    for (;;) {
        int more;
        unsigned long logins = c->logins;
        if (stage == 2 && !c->has_creds) {
            /* refused twice (or once, with nothing to log in with): the
             * error describes this request, not a login that never ran */
            hs_errinfo e;
            memset(&e, 0, sizeof(e));
            e.kind = "auth";
            e.message = "the server rejected the token (HTTP 401) and no credentials were given "
                        "to log in again (client_id, client_secret, username, password)";
            e.status = 401;
            e.method = method;
            e.url = c->url_redacted.data;
            e.attempts = attempts;
            return hs_push_error(L, c, &e);
        }
        if ((rc = hs_auth_ensure(L, c, stage == 2, method)) != 0)
            return rc;
        /* a login reuses the URL and body buffers: rebuild ours after one */
        if (logins != c->logins &&
            hs_build_url(L, c, &c->url, &c->url_redacted, path, plen, 6, &qfield) != NULL)
            return luaL_error(L, "hubsoft: internal error rebuilding the URL");
        call.headers = call.body ? c->hdr_json : c->hdr_plain;
        if (call.body && logins != c->logins) {
            char where[128];
            hs_buf_clear(&c->body);
            if (hs_json_encode(L, 7, &c->body, where, sizeof(where)) != NULL)
                return luaL_error(L, "hubsoft: internal error re-encoding the body");
            call.body = c->body.data ? c->body.data : "";
            call.body_len = c->body.len;
        }
        more = attempts;
        if ((rc = hs_exchange(L, c, &call, &attempts)) != 0)
            return rc == HS_INTERRUPTED ? hs_push_interrupted(L, c, method)
                                        : hs_push_closed(L, c, method);
        attempts += more;
        if (c->resp.result == HS_T_OK && c->resp.status == 401) {
            if (stage == 2) {
                hs_errinfo e;
                memset(&e, 0, sizeof(e));
                e.kind = "auth";
                e.message =
                    "the server rejected the token twice (HTTP 401), even after a new login";
                e.status = 401;
                e.method = method;
                e.url = c->url_redacted.data;
                e.attempts = attempts;
                return hs_push_error(L, c, &e);
            }
            /* Revoked before its time. Another process sharing the token_store
             * may already hold a new token: take it if so; otherwise log in
             * again, once. A 401 means the request was refused, so repeating
             * a write is safe. */
            hs_auth_forget(L, c);
            stage = (stage == 0 && hs_auth_newer_from_store(L, c)) ? 1 : 2;
            if (c->closed)
                return hs_push_closed(L, c, method);
            continue;
        }
        break;
    }
    return hs_push_result(L, c, &call, attempts);
}
