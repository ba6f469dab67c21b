/* Error tables: {kind, message, status, errors, field, method, url,
 * retryable, attempts} with a __tostring. Every string that enters one is
 * scrubbed of the client's secrets first. */
#include <lauxlib.h>
#include <string.h>

#include "client.h"
#include "compat.h"

static const char key_error_mt = 'e';

/* Keep the string at the top of the stack as a secret (popped). */
static void add_secret_str(lua_State *L, hs_client *c, const char *s)
{
    if (s != NULL && hs_secrets_add(&c->secrets, s, strlen(s)) != 0)
        luaL_error(L, "hubsoft: out of memory");
}

void hs_secrets_refresh(lua_State *L, hs_client *c)
{
    hs_secrets_clear(&c->secrets);
    add_secret_str(L, c, c->password);
    add_secret_str(L, c, c->client_secret);
    add_secret_str(L, c, c->token.access_token);
    add_secret_str(L, c, c->token.refresh_token);
    add_secret_str(L, c, c->old_token.access_token);
    add_secret_str(L, c, c->old_token.refresh_token);
}

void hs_push_scrubbed(lua_State *L, hs_client *c, const char *s, size_t len)
{
    if (s == NULL) {
        lua_pushnil(L);
        return;
    }
    if (c == NULL || c->secrets.n == 0) {
        lua_pushlstring(L, s, len);
        return;
    }
    hs_buf_clear(&c->scrub);
    if (hs_scrub(&c->secrets, s, len, &c->scrub) != 0) {
        hs_buf_wipe(&c->scrub);
        luaL_error(L, "hubsoft: out of memory");
    }
    lua_pushlstring(L, c->scrub.data ? c->scrub.data : "", c->scrub.len);
}

/* Our own words (kind, method): never a secret, not scrubbed, so
 * a short password cannot garble them. */
static void set_plain(lua_State *L, const char *k, const char *v)
{
    if (v == NULL)
        return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, hs_client *c, const char *k, const char *v)
{
    if (v == NULL)
        return;
    hs_push_scrubbed(L, c, v, strlen(v));
    lua_setfield(L, -2, k);
}

/* Push a copy of the value at idx with every string scrubbed; tables are
 * copied (to a bounded depth) so nothing the server sent reaches the caller
 * unscrubbed by reference. */
static void push_scrubbed_copy(lua_State *L, hs_client *c, int idx, int depth)
{
    if (idx < 0)
        idx = lua_gettop(L) + idx + 1;
    luaL_checkstack(L, 6, "hubsoft: copying an error");
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        hs_push_scrubbed(L, c, s, n);
    } else if (lua_istable(L, idx)) {
        lua_newtable(L);
        if (depth >= 8)
            return;
        lua_pushnil(L);
        while (lua_next(L, idx) != 0) {
            push_scrubbed_copy(L, c, -2, depth + 1); /* key */
            push_scrubbed_copy(L, c, -2, depth + 1); /* value */
            lua_rawset(L, -5);
            lua_pop(L, 1);
        }
    } else {
        lua_pushvalue(L, idx);
    }
}

int hs_push_error(lua_State *L, hs_client *c, const hs_errinfo *e)
{
    int errors_idx = e->errors_idx;
    if (errors_idx < 0)
        errors_idx = lua_gettop(L) + errors_idx + 1;
    lua_pushnil(L);
    lua_createtable(L, 0, 10);
    set_plain(L, "kind", hs_kind_name(e->kind));
    set_str(L, c, "message", e->message ? e->message : hs_kind_name(e->kind));
    if (e->status > 0) {
        hs_pushint(L, e->status);
        lua_setfield(L, -2, "status");
    }
    set_plain(L, "method", e->method);
    set_str(L, c, "url", e->url);
    set_str(L, c, "field", e->field); /* may be a query key the caller wrote */
    lua_pushboolean(L, e->retryable);
    lua_setfield(L, -2, "retryable");
    hs_pushint(L, e->attempts);
    lua_setfield(L, -2, "attempts");
    if (errors_idx > 0 && lua_istable(L, errors_idx)) {
        push_scrubbed_copy(L, c, errors_idx, 0);
        lua_setfield(L, -2, "errors");
    }
    hs_rawgetp(L, &key_error_mt);
    lua_setmetatable(L, -2);
    return 2;
}

int hs_push_simple_error(lua_State *L, hs_client *c, hs_kind kind, const char *message,
                         const char *method, const char *url)
{
    hs_errinfo e;
    memset(&e, 0, sizeof(e));
    e.kind = kind;
    e.message = message;
    e.method = method;
    e.url = url;
    return hs_push_error(L, c, &e);
}

int hs_push_closed(lua_State *L, hs_client *c, const char *method)
{
    return hs_push_simple_error(L, c, HS_K_CLOSED, "the client was closed", method, NULL);
}

int hs_push_interrupted(lua_State *L, hs_client *c, const char *method)
{
    return hs_push_simple_error(L, c, HS_K_NETWORK, "interrupted", method,
                                c != NULL && c->url_redacted.len ? c->url_redacted.data : NULL);
}

static int err_tostring(lua_State *L)
{
    /* every value is fetched into its own stack slot first: nothing may be
     * pushed or popped while the luaL_Buffer is open */
    const char *kind, *message, *status, *method, *url;
    luaL_Buffer b;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_getfield(L, 1, "kind");    /* 2 */
    lua_getfield(L, 1, "message"); /* 3 */
    lua_getfield(L, 1, "status");  /* 4 */
    lua_getfield(L, 1, "method");  /* 5 */
    lua_getfield(L, 1, "url");     /* 6 */
    kind = lua_tostring(L, 2);
    message = lua_tostring(L, 3);
    status = lua_tostring(L, 4); /* converts a number in its own slot: fine */
    method = lua_tostring(L, 5);
    url = lua_tostring(L, 6);
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "hubsoft ");
    luaL_addstring(&b, kind ? kind : "unknown");
    luaL_addstring(&b, " error: ");
    luaL_addstring(&b, message ? message : "(no message)");
    if (status != NULL || method != NULL) {
        luaL_addstring(&b, " (");
        if (status != NULL) {
            luaL_addstring(&b, "HTTP ");
            luaL_addstring(&b, status);
            if (method != NULL)
                luaL_addstring(&b, ", ");
        }
        if (method != NULL) {
            luaL_addstring(&b, method);
            if (url != NULL) {
                luaL_addchar(&b, ' ');
                luaL_addstring(&b, url);
            }
        }
        luaL_addchar(&b, ')');
    }
    luaL_pushresult(&b);
    return 1;
}

/* core.error(t): give t the error metatable (used by the Lua layer for
 * validation errors) and fill the fields every error has. */
int hs_l_error(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_getfield(L, 1, "kind");
    if (lua_isnil(L, -1)) {
        lua_pushliteral(L, "validation");
        lua_setfield(L, 1, "kind");
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "retryable");
    if (lua_isnil(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, 1, "retryable");
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "attempts");
    if (lua_isnil(L, -1)) {
        hs_pushint(L, 0);
        lua_setfield(L, 1, "attempts");
    }
    lua_pop(L, 1);
    hs_rawgetp(L, &key_error_mt);
    lua_setmetatable(L, 1);
    return 1;
}

int hs_l_is_error(lua_State *L)
{
    int yes = 0;
    if (lua_istable(L, 1) && lua_getmetatable(L, 1)) {
        hs_rawgetp(L, &key_error_mt);
        yes = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    lua_pushboolean(L, yes);
    return 1;
}

/* core.scrub's secrets and output, owned by a userdata so that a Lua error
 * (out of memory) frees them through __gc. */
typedef struct scrub_box {
    hs_secrets sec;
    hs_buf out;
} scrub_box;

static void scrub_box_free(scrub_box *b)
{
    hs_secrets_clear(&b->sec);
    hs_buf_wipe(&b->out);
    hs_buf_free(&b->out);
}

static int scrub_box_gc(lua_State *L)
{
    scrub_box_free(lua_touserdata(L, 1));
    return 0;
}

/* core.scrub(s, secrets): s with every secret of the list (strings; other
 * values and empty strings are skipped) hidden as the client hides its own,
 * for the layers that keep secrets in Lua (hubsoft.nginx). */
int hs_l_scrub(lua_State *L)
{
    size_t len, n, i;
    const char *s = luaL_checklstring(L, 1, &len);
    scrub_box *b;
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    b = lua_newuserdata(L, sizeof(*b));
    hs_secrets_init(&b->sec);
    hs_buf_init(&b->out);
    lua_newtable(L);
    lua_pushcfunction(L, scrub_box_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    n = hs_rawlen(L, 2);
    for (i = 1; i <= n; i++) {
        size_t sl;
        const char *x;
        lua_rawgeti(L, 2, (int)i);
        x = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &sl) : NULL;
        if (x != NULL && sl > 0 && hs_secrets_add(&b->sec, x, sl) != 0)
            return luaL_error(L, "hubsoft: out of memory");
        lua_pop(L, 1);
    }
    if (hs_scrub(&b->sec, s, len, &b->out) != 0)
        return luaL_error(L, "hubsoft: out of memory");
    lua_pushlstring(L, b->out.data ? b->out.data : "", b->out.len);
    scrub_box_free(b); /* wiped now, not whenever the collector runs */
    return 1;
}

void hs_errors_open(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, err_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "hubsoft.error");
    lua_setfield(L, -2, "__name");
    hs_rawsetp(L, &key_error_mt);
}
