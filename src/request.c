/* api:request (binding): copies the caller's method, path and opts into the
 * client's buffers before anything changes, then runs the prepared call
 * through auth, the pipeline (call.c) and the single re-login after a 401,
 * and turns the outcome into the method's results. The retry policy is in
 * retry.c, the error kinds in kinds.c. */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "compat.h"
#include "json.h"
#include "urlenc.h"

#define OOM(L, c) luaL_error((L), "hubsoft: out of memory")

/* ---------------------------------------------------------- api:request */

static int validation_error(lua_State *L, hs_client *c, const char *method, const char *field,
                            const char *message)
{
    hs_errinfo e;
    memset(&e, 0, sizeof(e));
    e.kind = HS_K_VALIDATION;
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
    char tmp[HS_JSON_NUM_MAX];
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
        k = hs_json_format_double((double)n, tmp); /* the number rule of JSON bodies */
        if (k < 0)
            return 1;
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
        size_t flen = 0, clen = 0;
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
                    } else if (k == 2) {
                        p->filename = v;
                        flen = len;
                    } else {
                        p->content_type = v;
                        clen = len;
                    }
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
        /* what protects the multipart headers (the parameter rules are the
         * Lua layer's): no control character (CR, LF, NUL...), no quote in
         * the quoted filename */
        if ((p->filename && (!hs_header_value_ok(p->filename, flen) || strchr(p->filename, '"'))) ||
            (p->content_type && !hs_header_value_ok(p->content_type, clen)))
            return "filename and content_type must be non-empty, without control characters "
                   "(CR, LF, NUL...) or quotes";
        c->nparts = i + 1;
    }
    return NULL;
}

static int request_body(lua_State *L)
{
    hs_client *c = hs_check_client(L, 1);
    const char *m = lua_tostring(L, 2);
    size_t plen;
    const char *path = lua_tolstring(L, 3, &plen);
    char method[8];
    const char *bad, *qfield = NULL;
    char field[32];
    hs_call call;
    int i;

    lua_settop(L, 4);
    for (i = 0; m[i] != '\0' && i < 7; i++)
        method[i] = (char)((m[i] >= 'a' && m[i] <= 'z') ? m[i] - 32 : m[i]);
    method[i] = '\0';
    if (c->closed)
        return hs_push_closed(L, c, method);
    if (c->busy) /* from the hook of a running call: refused before touching it */
        hs_client_busy(L, c);
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
    call.cls = strcmp(method, "GET") == 0 ? HS_RETRY_READ : HS_RETRY_WRITE;
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
        /* true marks a POST that only reads; false a GET that changes
         * something (solicitar_desconexao): never re-sent once it may have
         * reached the server */
        lua_getfield(L, 4, "idempotent");
        if (lua_isboolean(L, -1))
            call.cls = lua_toboolean(L, -1) ? HS_RETRY_READ : HS_RETRY_WRITE;
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
     * but one that already ran may have closed the client (or made calls of
     * its own, done by now) */
    if (c->closed)
        return hs_push_closed(L, c, method);
    hs_client_busy(L, c);
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
    call.url = c->url.data;
    call.url_redacted = c->url_redacted.data;
    return hs_run_call(L, c, &call, 0, 0, 0);
}

/* api:request(method, path, opts): the arguments checked here, where an
 * error names the method; the rest runs with the client marked in a call. */
int hs_l_request(lua_State *L)
{
    hs_client *c = hs_check_client(L, 1);
    luaL_checkstring(L, 2);
    luaL_checkstring(L, 3);
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TTABLE);
    lua_settop(L, 4);
    return hs_client_guard(L, c, request_body);
}

int hs_run_call(lua_State *L, hs_client *c, const hs_call *call, int attempts_done, double delay,
                int after_401)
{
    hs_call cur = *call;
    hs_exchange x;
    int attempts = attempts_done, first = attempts_done + 1, stage = 0, rc, last;

    for (;;) {
        if (!after_401) {
            if (stage == 2 && !c->has_creds) {
                /* refused, with nothing to log in with: the error describes
                 * this request, not a login that never ran */
                hs_errinfo e;
                memset(&e, 0, sizeof(e));
                e.kind = HS_K_AUTH;
                e.message = "the server rejected the token (HTTP 401) and no credentials were "
                            "given to log in again (client_id, client_secret, username, password)";
                e.status = 401;
                e.method = call->method;
                e.url = call->url_redacted;
                e.attempts = attempts;
                return hs_push_error(L, c, &e);
            }
            if ((rc = hs_auth_ensure(L, c, stage == 2, call->method, call->url_redacted)) != 0)
                return rc;
            if (c->closed) /* the token_store ran: it may have closed the client */
                return hs_push_closed(L, c, call->method);
            /* the token's header lists: a login never touches the request's
             * own buffers (url, body, parts), so nothing is rebuilt */
            cur.headers = call->body ? c->hdr_json : c->hdr_plain;
            hs_exchange_begin(&x, &c->set, &cur, &c->policy, c->conn, &c->resp, first, delay,
                              hs_intr_check, &c->intr);
            delay = 0;
            rc = hs_run_exchange(L, c, &x, call->method, call->url_redacted, NULL, &last);
            if (rc == HS_INTERRUPTED)
                return hs_push_interrupted(L, c, call->method);
            if (rc != 0)
                return hs_push_closed(L, c, call->method);
            attempts += last - first + 1;
            first = 1; /* a new login gets the full budget again */
            if (!(c->resp.result == HS_T_OK && c->resp.status == 401))
                break;
        }
        if (after_401) { /* the page in flight's 401: the re-login gets the full budget */
            after_401 = 0;
            first = 1;
        }
        if (stage == 2) {
            hs_errinfo e;
            memset(&e, 0, sizeof(e));
            e.kind = HS_K_AUTH;
            e.message = "the server rejected the token twice (HTTP 401), even after a new login";
            e.status = 401;
            e.method = call->method;
            e.url = call->url_redacted;
            e.attempts = attempts;
            return hs_push_error(L, c, &e);
        }
        /* Revoked before its time. Another process sharing the token_store
         * may already hold a new token: take it if so; otherwise log in
         * again, once. A 401 means the request was refused, so repeating a
         * write is safe. */
        hs_auth_forget(L, c);
        stage = (stage == 0 && hs_auth_newer_from_store(L, c)) ? 1 : 2;
        if (c->closed)
            return hs_push_closed(L, c, call->method);
    }
    return hs_push_result(L, c, &c->resp, call, attempts);
}
