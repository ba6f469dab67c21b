/* The token lifecycle's Lua side (binding): the token_store's load and save,
 * the login's answer (decoded by cjson), and token tables for Lua. The rules
 * (margin, expiry, what may go into a header, the header lists) are in
 * token.c; the login itself is a call through the pipeline (call.c). */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "compat.h"
#include "json.h"

/* The string at idx into *dst (not a string: none). 0, -1 when `checked`
 * and it cannot go into a header, -2 when out of memory. */
static int copy_string(lua_State *L, int idx, char **dst, int checked)
{
    size_t n;
    const char *v;
    if (lua_type(L, idx) != LUA_TSTRING)
        return 0;
    v = lua_tolstring(L, idx, &n);
    if (checked && n > 0 && !hs_header_value_ok(v, n))
        return -1;
    return hs_token_set(dst, v, n) != 0 ? -2 : 0;
}

/* Copy the token table at idx into t (cleared first). 0, or -1 when it holds
 * CR/LF or another control character in access_token or token_type. Every
 * field is read first (an __index of a token_store's table may run, or
 * raise, while nothing is allocated yet), then copied. */
static int token_from_lua(lua_State *L, int idx, hs_token *t)
{
    static const char *const keys[] = {"access_token", "token_type", "refresh_token", "expires_in",
                                       "expires_at"};
    int base, k, rc = 0;
    hs_token_clear(t);
    if (!lua_istable(L, idx))
        return 0;
    base = lua_gettop(L);
    for (k = 0; k < 5; k++)
        lua_getfield(L, idx, keys[k]);
    rc = copy_string(L, base + 1, &t->access_token, 1);
    if (rc == 0)
        rc = copy_string(L, base + 2, &t->token_type, 1);
    if (rc == 0)
        rc = copy_string(L, base + 3, &t->refresh_token, 0);
    t->has_expires_in = lua_type(L, base + 4) == LUA_TNUMBER;
    t->expires_in = t->has_expires_in ? (double)lua_tonumber(L, base + 4) : 0;
    t->has_expires_at = lua_type(L, base + 5) == LUA_TNUMBER;
    t->expires_at = t->has_expires_at ? (double)lua_tonumber(L, base + 5) : 0;
    lua_settop(L, base);
    if (rc != 0)
        hs_token_clear(t);
    if (rc == -2)
        luaL_error(L, "hubsoft: out of memory");
    return rc;
}

static void push_number(lua_State *L, double v)
{
    if (v == (double)(long long)v)
        hs_pushint(L, (long long)v);
    else
        lua_pushnumber(L, v);
}

/* Push t as {access_token, token_type, expires_in, expires_at, refresh_token}. */
static void push_token(lua_State *L, const hs_token *t)
{
    lua_createtable(L, 0, 5);
    if (t->access_token) {
        lua_pushstring(L, t->access_token);
        lua_setfield(L, -2, "access_token");
    }
    if (t->token_type) {
        lua_pushstring(L, t->token_type);
        lua_setfield(L, -2, "token_type");
    }
    if (t->has_expires_in) {
        push_number(L, t->expires_in);
        lua_setfield(L, -2, "expires_in");
    }
    if (t->has_expires_at) {
        push_number(L, t->expires_at);
        lua_setfield(L, -2, "expires_at");
    }
    if (t->refresh_token) {
        lua_pushstring(L, t->refresh_token);
        lua_setfield(L, -2, "refresh_token");
    }
}

/* Make t the client's token (t is emptied) and build its header lists. */
static int adopt(lua_State *L, hs_client *c, hs_token *t)
{
    hs_token_move(&c->token, t);
    hs_secrets_refresh(L, c);
    return hs_token_headers(c->token.token_type, c->token.access_token, &c->hdr_plain,
                            &c->hdr_json);
}

static void drop_token(lua_State *L, hs_client *c)
{
    hs_token_clear(&c->token);
    hs_headers_free(c->hdr_plain);
    hs_headers_free(c->hdr_json);
    c->hdr_plain = c->hdr_json = NULL;
    hs_secrets_refresh(L, c);
}

void hs_auth_forget(lua_State *L, hs_client *c)
{
    /* the rejected token stays a secret: a later answer may still echo it */
    hs_token_move(&c->old_token, &c->token);
    drop_token(L, c);
}

static void warn_store(lua_State *L, hs_client *c, const char *what)
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

/* token_store.load(): adopt its token when usable. 1 when it did. */
static int store_load(lua_State *L, hs_client *c)
{
    int found = 0, rc, top = lua_gettop(L);
    hs_token t;
    if (!c->has_store)
        return 0;
    memset(&t, 0, sizeof(t));
    hs_push_state(L, c);
    lua_getfield(L, -1, "store");
    lua_getfield(L, -1, "load");
    rc = lua_pcall(L, 0, 1, 0); /* calling this client back: an error (reentry) */
    if (rc != 0) {
        if (!hs_intr_keep(L)) /* Ctrl-C inside the store is not the store's failure */
            warn_store(L, c, "load");
    } else if (token_from_lua(L, lua_gettop(L), &t) == 0 && !c->closed &&
               hs_token_usable(&t, (long long)time(NULL))) {
        /* (reading the returned table may run its __index: the client is
         * checked after it) */
        found = adopt(L, c, &t) == 0;
    }
    hs_token_clear(&t);
    lua_settop(L, top);
    return found;
}

/* token_store.save(copy of the token). It returns true, or nil and a
 * message, or raises; a failure is reported once per client on stderr
 * (scrubbed: never the token) and the call's result is kept. A save that
 * returns nothing is a plain function that succeeded. */
static void store_save(lua_State *L, hs_client *c)
{
    int rc, top = lua_gettop(L);
    if (!c->has_store)
        return;
    hs_push_state(L, c);
    lua_getfield(L, -1, "store");
    lua_getfield(L, -1, "save");
    push_token(L, &c->token);
    rc = lua_pcall(L, 1, 2, 0);
    if (rc != 0 && hs_intr_keep(L)) { /* Ctrl-C inside the store is not the store's failure */
        lua_settop(L, top);
        return;
    }
    if (rc != 0) {
        if (lua_isnil(L, -1)) { /* error(nil) */
            lua_pop(L, 1);
            lua_pushliteral(L, "(no message)");
        }
        lua_pushnil(L); /* the same two slots as a result: nil, message */
        lua_insert(L, -2);
    }
    if (!lua_toboolean(L, -2) && !lua_isnil(L, -1) && !c->save_warned && !c->closed) {
        c->save_warned = 1;
        warn_store(L, c, "save");
    }
    lua_settop(L, top);
}

static int login_error(lua_State *L, hs_client *c, hs_kind kind, const char *msg, long status,
                       int attempts)
{
    hs_errinfo e;
    memset(&e, 0, sizeof(e));
    e.kind = kind;
    e.message = msg;
    e.status = status;
    e.method = "POST";
    e.url = c->login_url.data;
    e.attempts = attempts;
    return hs_push_error(L, c, &e);
}

/* {"grant_type":"password","client_id":...} into c->login_body (wiped after). */
static int login_body(hs_client *c)
{
    static const char *const keys[] = {"client_id", "client_secret", "username", "password"};
    const char *const vals[] = {c->client_id, c->client_secret, c->username, c->password};
    int i;
    hs_buf *b = &c->login_body;
    hs_buf_clear(b);
    if (hs_buf_adds(b, "{\"grant_type\":\"password\"") != 0)
        return -1;
    for (i = 0; i < 4; i++)
        if (hs_buf_addc(b, ',') != 0 || hs_json_add_string(b, keys[i], strlen(keys[i])) != 0 ||
            hs_buf_addc(b, ':') != 0 || hs_json_add_string(b, vals[i], strlen(vals[i])) != 0)
            return -1;
    return hs_buf_addc(b, '}');
}

/* Why the server refused the credentials, scrubbed (pushed), or NULL. */
static const char *refusal_reason(lua_State *L, hs_client *c, const hs_resp *r)
{
    char msg[256];
    const char *why = NULL;
    if (hs_json_decode(L, r->body.data ? r->body.data : "", r->body.len, 0, r->content_type, msg,
                       sizeof(msg)) == 0 &&
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
    return why;
}

static int login(lua_State *L, hs_client *c, const char *for_method, const char *for_url)
{
    int attempts = 0, rc, top = lua_gettop(L);
    hs_call call;
    hs_exchange x;
    hs_resp *r = &c->resp;
    char msg[256];

    if (!c->has_creds) /* nothing was sent: the error is the caller's request's */
        return hs_push_simple_error(L, c, HS_K_AUTH,
                                    "no usable token and no credentials to log in (client_id, "
                                    "client_secret, username, password)",
                                    for_method, for_url);
    if (login_body(c) != 0 ||
        (c->hdr_login == NULL && (c->hdr_login = hs_login_headers()) == NULL)) {
        hs_buf_wipe(&c->login_body);
        return luaL_error(L, "hubsoft: out of memory");
    }
    memset(&call, 0, sizeof(call));
    call.method = "POST";
    call.cls = HS_RETRY_READ; /* a repeated login is harmless: at worst one more token */
    call.url = call.url_redacted = c->login_url.data;
    call.headers = c->hdr_login;
    call.body = c->login_body.data;
    call.body_len = c->login_body.len;
    hs_exchange_begin(&x, &c->set, &call, &c->policy, c->conn, r, 1, 0, hs_intr_check, &c->intr);
    rc = hs_run_exchange(L, c, &x, "POST", c->login_url.data, NULL, &attempts);
    if (!c->closed)
        hs_buf_wipe(&c->login_body);
    if (rc == HS_INTERRUPTED)
        return hs_push_interrupted(L, c, "POST");
    if (rc != 0)
        return hs_push_closed(L, c, "POST");

    if (r->result == HS_T_OK && r->status >= 200 && r->status < 300) {
        hs_token t;
        memset(&t, 0, sizeof(t));
        if (hs_json_decode(L, r->body.data ? r->body.data : "", r->body.len, 0, r->content_type,
                           msg, sizeof(msg)) != 0 ||
            !lua_istable(L, -1)) {
            lua_settop(L, top);
            return login_error(L, c, HS_K_DECODE, "the login answer is not the JSON expected",
                               r->status, attempts);
        }
        if (token_from_lua(L, lua_gettop(L), &t) != 0) {
            lua_settop(L, top);
            return login_error(L, c, HS_K_AUTH,
                               "the login answer holds an access_token or token_type with "
                               "control characters (CR, LF...): refused, it would inject headers",
                               r->status, attempts);
        }
        lua_settop(L, top);
        if (t.access_token == NULL || t.access_token[0] == '\0') {
            hs_token_clear(&t);
            return login_error(L, c, HS_K_AUTH, "the login answer holds no access_token", r->status,
                               attempts);
        }
        if (t.token_type == NULL && hs_token_set(&t.token_type, "Bearer", 6) != 0) {
            hs_token_clear(&t);
            return luaL_error(L, "hubsoft: out of memory");
        }
        if (t.has_expires_in) {
            t.has_expires_at = 1;
            t.expires_at = (double)hs_token_expires_at(t.expires_in, (long long)time(NULL));
        }
        if (adopt(L, c, &t) != 0) {
            hs_token_clear(&t);
            return luaL_error(L, "hubsoft: out of memory");
        }
        store_save(L, c);
        return 0;
    }
    if (r->result == HS_T_OK && (r->status == 400 || r->status == 401 || r->status == 403)) {
        char text[320];
        const char *why = refusal_reason(L, c, r);
        snprintf(text, sizeof(text), "login refused: %s",
                 why ? why : "the credentials were refused");
        lua_settop(L, top);
        return login_error(L, c, HS_K_AUTH, text, r->status, attempts);
    }
    /* transport failures and other statuses: the generic mapping */
    return hs_push_result(L, c, r, &call, attempts);
}

int hs_auth_newer_from_store(lua_State *L, hs_client *c)
{
    int newer;
    if (!store_load(L, c))
        return 0;
    newer = c->old_token.access_token == NULL ||
            strcmp(c->old_token.access_token, c->token.access_token) != 0;
    if (!newer) /* the store still holds the token just rejected */
        drop_token(L, c);
    return newer;
}

int hs_auth_ensure(lua_State *L, hs_client *c, int force_login, const char *for_method,
                   const char *for_url)
{
    int rc;
    if (!force_login) {
        if (hs_token_usable(&c->token, (long long)time(NULL))) {
            if (c->hdr_plain == NULL && hs_token_headers(c->token.token_type, c->token.access_token,
                                                         &c->hdr_plain, &c->hdr_json) != 0)
                return luaL_error(L, "hubsoft: out of memory");
            return 0;
        }
        if (store_load(L, c))
            return 0;
        if (c->closed)
            return hs_push_closed(L, c, for_method);
    }
    rc = login(L, c, for_method, for_url);
    if (rc == 0 && c->closed)
        return hs_push_closed(L, c, "POST");
    return rc;
}

/* api:authenticate() -> token table (a copy), or nil, err. Logs in now,
 * even when a token is held: it is the explicit way to get a fresh one. */
static int authenticate_body(lua_State *L)
{
    hs_client *c = hs_check_client(L, 1);
    int rc;
    if (c->closed)
        return hs_push_closed(L, c, "POST");
    hs_client_busy(L, c);
    rc = hs_auth_ensure(L, c, 1, "POST", NULL);
    if (rc != 0)
        return rc;
    push_token(L, &c->token);
    return 1;
}

int hs_l_authenticate(lua_State *L)
{
    hs_client *c = hs_check_client(L, 1);
    lua_settop(L, 1);
    return hs_client_guard(L, c, authenticate_body);
}
