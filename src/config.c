/* hubsoft.new(config): every key checked, unknown keys refused. A bad
 * config is a programming mistake, so it raises (at startup, not mid-call).
 * Messages name the key and the rule, never a value (it may be a secret). */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "compat.h"
#include "transport.h"
#include "urlenc.h"

static const char *const known_keys[] = {
    "base_url", "client_id", "client_secret", "username", "password", "access_token", "token_store",
    "timeout", "connect_timeout", "retries", "verify_tls", "ca_file", "ca_path", "proxy",
    "allow_http", "user_agent", "keep_nulls", "on_request",
    /* beyond the contract, documented in the README */
    "max_response_size", "retry_delay", "retry_max_delay", "compress", NULL};

static char *dup_str(lua_State *L, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p == NULL)
        luaL_error(L, "hubsoft.new: out of memory");
    memcpy(p, s, n);
    return p;
}

/* The string config[key], or NULL when absent. A string is left on the stack
 * (the caller copies it, then pops it): nothing else may hold it. */
static const char *opt_string(lua_State *L, int idx, const char *key)
{
    const char *s;
    lua_getfield(L, idx, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "hubsoft.new: config.%s must be a string (got %s)", key,
                   luaL_typename(L, -1));
    s = lua_tostring(L, -1);
    if (s[0] == '\0')
        luaL_error(L, "hubsoft.new: config.%s must not be empty", key);
    return s; /* left on the stack: a config with __index may have made it up */
}

static int opt_bool(lua_State *L, int idx, const char *key, int dflt)
{
    int v;
    lua_getfield(L, idx, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return dflt;
    }
    if (lua_type(L, -1) != LUA_TBOOLEAN)
        luaL_error(L, "hubsoft.new: config.%s must be a boolean (got %s)", key,
                   luaL_typename(L, -1));
    v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static double opt_number(lua_State *L, int idx, const char *key, double dflt, double lo, double hi)
{
    double v;
    lua_getfield(L, idx, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return dflt;
    }
    if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "hubsoft.new: config.%s must be a number (got %s)", key,
                   luaL_typename(L, -1));
    v = (double)lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(v >= lo && v <= hi)) /* also false for NaN */
        luaL_error(L, "hubsoft.new: config.%s must be between %f and %f", key, lo, hi);
    return v;
}

/* Copy a credential into the state table (at state_idx) as a string. */
static int copy_cred(lua_State *L, int cfg, int state_idx, const char *key, int allow_number)
{
    lua_getfield(L, cfg, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!(lua_type(L, -1) == LUA_TSTRING || (allow_number && lua_type(L, -1) == LUA_TNUMBER)))
        luaL_error(L, "hubsoft.new: config.%s must be a string (got %s)", key,
                   luaL_typename(L, -1));
    if (lua_type(L, -1) == LUA_TNUMBER) {
        lua_Number n = lua_tonumber(L, -1);
        char tmp[32];
        if (!(n == floor(n) && n >= 0 && n <= 9007199254740992.0))
            luaL_error(L,
                       "hubsoft.new: config.%s must be a string or a whole number "
                       "from 0 to 2^53",
                       key);
        lua_pop(L, 1);
        snprintf(tmp, sizeof(tmp), "%.0f", (double)n);
        lua_pushstring(L, tmp);
    }
    if (hs_rawlen(L, -1) == 0)
        luaL_error(L, "hubsoft.new: config.%s must not be empty", key);
    lua_setfield(L, state_idx, key);
    return 1;
}

void hs_config_parse(lua_State *L, int cfg, hs_client *c)
{
    const char *s;
    hs_url url;
    const char *bad;
    size_t len;
    int state, ncreds, allow_http;
    double timeout, ctimeout;

    luaL_checktype(L, cfg, LUA_TTABLE);

    /* unknown keys: a typo must not silently drop a setting */
    lua_pushnil(L);
    while (lua_next(L, cfg) != 0) {
        int i, found = 0;
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "hubsoft.new: config keys must be strings");
        s = lua_tostring(L, -1);
        for (i = 0; known_keys[i] != NULL; i++)
            if (strcmp(s, known_keys[i]) == 0) {
                found = 1;
                break;
            }
        if (!found)
            luaL_error(L, "hubsoft.new: unknown config key '%s'", s);
    }

    /* base_url */
    lua_getfield(L, cfg, "base_url");
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "hubsoft.new: config.base_url is required and must be a string (got %s)",
                   luaL_typename(L, -1));
    s = lua_tolstring(L, -1, &len);
    bad = hs_url_parse(s, len, &url);
    if (bad != NULL)
        luaL_error(L, "hubsoft.new: config.base_url %s", bad);
    allow_http = opt_bool(L, cfg, "allow_http", 0);
    if (!url.https && !url.loopback && !allow_http)
        luaL_error(L, "hubsoft.new: config.base_url uses plain http:// to a host that is not "
                      "loopback; the password and tokens would cross the network in clear "
                      "(use https://, or set allow_http = true)");
    c->base_url = dup_str(L, s);
    while (len > 0 && c->base_url[len - 1] == '/')
        c->base_url[--len] = '\0';
    lua_pop(L, 1);

    /* state table: credentials, token, hooks (secrets stay in Lua memory) */
    lua_newtable(L);
    state = lua_gettop(L);
    ncreds = copy_cred(L, cfg, state, "client_id", 1);
    ncreds += copy_cred(L, cfg, state, "client_secret", 0);
    ncreds += copy_cred(L, cfg, state, "username", 0);
    ncreds += copy_cred(L, cfg, state, "password", 0);
    if (ncreds != 0 && ncreds != 4) {
        static const char *const names[] = {"client_id", "client_secret", "username", "password"};
        int i;
        for (i = 0; i < 4; i++) {
            lua_getfield(L, state, names[i]);
            if (lua_isnil(L, -1))
                luaL_error(L,
                           "hubsoft.new: config.%s is required when any of client_id, "
                           "client_secret, username, password is given",
                           names[i]);
            lua_pop(L, 1);
        }
    }
    c->has_creds = ncreds == 4;

    s = opt_string(L, cfg, "access_token");
    if (s != NULL) {
        if (!hs_header_value_ok(s, hs_rawlen(L, -1)))
            luaL_error(L, "hubsoft.new: config.access_token must not contain control "
                          "characters (CR, LF, NUL...): it goes into a header");
        lua_createtable(L, 0, 2);
        lua_insert(L, -2);
        lua_setfield(L, -2, "access_token");
        lua_pushliteral(L, "Bearer");
        lua_setfield(L, -2, "token_type");
        lua_setfield(L, state, "token");
    }

    lua_getfield(L, cfg, "token_store");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1))
            luaL_error(L,
                       "hubsoft.new: config.token_store must be a table with load and save "
                       "functions (got %s)",
                       luaL_typename(L, -1));
        lua_getfield(L, -1, "load");
        lua_getfield(L, -2, "save");
        if (!lua_isfunction(L, -2) || !lua_isfunction(L, -1))
            luaL_error(L, "hubsoft.new: config.token_store must have functions load() and "
                          "save(token)");
        lua_pop(L, 2);
        lua_setfield(L, state, "store");
    } else {
        lua_pop(L, 1);
    }
    if (!c->has_creds && s == NULL) {
        lua_getfield(L, state, "store");
        if (lua_isnil(L, -1))
            luaL_error(L, "hubsoft.new: config needs client_id, client_secret, username and "
                          "password, or an access_token, or a token_store");
        lua_pop(L, 1);
    }

    lua_getfield(L, cfg, "on_request");
    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
        luaL_error(L, "hubsoft.new: config.on_request must be a function (got %s)",
                   luaL_typename(L, -1));
    lua_setfield(L, state, "on_request");

    c->state_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    timeout = opt_number(L, cfg, "timeout", 30, 0.001, 86400);
    ctimeout = opt_number(L, cfg, "connect_timeout", 10, 0.001, 86400);
    if (ctimeout > timeout)
        ctimeout = timeout; /* the contract: a larger value is capped by timeout */
    c->timeout_ms = (long)ceil(timeout * 1000);
    c->connect_timeout_ms = (long)ceil(ctimeout * 1000);
    {
        double r = opt_number(L, cfg, "retries", 2, 0, 10);
        if (r != floor(r))
            luaL_error(L, "hubsoft.new: config.retries must be a whole number");
        c->retries = (int)r;
    }
    c->verify_tls = opt_bool(L, cfg, "verify_tls", 1);
    c->keep_nulls = opt_bool(L, cfg, "keep_nulls", 0);
    c->compress = opt_bool(L, cfg, "compress", 1);
    c->max_body = (size_t)opt_number(L, cfg, "max_response_size", 64.0 * 1024 * 1024, 1024,
                                     4.0 * 1024 * 1024 * 1024);
    c->retry_delay = opt_number(L, cfg, "retry_delay", 0.25, 0, 60);
    c->retry_max_delay = opt_number(L, cfg, "retry_max_delay", 8, 0, 600);

    if ((s = opt_string(L, cfg, "ca_file")) != NULL) {
        c->ca_file = dup_str(L, s);
        lua_pop(L, 1);
    }
    if ((s = opt_string(L, cfg, "ca_path")) != NULL) {
        c->ca_path = dup_str(L, s);
        lua_pop(L, 1);
    }
    if ((s = opt_string(L, cfg, "proxy")) != NULL) {
        if (strchr(s, '@') != NULL)
            luaL_error(L, "hubsoft.new: config.proxy must not contain credentials");
        c->proxy = dup_str(L, s);
        lua_pop(L, 1);
    }
    if ((s = opt_string(L, cfg, "user_agent")) != NULL) {
        size_t i;
        for (i = 0; s[i]; i++)
            if ((unsigned char)s[i] < 0x20)
                luaL_error(L, "hubsoft.new: config.user_agent must not contain control characters");
        c->user_agent = dup_str(L, s);
        lua_pop(L, 1);
    } else {
        c->user_agent = dup_str(L, "lua-hubsoft/" HUBSOFT_VERSION);
    }
    if (!c->verify_tls)
        fprintf(stderr, "lua-hubsoft: WARNING: verify_tls = false: TLS certificates are not "
                        "checked, anyone on the path can read the password and tokens\n");
}
