/* core.new(config): the config parser (config.c) and client lifecycle
 * (client.c) through the real Lua binding. Errors are expected; crashes,
 * sanitizer reports and secrets in the error message are not.
 *
 * Input: up to 24 records  <key byte> <type byte> <payload>
 *   key byte  % 24: one of the 22 real keys, 22 a fuzzed unknown key
 *             ([len%16, bytes], '-' replaced), 23 the integer key 1
 *   type byte % 8: 0 fuzzed string [len, bytes]; 1 integer (8 bytes);
 *             2 double (8 raw bytes: NaN, inf, ...); 3 boolean; 4 a plausible
 *             string for the key [index byte]; 5 a small number [u16];
 *             6 a token_store-like table [variant byte]; 7 a function
 * Secret keys (password, client_secret, access_token) given a string get
 * "PW-"/"CS-"/"AT-" .. hex(bytes) .. "-Z", which the error message must not hold.
 * HUBSOFT_FUZZ_DEBUG=1 prints what core.new said for each input. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_lua.h"

int luaopen_hubsoft_core(lua_State *L);

static lua_State *L;
static int new_ref;
static unsigned long runs;

static const char *const keys[] = {
    "base_url",     "client_id",         "client_secret",   "username",        "password",
    "access_token", "timeout",           "connect_timeout", "retries",         "verify_tls",
    "ca_file",      "ca_path",           "proxy",           "allow_http",      "user_agent",
    "keep_nulls",   "max_response_size", "retry_delay",     "retry_max_delay", "compress",
    "token_store",  "on_request"};
#define NKEYS ((int)(sizeof(keys) / sizeof(keys[0])))

static const char *const urls[] = {"https://api.example.com",
                                   "https://api.example.com/",
                                   "https://api.example.com:8443/v1/",
                                   "http://127.0.0.1:8080",
                                   "http://localhost",
                                   "http://[::1]:9000/api",
                                   "http://example.com",
                                   "https://[2001:db8::1]",
                                   "https://x@example.com",
                                   "https://h/p?q=1",
                                   "ftp://h",
                                   "https://",
                                   "http://127.0.0.1:0",
                                   "https://h:65536",
                                   "https://h/../x",
                                   "https://h/a%zz",
                                   "HTTPS://EXAMPLE.COM:443/API",
                                   "http://127.1.2.3/",
                                   "https://h:/",
                                   "https://[::1"};

static const char *const strs[] = {"",
                                   "x",
                                   "client-1",
                                   "secret",
                                   "joao@example.com",
                                   "/etc/ssl/certs/ca-certificates.crt",
                                   "/etc/ssl/certs",
                                   "http://proxy:3128",
                                   "http://u:p@proxy:3128",
                                   "lua-hubsoft-test/1.0",
                                   "agent\twith tab",
                                   "agent\nnewline",
                                   "socks5h://127.0.0.1:1080",
                                   "\xc3\xa7\xc3\xa3o"};

static int open_core(lua_State *l)
{
    luaL_requiref(l, "hubsoft.core", luaopen_hubsoft_core, 0);
    lua_getfield(l, -1, "new");
    return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    L = hs_fuzz_new_state();
    lua_pushcfunction(L, open_core);
    if (lua_pcall(L, 0, 1, 0) != 0 || !lua_isfunction(L, -1))
        hs_fuzz_fail("luaopen_hubsoft_core: %s", lua_tostring(L, -1));
    new_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    /* helpers for the token_store / on_request values */
    if (luaL_dostring(L, "return function() return nil end") != 0)
        abort();
    lua_setglobal(L, "fuzz_fn");
    lua_settop(L, 0);
    return 0;
}

static uint64_t rd_u64(hs_reader *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | hs_rd_u8(r);
    return v;
}

/* "PW-" .. hex(bytes) .. "-Z" */
static void push_secret(const char *tag, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, tag);
    for (size_t i = 0; i < n; i++) {
        luaL_addchar(&b, hex[p[i] >> 4]);
        luaL_addchar(&b, hex[p[i] & 15]);
    }
    luaL_addstring(&b, "-Z");
    luaL_pushresult(&b);
}

static const char *secret_tag(const char *key)
{
    if (key == NULL)
        return NULL;
    if (strcmp(key, "password") == 0)
        return "PW-";
    if (strcmp(key, "client_secret") == 0)
        return "CS-";
    if (strcmp(key, "access_token") == 0)
        return "AT-";
    return NULL;
}

/* Push the value for `key` (NULL for an unknown key). */
static void push_value(hs_reader *r, const char *key)
{
    uint8_t t = hs_rd_u8(r);
    const char *tag = secret_tag(key);
    size_t got;
    const uint8_t *p;
    uint64_t u;
    double d;
    switch (t % 8) {
    case 0:
        p = hs_rd_bytes(r, hs_rd_u8(r), &got);
        if (tag != NULL)
            push_secret(tag, p, got);
        else
            lua_pushlstring(L, (const char *)p, got);
        break;
    case 1: lua_pushinteger(L, (lua_Integer)rd_u64(r)); break;
    case 2:
        u = rd_u64(r);
        memcpy(&d, &u, sizeof(d));
        lua_pushnumber(L, (lua_Number)d);
        break;
    case 3: lua_pushboolean(L, (t >> 3) & 1); break;
    case 4: {
        uint8_t i = hs_rd_u8(r);
        if (tag != NULL) {
            p = hs_rd_bytes(r, 4, &got);
            push_secret(tag, p, got);
        } else if (key != NULL && strcmp(key, "base_url") == 0) {
            lua_pushstring(L, urls[i % (sizeof(urls) / sizeof(urls[0]))]);
        } else {
            lua_pushstring(L, strs[i % (sizeof(strs) / sizeof(strs[0]))]);
        }
        break;
    }
    case 5: {
        uint16_t v = hs_rd_u16(r);
        if (v & 1)
            lua_pushinteger(L, v >> 1);
        else
            lua_pushnumber(L, (lua_Number)(v >> 1) / 100.0);
        break;
    }
    case 6: {
        uint8_t v = hs_rd_u8(r);
        lua_createtable(L, 0, 2);
        if (v & 1) {
            lua_getglobal(L, "fuzz_fn");
            lua_setfield(L, -2, "load");
        }
        if (v & 2) {
            lua_getglobal(L, "fuzz_fn");
            lua_setfield(L, -2, "save");
        }
        if (v & 4) {
            lua_pushliteral(L, "not a function");
            lua_setfield(L, -2, "save");
        }
        break;
    }
    default: lua_getglobal(L, "fuzz_fn");
    }
}

/* Does any string value in the config other than `skip` contain `s`? */
static int other_value_contains(int cfg, const char *skip, const char *s)
{
    int found = 0;
    lua_pushnil(L);
    while (lua_next(L, cfg) != 0) {
        if (lua_type(L, -1) == LUA_TSTRING &&
            !(lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), skip) == 0)) {
            size_t n;
            const char *v = lua_tolstring(L, -1, &n);
            if (n >= strlen(s) && strstr(v, s) != NULL)
                found = 1;
        }
        lua_pop(L, 1);
    }
    return found;
}

static int call_method(int obj, const char *name)
{
    int ok;
    lua_getfield(L, obj, name);
    lua_pushvalue(L, obj);
    if (lua_pcall(L, 1, 1, 0) != 0)
        hs_fuzz_fail("client:%s() raised: %s", name, lua_tostring(L, -1));
    ok = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hs_reader r = {data, size};
    int cfg, nrec = 0;

    lua_settop(L, 0);
    lua_newtable(L);
    cfg = lua_gettop(L);
    while (r.n > 0 && nrec++ < 24) {
        int k = hs_rd_u8(&r) % (NKEYS + 2);
        if (k < NKEYS) {
            push_value(&r, keys[k]);
            lua_setfield(L, cfg, keys[k]);
        } else if (k == NKEYS) {
            size_t got;
            const uint8_t *p = hs_rd_bytes(&r, hs_rd_u8(&r) % 16, &got);
            char name[17];
            memcpy(name, p, got);
            name[got] = '\0';
            for (size_t i = 0; i < got; i++)
                if (name[i] == '-')
                    name[i] = '_'; /* so it can never spell a PW-... secret */
            lua_pushlstring(L, name, got);
            push_value(&r, NULL);
            lua_rawset(L, cfg);
        } else {
            lua_pushinteger(L, 1);
            push_value(&r, NULL);
            lua_rawset(L, cfg);
        }
    }

    lua_rawgeti(L, LUA_REGISTRYINDEX, new_ref);
    lua_pushvalue(L, cfg);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        static const char *const secret_keys[] = {"password", "client_secret", "access_token"};
        const char *msg = lua_tostring(L, -1);
        int m = lua_gettop(L);
        if (getenv("HUBSOFT_FUZZ_DEBUG") != NULL)
            fprintf(stderr, "core.new: %s\n", msg ? msg : "(not a string)");
        if (msg == NULL)
            hs_fuzz_fail("core.new raised a non-string error (%s)", luaL_typename(L, -1));
        if (strncmp(msg, "hubsoft.new: ", 13) != 0 && strstr(msg, "hubsoft") == NULL)
            hs_fuzz_fail("core.new raised an unexpected error: %s", msg);
        for (int i = 0; i < 3; i++) {
            const char *sec;
            size_t n;
            lua_getfield(L, cfg, secret_keys[i]);
            sec = lua_tolstring(L, -1, &n);
            if (lua_type(L, -1) == LUA_TSTRING && n >= 6 && strlen(sec) == n &&
                strstr(lua_tostring(L, m), sec) != NULL &&
                !other_value_contains(cfg, secret_keys[i], sec))
                hs_fuzz_fail("core.new error message holds config.%s: %s", secret_keys[i],
                             lua_tostring(L, m));
            lua_pop(L, 1);
        }
    } else {
        int c = lua_gettop(L);
        if (getenv("HUBSOFT_FUZZ_DEBUG") != NULL)
            fprintf(stderr, "core.new: ok\n");
        if (lua_type(L, c) != LUA_TUSERDATA)
            hs_fuzz_fail("core.new returned a %s", luaL_typename(L, c));
        if (call_method(c, "is_closed"))
            hs_fuzz_fail("a new client says it is closed");
        if (!call_method(c, "close"))
            hs_fuzz_fail("client:close() did not return true");
        if (!call_method(c, "is_closed"))
            hs_fuzz_fail("a closed client says it is open");
        call_method(c, "close"); /* idempotent */
    }
    lua_settop(L, 0);
    if (++runs % 64 == 0)
        lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
