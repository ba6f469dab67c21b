#include "json.h"

#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "compat.h"
#include "jsontext.h"

const char hs_key_array_mt = 'a';
const char hs_key_object_mt = 'o';
const char hs_key_cjson = 'c';

/* ------------------------------------------------------------------ encode */

/* The JSON text of the number at idx into tmp; its length, or -1 for NaN
 * and infinities. */
static int format_number(lua_State *L, int idx, char tmp[HS_JSON_NUM_MAX])
{
#if HS_HAVE_INTEGERS
    if (lua_isinteger(L, idx))
        return snprintf(tmp, HS_JSON_NUM_MAX, "%lld", (long long)lua_tointeger(L, idx));
#endif
    return hs_json_format_double((double)lua_tonumber(L, idx), tmp);
}

static int add_number(lua_State *L, int idx, hs_buf *out)
{
    char tmp[HS_JSON_NUM_MAX];
    int n = format_number(L, idx, tmp);
    if (n < 0)
        return 1;
    return hs_buf_add(out, tmp, (size_t)n);
}

/* 1 array, 0 object, -1 unencodable keys */
static int table_kind(lua_State *L, int idx, size_t *n)
{
    size_t count = 0, max = 0;
    if (lua_getmetatable(L, idx)) {
        int kind = -2;
        hs_rawgetp(L, &hs_key_array_mt);
        if (lua_rawequal(L, -1, -2))
            kind = 1;
        lua_pop(L, 1);
        hs_rawgetp(L, &hs_key_object_mt);
        if (lua_rawequal(L, -1, -2))
            kind = 0;
        lua_pop(L, 2);
        if (kind == 1)
            *n = hs_rawlen(L, idx);
        if (kind != -2)
            return kind;
    }
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            lua_Number k = lua_tonumber(L, -1);
            if (k >= 1 && k == floor(k) && k < 4294967296.0) {
                count++;
                if ((size_t)k > max)
                    max = (size_t)k;
                continue;
            }
        }
        lua_pop(L, 1);
        return 0;
    }
    if (count == 0 || count != max)
        return 0; /* empty or sparse: object */
    *n = max;
    return 1;
}

static const char *encode_value(lua_State *L, int idx, hs_buf *out, int depth, char *where,
                                size_t wherelen);

/* Prepend one step ("key" or "[i]") to the path of the failing value. */
static void prepend_where(char *where, size_t wherelen, const char *step, int is_index)
{
    char tmp[256];
    const char *sep = (where[0] == '\0' || where[0] == '[') ? "" : ".";
    if (is_index)
        snprintf(tmp, sizeof(tmp), "[%s]%s%s", step, sep, where);
    else
        snprintf(tmp, sizeof(tmp), "%s%s%s", step, sep, where);
    snprintf(where, wherelen, "%s", tmp);
}

static void set_where_key(lua_State *L, int kidx, char *where, size_t wherelen)
{
    if (lua_type(L, kidx) == LUA_TSTRING) {
        prepend_where(where, wherelen, lua_tostring(L, kidx), 0);
    } else if (lua_type(L, kidx) == LUA_TNUMBER) {
        char num[HS_JSON_NUM_MAX];
        if (format_number(L, kidx, num) < 0)
            snprintf(num, sizeof(num), "nan");
        prepend_where(where, wherelen, num, 1);
    }
}

static const char *encode_table(lua_State *L, int idx, hs_buf *out, int depth, char *where,
                                size_t wherelen)
{
    size_t n = 0, i;
    int kind;
    const char *err;
    if (depth > HS_JSON_MAX_DEPTH)
        return "nested too deeply (or a table contains itself)";
    if (!lua_checkstack(L, 6))
        return "nested too deeply";
    kind = table_kind(L, idx, &n);
    if (kind == 1) {
        if (hs_buf_addc(out, '[') != 0)
            return "out of memory";
        for (i = 1; i <= n; i++) {
            if (i > 1 && hs_buf_addc(out, ',') != 0)
                return "out of memory";
            lua_rawgeti(L, idx, (int)i);
            err = encode_value(L, lua_gettop(L), out, depth + 1, where, wherelen);
            lua_pop(L, 1);
            if (err != NULL) {
                char num[32];
                snprintf(num, sizeof(num), "%zu", i);
                prepend_where(where, wherelen, num, 1);
                return err;
            }
        }
        return hs_buf_addc(out, ']') != 0 ? "out of memory" : NULL;
    }
    if (hs_buf_addc(out, '{') != 0)
        return "out of memory";
    {
        int first = 1;
        lua_pushnil(L);
        while (lua_next(L, idx) != 0) {
            int kt = lua_type(L, -2);
            size_t klen;
            const char *k;
            if (kt == LUA_TNUMBER) {
                /* the text a number value gets: 1e300 is 1e+300, never 301
                 * digits formatted into (and read past) a small buffer */
                char tmp[HS_JSON_NUM_MAX];
                int m = format_number(L, lua_gettop(L) - 1, tmp);
                if (m < 0) {
                    lua_pop(L, 2);
                    return "has a NaN or infinite key";
                }
                lua_pushlstring(L, tmp, (size_t)m);
            } else if (kt == LUA_TSTRING) {
                lua_pushvalue(L, -2);
            } else {
                lua_pop(L, 2);
                return "has a key that is neither a string nor a number";
            }
            k = lua_tolstring(L, -1, &klen);
            if ((!first && hs_buf_addc(out, ',') != 0) || hs_json_add_string(out, k, klen) != 0 ||
                hs_buf_addc(out, ':') != 0) {
                lua_pop(L, 3);
                return "out of memory";
            }
            first = 0;
            err = encode_value(L, lua_gettop(L) - 1, out, depth + 1, where, wherelen);
            if (err != NULL) {
                set_where_key(L, -3, where, wherelen);
                lua_pop(L, 3);
                return err;
            }
            lua_pop(L, 2);
        }
    }
    return hs_buf_addc(out, '}') != 0 ? "out of memory" : NULL;
}

static const char *encode_value(lua_State *L, int idx, hs_buf *out, int depth, char *where,
                                size_t wherelen)
{
    int r;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return hs_buf_adds(out, "null") ? "out of memory" : NULL;
    case LUA_TBOOLEAN:
        return hs_buf_adds(out, lua_toboolean(L, idx) ? "true" : "false") ? "out of memory" : NULL;
    case LUA_TNUMBER:
        r = add_number(L, idx, out);
        return r < 0   ? "out of memory"
               : r > 0 ? "is NaN or infinite (JSON has no such number)"
                       : NULL;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        return hs_json_add_string(out, s, len) ? "out of memory" : NULL;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) /* cjson.null == hubsoft.null */
            return hs_buf_adds(out, "null") ? "out of memory" : NULL;
        return "is a userdata (JSON cannot hold it)";
    case LUA_TTABLE: return encode_table(L, idx, out, depth, where, wherelen);
    default: return "is a function, userdata or thread (JSON cannot hold it)";
    }
}

const char *hs_json_encode(lua_State *L, int idx, hs_buf *out, char *where, size_t wherelen)
{
    if (idx < 0)
        idx = lua_gettop(L) + idx + 1;
    where[0] = '\0';
    return encode_value(L, idx, out, 0, where, wherelen);
}

/* ------------------------------------------------------------------ decode */

static void normalize(lua_State *L, int keep_nulls, int depth);

/* What the value at the top needs: HS_KEEP (leave it; a table is normalized in
 * place), HS_DROP (a null, unless keep_nulls) or HS_INT (a whole float, whose
 * integer is stored in *iv). The value stays on the stack. */
enum { HS_KEEP, HS_DROP, HS_INT };

static inline int fixed_value(lua_State *L, int keep_nulls, int depth, lua_Integer *iv)
{
#if !HS_HAVE_INTEGERS
    (void)iv; /* no integers to make before Lua 5.3 */
#endif
    switch (lua_type(L, -1)) {
    case LUA_TTABLE: normalize(L, keep_nulls, depth + 1); return HS_KEEP;
    case LUA_TLIGHTUSERDATA: /* cjson.null */ return keep_nulls ? HS_KEEP : HS_DROP;
#if HS_HAVE_INTEGERS
    case LUA_TNUMBER:
        if (!lua_isinteger(L, -1)) {
            lua_Number d = lua_tonumber(L, -1);
            if (d == floor(d) && fabs(d) < 9007199254740992.0) {
                *iv = (lua_Integer)d;
                return HS_INT;
            }
        }
        return HS_KEEP;
#endif
    default: return HS_KEEP;
    }
}

/* Drop nulls (unless keep_nulls) and turn whole floats into integers, so
 * ids read 5448 and not 5448.0 on Lua 5.3+. Table at the top of the stack. */
static void normalize(lua_State *L, int keep_nulls, int depth)
{
    size_t n, i;
    lua_Integer iv = 0;
    if (depth > 1000 || !lua_checkstack(L, 4))
        return; /* cjson's own depth limit keeps us far from here */
    n = hs_rawlen(L, -1);
    if (n > 0) {
        /* a JSON array (an object's keys are strings, so its length is 0):
         * walk it by index, cheaper than lua_next */
        for (i = 1; i <= n; i++) {
            int fix;
            lua_rawgeti(L, -1, (int)i);
            fix = fixed_value(L, keep_nulls, depth, &iv);
            lua_pop(L, 1);
            if (fix == HS_DROP) {
                lua_pushnil(L);
                lua_rawseti(L, -2, (int)i);
            } else if (fix == HS_INT) {
                lua_pushinteger(L, iv);
                lua_rawseti(L, -2, (int)i);
            }
        }
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) { /* t key value */
        int fix = fixed_value(L, keep_nulls, depth, &iv);
        if (fix == HS_KEEP) {
            lua_pop(L, 1);
            continue;
        }
        /* changing a field during traversal is allowed */
        lua_pushvalue(L, -2); /* t key value key */
        if (fix == HS_DROP)
            lua_pushnil(L);
        else
            lua_pushinteger(L, iv);
        lua_rawset(L, -5); /* t key value */
        lua_pop(L, 1);
    }
}

static int is_latin1_charset(const char *ct)
{
    const char *cs;
    if (ct == NULL)
        return 0;
    cs = strstr(ct, "charset=");
    if (cs == NULL)
        return 0;
    cs += 8;
    if (*cs == '"')
        cs++;
    return strncasecmp(cs, "iso-8859-1", 10) == 0 || strncasecmp(cs, "latin1", 6) == 0 ||
           strncasecmp(cs, "windows-1252", 12) == 0;
}

static int latin1_to_lua(lua_State *L, const char *s, size_t len)
{
    /* the converted copy lives in a Lua buffer so an error cannot leak it */
    luaL_Buffer b;
    size_t i;
    luaL_buffinit(L, &b);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            luaL_addchar(&b, (char)c);
        } else {
            luaL_addchar(&b, (char)(0xC0 | (c >> 6)));
            luaL_addchar(&b, (char)(0x80 | (c & 0x3F)));
        }
    }
    luaL_pushresult(&b);
    return 1;
}

int hs_json_decode(lua_State *L, const char *s, size_t len, int keep_nulls,
                   const char *content_type, char *msg, size_t msglen)
{
    int top = lua_gettop(L);
    hs_rawgetp(L, &hs_key_cjson);
    lua_getfield(L, -1, "decode");
    lua_remove(L, -2);
    if (is_latin1_charset(content_type) ||
        hs_utf8_valid_prefix((const unsigned char *)s, len) != len)
        latin1_to_lua(L, s, len); /* the vendor sometimes answers in Latin-1 */
    else
        lua_pushlstring(L, s, len);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        const char *e = lua_tostring(L, -1);
        hs_intr_keep(L); /* Ctrl-C while decoding: the script still ends */
        snprintf(msg, msglen, "%s", e ? e : "invalid JSON");
        lua_settop(L, top);
        return -1;
    }
    if (lua_type(L, -1) == LUA_TTABLE)
        normalize(L, keep_nulls, 0);
    else if (lua_type(L, -1) == LUA_TLIGHTUSERDATA && !keep_nulls) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
    return 0;
}

/* ------------------------------------------------------------- Lua entries */

static int mark(lua_State *L, const char *key)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    hs_rawgetp(L, key);
    lua_setmetatable(L, 1);
    return 1;
}

int hs_l_array(lua_State *L)
{
    return mark(L, &hs_key_array_mt);
}

int hs_l_object(lua_State *L)
{
    return mark(L, &hs_key_object_mt);
}

typedef struct boxed_buf {
    hs_buf b;
} boxed_buf;

static int boxed_gc(lua_State *L)
{
    boxed_buf *bb = lua_touserdata(L, 1);
    hs_buf_free(&bb->b);
    return 0;
}

int hs_l_encode(lua_State *L)
{
    boxed_buf *bb;
    char where[128];
    const char *err;
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    /* the buffer is owned by a userdata so any Lua error frees it via __gc */
    bb = lua_newuserdata(L, sizeof(*bb));
    hs_buf_init(&bb->b);
    lua_newtable(L);
    lua_pushcfunction(L, boxed_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    err = hs_json_encode(L, 1, &bb->b, where, sizeof(where));
    if (err != NULL) {
        lua_pushnil(L);
        if (where[0])
            lua_pushfstring(L, "cannot encode %s: value %s", where, err);
        else
            lua_pushfstring(L, "cannot encode value: it %s", err);
        return 2;
    }
    lua_pushlstring(L, bb->b.data ? bb->b.data : "", bb->b.len);
    hs_buf_free(&bb->b);
    return 1;
}

int hs_l_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    int keep = lua_toboolean(L, 2);
    char msg[256];
    if (hs_json_decode(L, s, len, keep, NULL, msg, sizeof(msg)) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, msg);
        return 2;
    }
    return 1;
}

void hs_json_open(lua_State *L)
{
    lua_newtable(L);
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__jsontype");
    hs_rawsetp(L, &hs_key_array_mt);
    lua_newtable(L);
    lua_pushliteral(L, "object");
    lua_setfield(L, -2, "__jsontype");
    hs_rawsetp(L, &hs_key_object_mt);

    /* a private cjson instance: our settings never touch the user's cjson */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "new");
    if (lua_isfunction(L, -1)) {
        lua_call(L, 0, 1);
        lua_remove(L, -2);
    } else {
        lua_pop(L, 1);
    }
    /* the same depth both ways, so whatever we decode we can send back */
    lua_getfield(L, -1, "decode_max_depth");
    if (lua_isfunction(L, -1)) {
        lua_pushinteger(L, HS_JSON_MAX_DEPTH);
        lua_call(L, 1, 0);
    } else {
        lua_pop(L, 1);
    }
    /* NaN, Infinity and hex numbers are not JSON */
    lua_getfield(L, -1, "decode_invalid_numbers");
    if (lua_isfunction(L, -1)) {
        lua_pushboolean(L, 0);
        lua_call(L, 1, 0);
    } else {
        lua_pop(L, 1);
    }
    hs_rawsetp(L, &hs_key_cjson);
}
