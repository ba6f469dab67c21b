/* OAuth password-grant login and the token's lifecycle: lazy login, expiry,
 * token_store load/save, and the Authorization header built once per token. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "compat.h"
#include "json.h"

/* A token is used until this many seconds before it expires. */
#define HS_EXPIRY_MARGIN 60
/* A longer lifetime than this (ten years) is taken as this. */
#define HS_EXPIRES_IN_MAX 315360000.0

static void free_lists(hs_client *c)
{
    hs_headers_free(c->hdr_plain);
    hs_headers_free(c->hdr_json);
    c->hdr_plain = c->hdr_json = NULL;
}

static hs_headers *append(hs_headers *l, const char *h, int *ok)
{
    if (hs_headers_add(&l, h) != 0)
        *ok = 0;
    return l;
}

int hs_headers_rebuild(hs_client *c, const char *token_type, const char *access_token)
{
    hs_buf auth;
    int ok = 1;
    free_lists(c);
    if (c->hdr_login == NULL) {
        c->hdr_login = append(NULL, "Accept: application/json", &ok);
        c->hdr_login = append(c->hdr_login, "Content-Type: application/json", &ok);
        c->hdr_login = append(c->hdr_login, "Expect:", &ok);
    }
    if (access_token == NULL)
        return ok ? 0 : -1;
    /* the last guard against header injection: callers refuse such tokens
     * with a clear error before this */
    token_type = token_type && token_type[0] ? token_type : "Bearer";
    if (!hs_header_value_ok(access_token, strlen(access_token)) ||
        !hs_header_value_ok(token_type, strlen(token_type)))
        return -1;
    hs_buf_init(&auth);
    if (hs_buf_adds(&auth, "Authorization: ") != 0 || hs_buf_adds(&auth, token_type) != 0 ||
        hs_buf_addc(&auth, ' ') != 0 || hs_buf_adds(&auth, access_token) != 0 ||
        hs_buf_cstr(&auth) != 0) {
        hs_buf_free(&auth);
        return -1;
    }
    c->hdr_plain = append(NULL, "Accept: application/json", &ok);
    c->hdr_plain = append(c->hdr_plain, auth.data, &ok);
    c->hdr_plain = append(c->hdr_plain, "Expect:", &ok);
    c->hdr_json = append(NULL, "Accept: application/json", &ok);
    c->hdr_json = append(c->hdr_json, auth.data, &ok);
    c->hdr_json = append(c->hdr_json, "Expect:", &ok);
    c->hdr_json = append(c->hdr_json, "Content-Type: application/json", &ok);
    hs_buf_wipe(&auth);
    hs_buf_free(&auth);
    if (!ok)
        free_lists(c);
    return ok ? 0 : -1;
}

void hs_auth_forget(lua_State *L, hs_client *c)
{
    free_lists(c);
    hs_push_state(L, c);
    /* the rejected token stays a secret: a later answer may still echo it */
    lua_getfield(L, -1, "token");
    lua_setfield(L, -2, "old_token");
    lua_pushnil(L);
    lua_setfield(L, -2, "token");
    lua_pop(L, 1);
}

/* Can the value at idx go into the Authorization header? A string without
 * control characters (CR/LF would inject a header); nil or "" too when
 * optional (the type then defaults to Bearer). */
static int header_safe(lua_State *L, int idx, int optional)
{
    size_t n;
    const char *v;
    if (optional &&
        (lua_isnil(L, idx) || (lua_type(L, idx) == LUA_TSTRING && hs_rawlen(L, idx) == 0)))
        return 1;
    if (lua_type(L, idx) != LUA_TSTRING)
        return 0;
    v = lua_tolstring(L, idx, &n);
    return hs_header_value_ok(v, n);
}

/* Is the table at idx a usable token? (From the config, the token_store or
 * a login: one with CR/LF in it is never used.) */
static int token_usable(lua_State *L, int idx)
{
    int ok;
    if (!lua_istable(L, idx))
        return 0;
    lua_getfield(L, idx, "access_token");
    lua_getfield(L, idx, "token_type");
    ok = header_safe(L, -2, 0) && header_safe(L, -1, 1);
    lua_pop(L, 2);
    if (!ok)
        return 0;
    lua_getfield(L, idx, "expires_at");
    if (lua_type(L, -1) == LUA_TNUMBER)
        ok = (double)lua_tonumber(L, -1) > (double)time(NULL) + HS_EXPIRY_MARGIN;
    lua_pop(L, 1);
    return ok;
}

/* Adopt the token at the top of the stack (popped): state.token = it. */
static int adopt(lua_State *L, hs_client *c)
{
    const char *type, *tok;
    int rc;
    hs_push_state(L, c);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "token");
    lua_pop(L, 1);
    lua_getfield(L, -1, "token_type");
    lua_getfield(L, -2, "access_token");
    type = lua_tostring(L, -2);
    tok = lua_tostring(L, -1);
    rc = hs_headers_rebuild(c, type, tok);
    lua_pop(L, 3);
    return rc;
}

static void warn_hook(lua_State *L, hs_client *c, const char *what)
{
    size_t n;
    const char *m = lua_tolstring(L, -1, &n);
    hs_push_scrubbed(L, c, m ? m : "(non-string error)", m ? n : 18);
    fprintf(stderr, "lua-hubsoft: token_store.%s failed: %s%s\n", what, lua_tostring(L, -1),
            strcmp(what, "save") == 0
                ? " (the token is kept in memory only; reported once per client)"
                : "");
    lua_pop(L, 2);
}

/* Copy the fields of a token table at idx into a fresh table (push it). */
static void copy_token(lua_State *L, int idx)
{
    static const char *const f[] = {"access_token", "token_type",    "expires_in",
                                    "expires_at",   "refresh_token", NULL};
    int i;
    lua_createtable(L, 0, 5);
    for (i = 0; f[i] != NULL; i++) {
        lua_getfield(L, idx, f[i]);
        lua_setfield(L, -2, f[i]);
    }
}

static int store_load(lua_State *L, hs_client *c)
{
    int found = 0, rc;
    hs_push_state(L, c);
    lua_getfield(L, -1, "store");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 2);
        return 0;
    }
    lua_getfield(L, -1, "load");
    c->busy = 1; /* a store that calls back into this client gets an error */
    rc = lua_pcall(L, 0, 1, 0);
    c->busy = 0;
    if (rc != 0) {
        warn_hook(L, c, "load");
    } else {
        if (token_usable(L, -1)) {
            copy_token(L, lua_gettop(L));
            found = adopt(L, c) == 0;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    return found;
}

/* save(token) returns true, or nil and a message, or raises. A failure is
 * reported once per client on stderr (scrubbed: never the token) and does
 * not change the call's result: the token stays usable in memory. */
static void store_save(lua_State *L, hs_client *c)
{
    int rc;
    hs_push_state(L, c);
    lua_getfield(L, -1, "store");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "save");
        lua_getfield(L, -3, "token");
        copy_token(L, lua_gettop(L)); /* the store gets a copy, not our table */
        lua_remove(L, -2);
        c->busy = 1; /* save(token): a plain function, as the contract says */
        rc = lua_pcall(L, 1, 2, 0);
        c->busy = 0;
        if (rc != 0) {
            if (lua_isnil(L, -1)) { /* error(nil) */
                lua_pop(L, 1);
                lua_pushliteral(L, "(no message)");
            }
            lua_pushnil(L); /* the same two slots as a result: nil, message */
            lua_insert(L, -2);
        }
        /* failed: raised, or returned nil/false and a message (a save that
         * returns nothing at all is a plain function that succeeded) */
        if (!lua_toboolean(L, -2) && !lua_isnil(L, -1) && !c->save_warned) {
            c->save_warned = 1;
            warn_hook(L, c, "save");
            lua_pushnil(L); /* warn_hook popped the message */
        }
        lua_pop(L, 2);
    }
    lua_pop(L, 2);
}

static int login_error(lua_State *L, hs_client *c, const char *kind, const char *msg, long status,
                       int attempts, int retryable)
{
    hs_errinfo e;
    memset(&e, 0, sizeof(e));
    e.kind = kind;
    e.message = msg;
    e.status = status;
    e.method = "POST";
    e.url = c->url_redacted.data;
    e.attempts = attempts;
    e.retryable = retryable;
    return hs_push_error(L, c, &e);
}

static int login(lua_State *L, hs_client *c, const char *for_method)
{
    static const char *const f[] = {"client_id", "client_secret", "username", "password", NULL};
    char where[64];
    const char *bad;
    int i, attempts = 0, top = lua_gettop(L);
    hs_call call;

    if (!c->has_creds) { /* nothing was sent: the error is the caller's request's */
        hs_errinfo e;
        memset(&e, 0, sizeof(e));
        e.kind = "auth";
        e.message = "no usable token and no credentials to log in (client_id, client_secret, "
                    "username, password)";
        e.method = for_method;
        e.url = c->url_redacted.len ? c->url_redacted.data : NULL;
        return hs_push_error(L, c, &e);
    }
    c->logins++;
    hs_buf_clear(&c->url);
    hs_buf_clear(&c->url_redacted);
    if (hs_buf_adds(&c->url, c->base_url) != 0 || hs_buf_adds(&c->url, "/oauth/token") != 0 ||
        hs_buf_cstr(&c->url) != 0 || hs_buf_add(&c->url_redacted, c->url.data, c->url.len) != 0 ||
        hs_buf_cstr(&c->url_redacted) != 0)
        return luaL_error(L, "hubsoft: out of memory");
    /* body: {"grant_type":"password", ...}; wiped after use */
    lua_createtable(L, 0, 5);
    lua_pushliteral(L, "password");
    lua_setfield(L, -2, "grant_type");
    hs_push_state(L, c);
    for (i = 0; f[i] != NULL; i++) {
        lua_getfield(L, -1, f[i]);
        lua_setfield(L, -3, f[i]);
    }
    lua_pop(L, 1);
    hs_buf_clear(&c->body);
    bad = hs_json_encode(L, -1, &c->body, where, sizeof(where));
    lua_settop(L, top);
    if (bad != NULL) {
        hs_buf_wipe(&c->body);
        return luaL_error(L, "hubsoft: cannot encode the login body");
    }
    if (c->hdr_login == NULL && hs_headers_rebuild(c, NULL, NULL) != 0)
        return luaL_error(L, "hubsoft: out of memory");

    memset(&call, 0, sizeof(call));
    call.method = "POST";
    call.idempotent = 1; /* a repeated login is harmless: at worst one more token */
    call.headers = c->hdr_login;
    call.body = c->body.data;
    call.body_len = c->body.len;
    i = hs_exchange(L, c, &call, &attempts);
    hs_buf_wipe(&c->body);
    if (i == HS_INTERRUPTED)
        return hs_push_interrupted(L, c, "POST");
    if (i != 0)
        return hs_push_closed(L, c, "POST");

    if (c->resp.result == HS_T_OK && c->resp.status >= 200 && c->resp.status < 300) {
        char msg[256];
        if (hs_json_decode(L, c->resp.body.data ? c->resp.body.data : "", c->resp.body.len, 0,
                           c->resp.content_type, msg, sizeof(msg)) != 0 ||
            !lua_istable(L, -1)) {
            lua_settop(L, top);
            return login_error(L, c, "decode", "the login answer is not the JSON expected",
                               c->resp.status, attempts, 0);
        }
        lua_getfield(L, -1, "access_token");
        if (lua_type(L, -1) != LUA_TSTRING || hs_rawlen(L, -1) == 0) {
            lua_settop(L, top);
            return login_error(L, c, "auth", "the login answer holds no access_token",
                               c->resp.status, attempts, 0);
        }
        lua_getfield(L, -2, "token_type");
        if (!header_safe(L, -2, 0) || (lua_type(L, -1) == LUA_TSTRING && !header_safe(L, -1, 1))) {
            lua_settop(L, top);
            return login_error(L, c, "auth",
                               "the login answer holds an access_token or token_type with "
                               "control characters (CR, LF...): refused, it would inject headers",
                               c->resp.status, attempts, 0);
        }
        lua_pop(L, 2);
        /* token table: {access_token, token_type, expires_in, expires_at, refresh_token} */
        copy_token(L, lua_gettop(L));
        lua_getfield(L, -1, "token_type");
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pushliteral(L, "Bearer");
            lua_setfield(L, -3, "token_type");
        }
        lua_pop(L, 1);
        lua_getfield(L, -1, "expires_in");
        if (lua_type(L, -1) == LUA_TNUMBER) {
            /* clamped before any conversion: 1e300 or 2^63 would overflow
             * (undefined), and a negative or NaN one means "already expired" */
            double in = (double)lua_tonumber(L, -1);
            if (!(in > 0))
                in = 0;
            else if (in > HS_EXPIRES_IN_MAX)
                in = HS_EXPIRES_IN_MAX;
            hs_pushint(L, (long long)time(NULL) + (long long)in);
            lua_setfield(L, -3, "expires_at");
        }
        lua_pop(L, 1);
        if (adopt(L, c) != 0) {
            lua_settop(L, top);
            return luaL_error(L, "hubsoft: out of memory");
        }
        lua_settop(L, top);
        store_save(L, c);
        return 0;
    }
    if (c->resp.result == HS_T_OK &&
        (c->resp.status == 400 || c->resp.status == 401 || c->resp.status == 403)) {
        char msg[256], text[320];
        const char *why = "the credentials were refused";
        if (hs_json_decode(L, c->resp.body.data ? c->resp.body.data : "", c->resp.body.len, 0,
                           c->resp.content_type, msg, sizeof(msg)) == 0 &&
            lua_istable(L, -1)) {
            lua_getfield(L, -1, "error_description");
            if (lua_type(L, -1) != LUA_TSTRING) {
                lua_pop(L, 1);
                lua_getfield(L, -1, "message");
            }
            if (lua_type(L, -1) == LUA_TSTRING) {
                /* scrub before the cut below, so no prefix of a secret survives */
                size_t wl;
                const char *w = lua_tolstring(L, -1, &wl);
                hs_push_scrubbed(L, c, w, wl);
                why = lua_tostring(L, -1);
            }
        }
        snprintf(text, sizeof(text), "login refused: %s", why);
        lua_settop(L, top);
        return login_error(L, c, "auth", text, c->resp.status, attempts, 0);
    }
    /* transport failures and other statuses: the generic mapping */
    call.idempotent = 1;
    return hs_push_result(L, c, &call, attempts);
}

int hs_auth_newer_from_store(lua_State *L, hs_client *c)
{
    int newer = 0;
    if (!store_load(L, c))
        return 0;
    hs_push_state(L, c);
    lua_getfield(L, -1, "token");
    lua_getfield(L, -1, "access_token");
    lua_getfield(L, -3, "old_token");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "access_token");
        newer = !lua_rawequal(L, -1, -3);
        lua_pop(L, 1);
    } else {
        newer = 1;
    }
    lua_pop(L, 4);
    if (!newer) { /* the store still holds the token just rejected */
        free_lists(c);
        hs_push_state(L, c);
        lua_pushnil(L);
        lua_setfield(L, -2, "token");
        lua_pop(L, 1);
    }
    return newer;
}

int hs_auth_ensure(lua_State *L, hs_client *c, int force_login, const char *for_method)
{
    int rc;
    if (!force_login) {
        hs_push_state(L, c);
        lua_getfield(L, -1, "token");
        if (token_usable(L, -1)) {
            if (c->hdr_plain == NULL) {
                rc = adopt(L, c); /* pops the token */
                lua_pop(L, 1);
                if (rc != 0)
                    return luaL_error(L, "hubsoft: out of memory");
            } else {
                lua_pop(L, 2);
            }
            return 0;
        }
        lua_pop(L, 2);
        if (store_load(L, c))
            return 0;
        if (c->closed)
            return hs_push_closed(L, c, "POST");
    }
    rc = login(L, c, for_method);
    if (rc == 0 && c->closed)
        return hs_push_closed(L, c, "POST");
    return rc;
}

/* api:authenticate() -> token table (a copy), or nil, err. Logs in now,
 * even when a token is held: it is the explicit way to get a fresh one. */
int hs_l_authenticate(lua_State *L)
{
    hs_client *c = hs_check_client(L, 1);
    int rc;
    if (c->closed)
        return hs_push_closed(L, c, "POST");
    if (c->busy)
        return luaL_error(L, "hubsoft: a client cannot be used from its own hook or token_store");
    hs_buf_clear(&c->url_redacted);
    rc = hs_auth_ensure(L, c, 1, "POST");
    if (rc != 0)
        return rc;
    hs_push_state(L, c);
    lua_getfield(L, -1, "token");
    copy_token(L, lua_gettop(L));
    return 1;
}
