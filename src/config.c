/* hubsoft.new(config): every key checked, unknown keys refused. A bad
 * config is a programming mistake, so it raises (at startup, not mid-call).
 * Messages name the key and the rule, never a value (it may be a secret). */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* C keeps these strings up to their first NUL: one inside would cut the
 * value the user gave (a password sent short, a CA file path cut) without a
 * word. Raises naming the key. */
static void check_no_nul(lua_State *L, const char *key, const char *s, size_t n)
{
    if (memchr(s, '\0', n) != NULL)
        luaL_error(L, "hubsoft.new: config.%s must not contain a NUL byte", key);
}

/* The string config[key], or NULL when absent. A string is left on the stack
 * (the caller copies it, then pops it): nothing else may hold it. */
static const char *opt_string(lua_State *L, int idx, const char *key)
{
    const char *s;
    size_t n;
    lua_getfield(L, idx, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "hubsoft.new: config.%s must be a string (got %s)", key,
                   luaL_typename(L, -1));
    s = lua_tolstring(L, -1, &n);
    if (n == 0)
        luaL_error(L, "hubsoft.new: config.%s must not be empty", key);
    check_no_nul(L, key, s, n);
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

/* Copy a credential into *dst (C memory, wiped when the client is freed). */
static int copy_cred(lua_State *L, int cfg, char **dst, const char *key, int allow_number)
{
    size_t n;
    const char *v;
    lua_getfield(L, cfg, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!(lua_type(L, -1) == LUA_TSTRING || (allow_number && lua_type(L, -1) == LUA_TNUMBER)))
        luaL_error(L, "hubsoft.new: config.%s must be a string (got %s)", key,
                   luaL_typename(L, -1));
    if (lua_type(L, -1) == LUA_TNUMBER) {
        lua_Number num = lua_tonumber(L, -1);
        char tmp[32];
        if (!(num == floor(num) && num >= 0 && num <= 9007199254740992.0))
            luaL_error(L,
                       "hubsoft.new: config.%s must be a string or a whole number "
                       "from 0 to 2^53",
                       key);
        lua_pop(L, 1);
        snprintf(tmp, sizeof(tmp), "%.0f", (double)num);
        lua_pushstring(L, tmp);
    }
    v = lua_tolstring(L, -1, &n);
    if (n == 0)
        luaL_error(L, "hubsoft.new: config.%s must not be empty", key);
    check_no_nul(L, key, v, n);
    if (hs_token_set(dst, v, n) != 0)
        luaL_error(L, "hubsoft.new: out of memory");
    lua_pop(L, 1);
    return 1;
}

void hs_config_parse(lua_State *L, int cfg, int self, hs_client *c)
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
        s = lua_tolstring(L, -1, &len);
        if (strlen(s) != len)
            luaL_error(L, "hubsoft.new: unknown config key '%s' followed by a NUL byte", s);
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

    /* credentials and the token in C memory; the state table holds only
     * what stays Lua (the token_store and on_request functions) */
    lua_newtable(L);
    state = lua_gettop(L);
    ncreds = copy_cred(L, cfg, &c->client_id, "client_id", 1);
    ncreds += copy_cred(L, cfg, &c->client_secret, "client_secret", 0);
    ncreds += copy_cred(L, cfg, &c->username, "username", 0);
    ncreds += copy_cred(L, cfg, &c->password, "password", 0);
    if (ncreds != 0 && ncreds != 4) {
        static const char *const names[] = {"client_id", "client_secret", "username", "password"};
        const char *const have[] = {c->client_id, c->client_secret, c->username, c->password};
        int i;
        for (i = 0; i < 4; i++)
            if (have[i] == NULL)
                luaL_error(L,
                           "hubsoft.new: config.%s is required when any of client_id, "
                           "client_secret, username, password is given",
                           names[i]);
    }
    c->has_creds = ncreds == 4;

    s = opt_string(L, cfg, "access_token");
    if (s != NULL) {
        size_t tl = hs_rawlen(L, -1);
        if (!hs_token_sendable(s, tl, NULL, 0))
            luaL_error(L, "hubsoft.new: config.access_token must not contain control "
                          "characters (CR, LF, NUL...): it goes into a header");
        if (hs_token_set(&c->token.access_token, s, tl) != 0 ||
            hs_token_set(&c->token.token_type, "Bearer", 6) != 0)
            luaL_error(L, "hubsoft.new: out of memory");
        lua_pop(L, 1);
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
        c->has_store = 1;
    } else {
        lua_pop(L, 1);
    }
    if (!c->has_creds && s == NULL && !c->has_store)
        luaL_error(L, "hubsoft.new: config needs client_id, client_secret, username and "
                      "password, or an access_token, or a token_store");

    lua_getfield(L, cfg, "on_request");
    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
        luaL_error(L, "hubsoft.new: config.on_request must be a function (got %s)",
                   luaL_typename(L, -1));
    lua_setfield(L, state, "on_request");

    /* the client's user value, not a registry ref: a hook or store that refers
     * to its own client then makes a cycle the collector can free */
    hs_setuservalue(L, self);

    timeout = opt_number(L, cfg, "timeout", 30, 0.001, 86400);
    ctimeout = opt_number(L, cfg, "connect_timeout", 10, 0.001, 86400);
    if (ctimeout > timeout)
        ctimeout = timeout; /* the contract: a larger value is capped by timeout */
    c->set.timeout_ms = (long)ceil(timeout * 1000);
    c->set.connect_timeout_ms = (long)ceil(ctimeout * 1000);
    {
        double r = opt_number(L, cfg, "retries", 2, 0, 10), delay, max_delay;
        if (r != floor(r))
            luaL_error(L, "hubsoft.new: config.retries must be a whole number");
        delay = opt_number(L, cfg, "retry_delay", 0.25, 0, 60);
        max_delay = opt_number(L, cfg, "retry_max_delay", 8, 0, 600);
        hs_retry_init(&c->policy, (int)r, delay, max_delay,
                      (unsigned long long)time(NULL) ^ (unsigned long long)(size_t)c ^
                          0x9E3779B97F4A7C15ULL);
    }
    c->set.verify_tls = opt_bool(L, cfg, "verify_tls", 1);
    c->keep_nulls = opt_bool(L, cfg, "keep_nulls", 0);
    c->set.compress = opt_bool(L, cfg, "compress", 1);
    c->set.max_body = (size_t)opt_number(L, cfg, "max_response_size", 64.0 * 1024 * 1024, 1024,
                                         4.0 * 1024 * 1024 * 1024);

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
    c->set.user_agent = c->user_agent;
    c->set.ca_file = c->ca_file;
    c->set.ca_path = c->ca_path;
    c->set.proxy = c->proxy;
    /* the login's URL, built once: a login never touches a request's buffers */
    if (hs_buf_adds(&c->login_url, c->base_url) != 0 ||
        hs_buf_adds(&c->login_url, "/oauth/token") != 0 || hs_buf_cstr(&c->login_url) != 0)
        luaL_error(L, "hubsoft.new: out of memory");
    hs_secrets_refresh(L, c);
    if (!c->set.verify_tls)
        fprintf(stderr, "lua-hubsoft: WARNING: verify_tls = false: TLS certificates are not "
                        "checked, anyone on the path can read the password and tokens\n");
}
