/* A response turned into the method's results (binding): the decoded body,
 * or nil and an error table of the kind the kinds table (kinds.c) gives. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "compat.h"
#include "json.h"

static int http_error(lua_State *L, hs_client *c, const hs_resp *r, const hs_call *call,
                      int attempts, hs_kind kind, const char *message, int retryable,
                      int errors_idx)
{
    hs_errinfo e;
    memset(&e, 0, sizeof(e));
    e.kind = kind;
    e.message = message;
    e.status = r->status;
    e.method = call->method;
    e.url = call->url_redacted;
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

int hs_push_result(lua_State *L, hs_client *c, const hs_resp *r, const hs_call *call, int attempts)
{
    char msg[HS_ERROR_SIZE + 160];
    int top = lua_gettop(L);
    int status_retryable = hs_status_retryable(r->status);
    int reread = call->cls == HS_RETRY_READ || !r->reached;
    hs_kind kind;
    int retryable;

    if (hs_classify_failure(r, reread, c->set.max_body, &kind, &retryable, msg, sizeof(msg)))
        return http_error(L, c, r, call, attempts, kind, msg, retryable, 0);

    if (r->body.len == 0) {
        if (r->status >= 200 && r->status < 300) {
            lua_newtable(L);
            return 1;
        }
        snprintf(msg, sizeof(msg), "HTTP %ld with an empty body", r->status);
        return http_error(L, c, r, call, attempts, HS_K_HTTP, msg, status_retryable, 0);
    }
    if (hs_json_decode(L, r->body.data, r->body.len, c->keep_nulls, r->content_type, msg,
                       sizeof(msg)) != 0) {
        char text[sizeof(msg) + 96];
        int html = r->body.len > 0 && (r->body.data[0] == '<' || strstr(r->content_type, "html"));
        if (r->status >= 200 && r->status < 300) {
            snprintf(text, sizeof(text), "the response is not valid JSON (%s)",
                     html ? "an HTML page" : msg);
            return http_error(L, c, r, call, attempts, HS_K_DECODE, text, 0, 0);
        }
        snprintf(text, sizeof(text), "HTTP %ld%s", r->status,
                 html ? " (an HTML error page, not JSON)" : " (the body is not JSON)");
        return http_error(L, c, r, call, attempts, HS_K_HTTP, text, status_retryable, 0);
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
            http_error(L, c, r, call, attempts, HS_K_API, lua_tostring(L, errs - 1),
                       hs_status_retryable(r->status), errs);
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
            http_error(L, c, r, call, attempts, HS_K_HTTP, text, status_retryable, top + 3);
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
        return http_error(L, c, r, call, attempts, HS_K_HTTP, msg, status_retryable, 0);
    }
    if (lua_isnil(L, -1)) { /* a bare JSON null: success with nothing in it */
        lua_pop(L, 1);
        lua_newtable(L);
    }
    return 1;
}
