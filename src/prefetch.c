/* Pages in flight: several read requests downloading at once through one
 * libcurl multi handle, driven from the calling thread. The page iterators
 * (lua/hubsoft/paginate.lua) add the next pages while the caller works on
 * the current one, then wait for each in order.
 *
 * Each slot owns its easy handle, buffers and a copy of the headers, so a
 * re-login meanwhile (which rebuilds the client's header lists) cannot pull
 * memory from under a running transfer. A failed or refused page falls back
 * to the ordinary request path, with its retry policy and 401 re-login. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "compat.h"
#include "json.h"
#include "urlenc.h"

#define HS_PREFETCH_MT "hubsoft.prefetch"
#define HS_PREFETCH_MAX 9 /* 8 downloading + 1 finished, being decoded */

enum { SLOT_FREE = 0, SLOT_RUNNING, SLOT_DONE };

typedef struct pf_slot {
    hs_conn *conn;
    int state;
    int id;
    hs_resp resp;
    hs_buf url, url_redacted, body;
    hs_headers *headers;
    char method[8];
    hs_call call;
    hs_req req;
} pf_slot;

typedef struct hs_prefetch {
    hs_multi *multi;
    int n;
    int next_id;
    int closed;   /* what callers see */
    int depth;    /* calls of this set running (pf_guard) */
    int released; /* slots and multi freed: close waits for depth 0 */
    hs_client *c; /* NULL once released; its userdata is this one's user value
                   * (not a registry ref: a hook that refers to the set would
                   * then keep both from the collector) */
    pf_slot slots[HS_PREFETCH_MAX];
} hs_prefetch;

static void slot_release(hs_prefetch *p, pf_slot *s)
{
    if (s->state == SLOT_RUNNING && p->multi != NULL)
        hs_multi_cancel(p->multi, s->conn);
    s->state = SLOT_FREE;
    s->id = 0;
    hs_headers_free(s->headers);
    s->headers = NULL;
}

/* Frees the slots and lets go of the client: __gc, or close once no call of
 * this set runs (a hook or a finalizer may close it mid-call). */
static void prefetch_release(hs_prefetch *p)
{
    int i;
    p->closed = 1;
    if (p->released)
        return;
    p->released = 1;
    for (i = 0; i < p->n; i++) {
        pf_slot *s = &p->slots[i];
        slot_release(p, s); /* cancels a transfer still in flight */
        hs_conn_free(s->conn);
        s->conn = NULL;
        hs_resp_free(&s->resp);
        hs_buf_free(&s->url);
        hs_buf_free(&s->url_redacted);
        hs_buf_free(&s->body);
    }
    hs_multi_free(p->multi);
    p->multi = NULL;
    p->c = NULL;
}

static hs_prefetch *check_prefetch(lua_State *L)
{
    return (hs_prefetch *)luaL_checkudata(L, 1, HS_PREFETCH_MT);
}

static int l_gc(lua_State *L)
{
    prefetch_release(check_prefetch(L));
    return 0;
}

static int l_close(lua_State *L)
{
    hs_prefetch *p = check_prefetch(L);
    p->closed = 1;
    if (p->depth == 0)
        prefetch_release(p);
    lua_pushboolean(L, 1);
    return 1;
}

/* Run a method's body with this set and its client marked in a call: a
 * close of either meanwhile is deferred until it returns (or raises). */
static int pf_guard(lua_State *L, lua_CFunction body)
{
    hs_prefetch *p = check_prefetch(L);
    int nargs = lua_gettop(L), rc;
    hs_getuservalue(L, 1); /* {client}: the client goes below the arguments */
    lua_rawgeti(L, -1, 1);
    lua_replace(L, -2);
    lua_insert(L, 1);
    p->depth++;
    rc = hs_client_pcall(L, p->c, 1, nargs, body);
    if (--p->depth == 0 && p->closed)
        prefetch_release(p);
    if (rc != 0)
        return lua_error(L);
    return lua_gettop(L) - 1; /* body's results, above the client */
}

/* Move the transfers on and mark the finished ones; non-blocking. */
static void drive(hs_prefetch *p)
{
    int i;
    hs_multi_drive(p->multi);
    for (i = 0; i < p->n; i++) {
        pf_slot *s = &p->slots[i];
        if (s->state == SLOT_RUNNING && !hs_conn_running(s->conn))
            s->state = SLOT_DONE;
    }
}

/* pf:add(method, path, opts) -> id, or nil, err */
static int add_body(lua_State *L)
{
    hs_prefetch *p = check_prefetch(L);
    const char *m = lua_tostring(L, 2);
    size_t plen;
    const char *path = lua_tolstring(L, 3, &plen);
    const char *bad, *qfield = NULL;
    hs_client *c = p->c;
    pf_slot *s = NULL;
    int i, rc;

    lua_settop(L, 4);
    /* read the options first: an __index may run any code, close the client
     * or the prefetch; nothing of ours has changed yet */
    if (lua_istable(L, 4)) {
        lua_getfield(L, 4, "query");
        lua_getfield(L, 4, "json");
        lua_getfield(L, 4, "idempotent");
    } else {
        lua_pushnil(L);
        lua_pushnil(L);
        lua_pushnil(L);
    }
    /* 5 query, 6 json, 7 idempotent */
    c = p->c;
    if (p->closed || c == NULL || c->closed)
        return hs_push_closed(L, c, m);
    hs_client_busy(L, c);
    if (hs_path_check(path, plen) != NULL)
        return luaL_error(L, "hubsoft: prefetch: invalid path");
    for (i = 0; i < p->n; i++)
        if (p->slots[i].state == SLOT_FREE) {
            s = &p->slots[i];
            break;
        }
    if (s == NULL)
        return luaL_error(L, "hubsoft: prefetch: more pages in flight than its %d slots", p->n);

    memset(&s->call, 0, sizeof(s->call));
    for (i = 0; m[i] != '\0' && i < 7; i++)
        s->method[i] = (char)((m[i] >= 'a' && m[i] <= 'z') ? m[i] - 32 : m[i]);
    s->method[i] = '\0';
    if (strcmp(s->method, "GET") != 0 && strcmp(s->method, "POST") != 0)
        return luaL_error(L, "hubsoft: prefetch is for GET or POST (a read when opts.idempotent)");
    s->call.method = s->method;
    /* the retry class as api:request decides it: a page is a read only when
     * said so (paginate passes its row's class), or a GET; an unmarked POST
     * may be a write and is never re-sent once it may have reached the
     * server */
    s->call.cls = strcmp(s->method, "GET") == 0 ? HS_RETRY_READ : HS_RETRY_WRITE;
    if (lua_isboolean(L, 7))
        s->call.cls = lua_toboolean(L, 7) ? HS_RETRY_READ : HS_RETRY_WRITE;

    if ((bad = hs_build_url(L, c, &s->url, &s->url_redacted, path, plen, 5, &qfield)) != NULL)
        return luaL_error(L, "hubsoft: prefetch: query.%s: %s", qfield, bad);
    hs_buf_clear(&s->body);
    if (!lua_isnil(L, 6)) {
        char where[128];
        if ((bad = hs_json_encode(L, 6, &s->body, where, sizeof(where))) != NULL)
            return luaL_error(L, "hubsoft: prefetch: json %s %s", where, bad);
        s->call.body = s->body.data ? s->body.data : "";
        s->call.body_len = s->body.len;
    }
    s->call.url = s->url.data;
    s->call.url_redacted = s->url_redacted.data;
    if ((rc = hs_auth_ensure(L, c, 0, s->method, s->url_redacted.data)) != 0)
        return rc;
    /* a login ran hooks and the token_store: either may have closed the
     * client or this prefetch (whose slots are then freed) */
    if (p->closed || c->closed)
        return hs_push_closed(L, p->c, s->method);
    s->headers = hs_headers_copy(s->call.body ? c->hdr_json : c->hdr_plain);
    if (s->headers == NULL)
        return luaL_error(L, "hubsoft: out of memory");
    s->call.headers = s->headers;
    if (s->conn == NULL && (s->conn = hs_conn_new()) == NULL)
        return luaL_error(L, "hubsoft: could not create a libcurl handle");
    hs_call_req(&s->req, &c->set, &s->call);
    if (hs_multi_start(p->multi, s->conn, &s->req, &s->resp) != 0) {
        hs_headers_free(s->headers);
        s->headers = NULL;
        return luaL_error(L, "hubsoft: prefetch: could not start the transfer");
    }
    s->state = SLOT_RUNNING;
    s->id = ++p->next_id;
    drive(p); /* send it now: the server starts working while the caller does */
    hs_pushint(L, s->id);
    return 1;
}

/* The slot of transfer `id` (argument 2), once its transfer has finished. */
static pf_slot *finished_slot(lua_State *L, hs_prefetch *p)
{
    lua_Integer id = luaL_checkinteger(L, 2);
    pf_slot *s = NULL;
    int i;
    hs_client_busy(L, p->c);
    for (i = 0; i < p->n; i++)
        if (p->slots[i].state != SLOT_FREE && p->slots[i].id == id) {
            s = &p->slots[i];
            break;
        }
    if (s == NULL)
        luaL_error(L, "hubsoft: prefetch: no transfer %d in flight", (int)id);
    hs_intr_arm(&p->c->intr, L);
    while (s->state == SLOT_RUNNING) {
        drive(p);
        if (s->state == SLOT_RUNNING)
            hs_multi_wait(p->multi, 1000); /* a signal ends it early */
        if (hs_intr_check(&p->c->intr))
            return NULL; /* the transfer goes on; close() or the next wait ends it */
    }
    return s;
}

/* pf:await(id) -> true once transfer id has arrived (not decoded yet), so
 * the caller can start the next page before it spends time on this one. */
static int await_body(lua_State *L)
{
    hs_prefetch *p = check_prefetch(L);
    if (p->closed || p->c == NULL || p->c->closed)
        return hs_push_closed(L, p->c, "GET");
    if (finished_slot(L, p) == NULL)
        return hs_push_interrupted(L, p->c, "GET");
    lua_pushboolean(L, 1);
    return 1;
}

/* Copy a buffer's bytes into another (the client's, for the fallback). */
static void copy_buf(lua_State *L, hs_buf *dst, const hs_buf *src)
{
    hs_buf_clear(dst);
    if (hs_buf_add(dst, src->data ? src->data : "", src->len) != 0 || hs_buf_cstr(dst) != 0)
        luaL_error(L, "hubsoft: out of memory");
}

/* pf:wait(id) -> decoded body, or nil, err */
static int wait_body(lua_State *L)
{
    hs_prefetch *p = check_prefetch(L);
    hs_client *c = p->c;
    pf_slot *s;
    double delay = 0;
    int i, refused;
    char method[8];
    hs_call call;

    if (p->closed || c == NULL || c->closed)
        return hs_push_closed(L, c, "GET");
    s = finished_slot(L, p);
    if (s == NULL)
        return hs_push_interrupted(L, c, "GET");
    hs_call_hook(L, c, &s->resp, s->url_redacted.data, s->method, 1);
    if (p->closed || c->closed) { /* the hook closed one: the slot is no longer ours */
        if (!p->closed)
            slot_release(p, s);
        return hs_push_closed(L, p->c, "GET"); /* NULL once the prefetch let go of it */
    }
    refused = s->resp.result == HS_T_OK && s->resp.status == 401;
    if (!refused && !hs_retry_decide(&c->policy, &s->resp, s->call.cls, 1, &delay)) {
        i = hs_push_result(L, c, &s->resp, &s->call, 1);
        slot_release(p, s);
        drive(p);
        return i;
    }
    /* Attempt 1 failed in a way the policy repeats, or was refused: the rest
     * goes through the same pipeline as any call, from attempt 2 after the
     * backoff (Retry-After honoured), or through the single re-login. The
     * request moves into the client's buffers first: a hook may close this
     * prefetch meanwhile. */
    copy_buf(L, &c->url, &s->url);
    copy_buf(L, &c->url_redacted, &s->url_redacted);
    copy_buf(L, &c->body, &s->body);
    c->nparts = 0;
    memcpy(method, s->method, sizeof(method));
    call = s->call;
    call.method = method;
    call.url = c->url.data;
    call.url_redacted = c->url_redacted.data;
    call.body = s->call.body ? c->body.data : NULL;
    call.body_len = s->call.body ? c->body.len : 0;
    call.headers = NULL; /* the pipeline takes the token's lists */
    slot_release(p, s);
    i = hs_run_call(L, c, &call, 1, refused ? 0 : delay, refused);
    if (!p->closed)
        drive(p);
    return i;
}

static int l_add(lua_State *L)
{
    check_prefetch(L);
    luaL_checkstring(L, 2);
    luaL_checkstring(L, 3);
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TTABLE);
    lua_settop(L, 4);
    return pf_guard(L, add_body);
}

static int l_await(lua_State *L)
{
    check_prefetch(L);
    luaL_checkinteger(L, 2);
    lua_settop(L, 2);
    return pf_guard(L, await_body);
}

static int l_wait(lua_State *L)
{
    check_prefetch(L);
    luaL_checkinteger(L, 2);
    lua_settop(L, 2);
    return pf_guard(L, wait_body);
}

/* api:_prefetch(n): a set of n slots for reads in flight. */
int hs_l_prefetch(lua_State *L)
{
    hs_client *c = hs_check_client(L, 1);
    int n = (int)luaL_optinteger(L, 2, 2), i;
    hs_prefetch *p;
    if (n < 1 || n > HS_PREFETCH_MAX)
        return luaL_error(L, "hubsoft: prefetch: slots must be 1..%d", HS_PREFETCH_MAX);
    if (c->closed)
        return hs_push_closed(L, c, "GET");
    p = lua_newuserdata(L, sizeof(*p));
    memset(p, 0, sizeof(*p));
    p->closed = 1;
    for (i = 0; i < HS_PREFETCH_MAX; i++) {
        pf_slot *s = &p->slots[i];
        hs_resp_init(&s->resp);
        hs_buf_init(&s->url);
        hs_buf_init(&s->url_redacted);
        hs_buf_init(&s->body);
    }
    luaL_getmetatable(L, HS_PREFETCH_MT);
    lua_setmetatable(L, -2);
    p->n = n;
    p->multi = hs_multi_new();
    if (p->multi == NULL)
        return luaL_error(L, "hubsoft: could not create a libcurl multi handle");
    p->closed = 0;
    lua_createtable(L, 1, 0); /* the slots use the client's settings: keep it alive */
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    hs_setuservalue(L, -2);
    p->c = c;
    return 1;
}

void hs_prefetch_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"add", l_add}, {"await", l_await}, {"wait", l_wait}, {"close", l_close}, {NULL, NULL},
    };
    luaL_newmetatable(L, HS_PREFETCH_MT);
    lua_newtable(L);
    hs_setfuncs(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__close");
    lua_pop(L, 1);
}
