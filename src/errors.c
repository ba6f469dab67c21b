/* Error tables: {kind, message, status, errors, field, method, url,
 * retryable, attempts} with a __tostring. Every string that enters one is
 * scrubbed of the client's secrets first. */
#include <lauxlib.h>
#include <string.h>

#include "client.h"
#include "compat.h"

static const char key_error_mt = 'e';

/* Push the client's current secrets (password, client_secret, tokens) as
 * strings; returns how many were pushed. */
/* Keep the string at the top as a secret, and its URL-encoded form too when
 * that differs (a secret sent as a query value shows up encoded in URLs).
 * Returns how many strings it left on the stack. */
static int keep_secret(lua_State *L)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n, i;
    const char *s;
    int changed = 0;
    luaL_Buffer b;
    /* every secret, however short: a 3-byte password echoed by the server
     * is still the password */
    if (lua_type(L, -1) != LUA_TSTRING || hs_rawlen(L, -1) == 0) {
        lua_pop(L, 1);
        return 0;
    }
    s = lua_tolstring(L, -1, &n);
    luaL_buffinit(L, &b); /* a Lua buffer: an error here cannot leak it */
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            luaL_addchar(&b, (char)ch);
        } else {
            luaL_addchar(&b, '%');
            luaL_addchar(&b, hex[ch >> 4]);
            luaL_addchar(&b, hex[ch & 15]);
            changed = 1;
        }
    }
    luaL_pushresult(&b);
    if (changed)
        return 2;
    lua_pop(L, 1);
    return 1;
}

static int keep_token(lua_State *L, int state, const char *field)
{
    int n = 0, tok;
    lua_getfield(L, state, field);
    tok = lua_gettop(L);
    if (lua_istable(L, tok)) {
        lua_getfield(L, tok, "access_token");
        n += keep_secret(L);
        lua_getfield(L, tok, "refresh_token");
        n += keep_secret(L);
    }
    lua_remove(L, tok);
    return n;
}

static int push_secrets(lua_State *L, hs_client *c)
{
    int state, n = 0;
    if (c == NULL || c->state_ref == LUA_NOREF || c->state_ref == LUA_REFNIL)
        return 0;
    luaL_checkstack(L, 20, "hubsoft: scrubbing secrets");
    hs_push_state(L, c);
    state = lua_gettop(L);
    lua_getfield(L, state, "password");
    n += keep_secret(L);
    lua_getfield(L, state, "client_secret");
    n += keep_secret(L);
    n += keep_token(L, state, "token");
    n += keep_token(L, state, "old_token");
    lua_remove(L, state);
    return n;
}

void hs_push_scrubbed(lua_State *L, hs_client *c, const char *s, size_t len)
{
    int n, i, base;
    luaL_Buffer b;
    size_t pos = 0;
    if (s == NULL) {
        lua_pushnil(L);
        return;
    }
    n = push_secrets(L, c);
    if (n == 0) {
        lua_pushlstring(L, s, len);
        return;
    }
    base = lua_gettop(L) - n + 1;
    luaL_buffinit(L, &b);
    while (pos < len) {
        size_t best = len, bestlen = 0;
        for (i = 0; i < n; i++) {
            size_t sl;
            const char *sec = lua_tolstring(L, base + i, &sl);
            const char *hit = NULL;
            size_t k;
            for (k = pos; k + sl <= len; k++)
                if (s[k] == sec[0] && memcmp(s + k, sec, sl) == 0) {
                    hit = s + k;
                    break;
                }
            if (hit != NULL &&
                ((size_t)(hit - s) < best || ((size_t)(hit - s) == best && sl > bestlen))) {
                best = (size_t)(hit - s);
                bestlen = sl;
            }
        }
        luaL_addlstring(&b, s + pos, best - pos);
        if (bestlen == 0)
            break;
        luaL_addstring(&b, "***");
        pos = best + bestlen;
    }
    luaL_pushresult(&b);
    lua_replace(L, base);
    lua_settop(L, base);
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
    set_plain(L, "kind", e->kind);
    set_str(L, c, "message", e->message ? e->message : e->kind);
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

void hs_errors_open(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, err_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "hubsoft.error");
    lua_setfield(L, -2, "__name");
    hs_rawsetp(L, &key_error_mt);
}
