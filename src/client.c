/* The client userdata: creation, the method table, and one idempotent
 * cleanup shared by close, __gc and __close. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "compat.h"

hs_client *hs_check_client(lua_State *L, int idx)
{
    return (hs_client *)luaL_checkudata(L, idx, HS_CLIENT_MT);
}

void hs_push_state(lua_State *L, hs_client *c)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->state_ref);
}

static void free_str(char **p)
{
    free(*p);
    *p = NULL;
}

/* Frees everything: __gc, or close once no call uses the client. */
static void release(hs_client *c)
{
    c->closed = 1;
    if (c->released)
        return;
    c->released = 1;
    hs_conn_free(c->conn);
    c->conn = NULL;
    c->closed = 1;
    hs_headers_free(c->hdr_plain);
    hs_headers_free(c->hdr_json);
    hs_headers_free(c->hdr_login);
    c->hdr_plain = c->hdr_json = c->hdr_login = NULL;
    hs_buf_free(&c->url);
    hs_buf_free(&c->url_redacted);
    hs_buf_wipe(&c->body);
    hs_buf_free(&c->body);
    hs_buf_free(&c->login_url);
    hs_buf_wipe(&c->login_body); /* held the password */
    hs_buf_free(&c->login_body);
    hs_buf_wipe(&c->scrub);
    hs_buf_free(&c->scrub);
    hs_resp_free(&c->resp);
    free(c->parts);
    c->parts = NULL;
    c->nparts = 0;
    free_str(&c->base_url);
    free_str(&c->user_agent);
    free_str(&c->ca_file);
    free_str(&c->ca_path);
    free_str(&c->proxy);
    hs_token_set(&c->client_id, NULL, 0); /* wipes */
    hs_token_set(&c->client_secret, NULL, 0);
    hs_token_set(&c->username, NULL, 0);
    hs_token_set(&c->password, NULL, 0);
    hs_token_clear(&c->token);
    hs_token_clear(&c->old_token);
    hs_secrets_clear(&c->secrets);
}

/* close and __close: safe to call any number of times, and from anywhere:
 * mid-call it is deferred (see hs_client_guard). */
static void request_close(hs_client *c)
{
    c->closed = 1;
    if (c->depth == 0)
        release(c);
}

/* The slot exists (luaL_ref at creation) and holds a value: rawseti
 * overwrites it in place, with no allocation. */
static void client_enter(lua_State *L, hs_client *c, int self)
{
    if (c->depth++ == 0 && c->state_ref != LUA_NOREF) {
        hs_getuservalue(L, self);
        lua_rawseti(L, LUA_REGISTRYINDEX, c->state_ref);
    }
}

static void client_leave(lua_State *L, hs_client *c)
{
    if (--c->depth != 0)
        return;
    if (c->state_ref != LUA_NOREF) { /* the registry no longer holds the hook or store */
        lua_pushboolean(L, 0);
        lua_rawseti(L, LUA_REGISTRYINDEX, c->state_ref);
    }
    if (c->closed)
        release(c);
}

void hs_client_busy(lua_State *L, hs_client *c)
{
    if (c->busy)
        luaL_error(L, "hubsoft: a client cannot be used from its own hook or token_store (or a "
                      "finalizer that ran during one of its calls)");
    c->busy = 1;
}

int hs_client_pcall(lua_State *L, hs_client *c, int self, int nargs, lua_CFunction body)
{
    int base = lua_gettop(L) - nargs + 1, rc, busy;
    lua_pushcfunction(L, body); /* may run the collector: before the count */
    lua_insert(L, base);
    if (c == NULL)
        return lua_pcall(L, nargs, LUA_MULTRET, 0);
    busy = c->busy;
    client_enter(L, c, self >= base ? self + 1 : self); /* moved up by body */
    rc = lua_pcall(L, nargs, LUA_MULTRET, 0);
    c->busy = busy;
    client_leave(L, c);
    return rc;
}

int hs_client_guard(lua_State *L, hs_client *c, lua_CFunction body)
{
    if (hs_client_pcall(L, c, 1, lua_gettop(L), body) != 0)
        return lua_error(L);
    return lua_gettop(L);
}

static int l_close(lua_State *L)
{
    request_close(hs_check_client(L, 1));
    lua_pushboolean(L, 1);
    return 1;
}

/* The client is unreachable, so no call is using it. */
static int l_gc(lua_State *L)
{
    hs_client *c = hs_check_client(L, 1);
    release(c);
    if (c->state_ref != LUA_NOREF) {
        luaL_unref(L, LUA_REGISTRYINDEX, c->state_ref);
        c->state_ref = LUA_NOREF;
    }
    return 0;
}

static int l_toclose(lua_State *L)
{
    request_close(hs_check_client(L, 1));
    return 0;
}

static int l_tostring(lua_State *L)
{
    hs_client *c = hs_check_client(L, 1);
    if (c->closed)
        lua_pushfstring(L, "hubsoft.client (closed): %p", (void *)c);
    else
        lua_pushfstring(L, "hubsoft.client (%s): %p", c->base_url, (void *)c);
    return 1;
}

static int l_is_closed(lua_State *L)
{
    lua_pushboolean(L, hs_check_client(L, 1)->closed);
    return 1;
}

/* core.new(config) */
static int l_new(lua_State *L)
{
    hs_client *c;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    c = lua_newuserdata(L, sizeof(*c));
    memset(c, 0, sizeof(*c));
    c->state_ref = LUA_NOREF;
    hs_buf_init(&c->url);
    hs_buf_init(&c->url_redacted);
    hs_buf_init(&c->body);
    hs_buf_init(&c->login_url);
    hs_buf_init(&c->login_body);
    hs_buf_init(&c->scrub);
    hs_secrets_init(&c->secrets);
    hs_resp_init(&c->resp);
    c->closed = 1; /* until fully built: a half-made client is never used */
    luaL_getmetatable(L, HS_CLIENT_MT);
    lua_setmetatable(L, -2); /* from here __gc frees whatever config parsing allocated */
    lua_pushboolean(L, 0);
    c->state_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    hs_config_parse(L, 1, 2, c);
    c->conn = hs_conn_new();
    if (c->conn == NULL)
        return luaL_error(L, "hubsoft.new: could not create a libcurl handle");
    c->closed = 0;
    return 1;
}

static const luaL_Reg methods[] = {
    {"close", l_close},
    {"is_closed", l_is_closed},
    {NULL, NULL},
};

void hs_client_open(lua_State *L)
{
    /* module table at the top; hubsoft.c adds the methods of the files above */
    luaL_newmetatable(L, HS_CLIENT_MT);
    lua_newtable(L);
    hs_setfuncs(L, methods);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "methods"); /* core.methods: the Lua layer adds endpoints */
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_toclose);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "hubsoft.client");
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_new);
    lua_setfield(L, -2, "new");
}
