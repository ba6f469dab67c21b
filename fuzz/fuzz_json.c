/* The JSON layer: hs_json_decode (lua-cjson + Latin-1 fallback + null/number
 * normalisation), the encoder hs_json_encode (round trip), and the plain-C
 * helpers hs_utf8_valid_prefix / hs_latin1_to_utf8 against a reference.
 *
 * Input: byte 0 = flags (1 keep_nulls, 2 Content-Type with charset=iso-8859-1,
 * 4 also through the Lua entry points core.encode/core.decode, 8 also with
 * tables marked core.array/core.object), the rest is the response body. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "fuzz_common.h"
#include "fuzz_lua.h"
#include "json.h"

static lua_State *L;
static unsigned long runs;

static int open_json(lua_State *l)
{
    hs_json_open(l);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    L = hs_fuzz_new_state();
    lua_pushcfunction(L, open_json);
    if (lua_pcall(L, 0, 0, 0) != 0)
        hs_fuzz_fail("hs_json_open: %s (is lua-cjson at %s?)", lua_tostring(L, -1),
                     HS_FUZZ_LUA_CPATH);
    lua_settop(L, 0);
    return 0;
}

/* ------------------------------------------------------------ UTF-8 helpers */

/* RFC 3629 by the table in its section 4, written independently of json.c. */
static size_t ref_utf8_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        unsigned char lo = 0x80, hi = 0xBF;
        size_t need, k;
        if (c <= 0x7F) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c == 0xE0) {
            need = 2, lo = 0xA0;
        } else if (c == 0xED) {
            need = 2, hi = 0x9F;
        } else if (c >= 0xE1 && c <= 0xEF) {
            need = 2;
        } else if (c == 0xF0) {
            need = 3, lo = 0x90;
        } else if (c == 0xF4) {
            need = 3, hi = 0x8F;
        } else if (c >= 0xF1 && c <= 0xF3) {
            need = 3;
        } else {
            return i;
        }
        if (n - i <= need)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return i;
        i += need + 1;
    }
    return n;
}

static void check_utf8(const unsigned char *s, size_t n)
{
    size_t got = hs_utf8_valid_prefix(s, n), want = ref_utf8_prefix(s, n), hi = 0, i;
    hs_buf out;
    if (got != want)
        hs_fuzz_fail("hs_utf8_valid_prefix: %zu, reference says %zu", got, want);

    for (i = 0; i < n; i++)
        hi += s[i] >= 0x80;
    hs_buf_init(&out);
    if (hs_buf_adds(&out, "<") != 0 || hs_latin1_to_utf8(&out, s, n) != 0)
        hs_fuzz_fail("hs_latin1_to_utf8: failed");
    if (out.len != 1 + n + hi)
        hs_fuzz_fail("hs_latin1_to_utf8: %zu bytes out of %zu (%zu high)", out.len, n, hi);
    if (hs_utf8_valid_prefix((const unsigned char *)out.data, out.len) != out.len ||
        ref_utf8_prefix((const unsigned char *)out.data, out.len) != out.len)
        hs_fuzz_fail("hs_latin1_to_utf8: output is not valid UTF-8");
    /* it decodes back to the Latin-1 input */
    {
        size_t j = 1;
        for (i = 0; i < n; i++) {
            unsigned char c = (unsigned char)out.data[j];
            unsigned int cp = c;
            if (c >= 0x80) {
                cp = ((c & 0x1Fu) << 6) | ((unsigned char)out.data[j + 1] & 0x3Fu);
                j++;
            }
            j++;
            if (cp != s[i])
                hs_fuzz_fail("hs_latin1_to_utf8: byte %zu does not round trip", i);
        }
    }
    if (out.len > 0 && out.len + 1 > out.cap)
        hs_fuzz_fail("hs_latin1_to_utf8: no room left for a NUL (len %zu cap %zu)", out.len,
                     out.cap);
    hs_buf_free(&out);
}

/* ------------------------------------------------------------- JSON values */

typedef struct shape {
    int depth;     /* tables nested (0: not a table) */
    int nonfinite; /* holds NaN or +-inf (cjson accepts them) */
} shape;

static void measure(int idx, int level, shape *sh)
{
    int t = lua_type(L, idx);
    if (t == LUA_TNUMBER) {
        double d = (double)lua_tonumber(L, idx);
        if (isnan(d) || isinf(d))
            sh->nonfinite = 1;
        return;
    }
    if (t != LUA_TTABLE)
        return;
    if (level > sh->depth)
        sh->depth = level;
    if (level > 400 || !lua_checkstack(L, 4))
        hs_fuzz_fail("decoded value nested %d deep", level);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        measure(lua_gettop(L), level + 1, sh);
        lua_pop(L, 1);
    }
}

/* Deep equality, numbers by value and by subtype (integer/float). */
static int same(int a, int b, int level)
{
    int t = lua_type(L, a);
    if (t != lua_type(L, b))
        return 0;
    switch (t) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, a) != lua_isinteger(L, b))
            return 0;
        if (lua_rawequal(L, a, b))
            return 1;
        return isnan((double)lua_tonumber(L, a)) && isnan((double)lua_tonumber(L, b));
    case LUA_TTABLE: {
        size_t na = 0, nb = 0;
        if (!lua_checkstack(L, 6) || level > 400)
            hs_fuzz_fail("compare nested too deep");
        lua_pushnil(L);
        while (lua_next(L, a) != 0) {
            int ok;
            na++;
            lua_pushvalue(L, -2);
            lua_rawget(L, b);
            ok = same(lua_gettop(L) - 1, lua_gettop(L), level + 1);
            lua_pop(L, 2);
            if (!ok) {
                lua_pop(L, 1);
                return 0;
            }
        }
        lua_pushnil(L);
        while (lua_next(L, b) != 0) {
            nb++;
            lua_pop(L, 1);
        }
        return na == nb;
    }
    default: return lua_rawequal(L, a, b);
    }
}

/* Encode the value at idx; on success pushes the JSON text. */
static int encode(int idx, const char *what)
{
    hs_buf b;
    char where[128];
    const char *err;
    shape sh = {0, 0};
    hs_buf_init(&b);
    memset(where, 'x', sizeof(where));
    err = hs_json_encode(L, idx, &b, where, sizeof(where));
    if (err != NULL) {
        hs_buf_free(&b);
        if (strnlen(where, sizeof(where)) == sizeof(where))
            hs_fuzz_fail("hs_json_encode: 'where' not terminated");
        measure(idx, 1, &sh);
        if (sh.nonfinite && strstr(err, "NaN") != NULL)
            return 0; /* cjson decoded NaN/Infinity; JSON has no such number */
        hs_fuzz_fail("hs_json_encode (%s) failed: %s at '%s' (depth %d)", what, err, where,
                     sh.depth);
    }
    if (hs_utf8_valid_prefix((const unsigned char *)b.data, b.len) != b.len)
        hs_fuzz_fail("hs_json_encode (%s) produced invalid UTF-8", what);
    lua_pushlstring(L, b.data ? b.data : "", b.len);
    hs_buf_free(&b);
    return 1;
}

/* core.encode(v) must give the same text as hs_json_encode; core.decode of it
 * must work. Value at idx, its text at text_idx. */
static void check_lua_entries(int idx, int text_idx, int keep)
{
    size_t n1, n2;
    const char *t1, *t2;
    int top = lua_gettop(L);
    lua_pushcfunction(L, hs_l_encode);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 1, 2, 0) != 0 || lua_type(L, -2) != LUA_TSTRING)
        hs_fuzz_fail("core.encode failed where hs_json_encode worked: %s",
                     lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    t1 = lua_tolstring(L, text_idx, &n1);
    t2 = lua_tolstring(L, -2, &n2);
    if (n1 != n2 || memcmp(t1, t2, n1) != 0)
        hs_fuzz_fail("core.encode and hs_json_encode disagree");
    lua_settop(L, top);
    lua_pushcfunction(L, hs_l_decode);
    lua_pushvalue(L, text_idx);
    lua_pushboolean(L, keep);
    if (lua_pcall(L, 2, 2, 0) != 0 || (lua_isnil(L, -2) && !lua_isnil(L, -1)))
        hs_fuzz_fail("core.decode failed on our own encoding: %s",
                     lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    lua_settop(L, top);
}

/* Mark every empty table core.array and some non-empty sequences core.object
 * or core.array (by depth); the result must still encode and decode. */
static void mark_tables(int idx, int level)
{
    lua_CFunction f = NULL;
    if (lua_type(L, idx) != LUA_TTABLE || level > 300 || !lua_checkstack(L, 6))
        return;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        mark_tables(lua_gettop(L), level + 1);
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    if (lua_next(L, idx) == 0) {
        f = hs_l_array;
    } else {
        lua_pop(L, 2);
        if (lua_rawlen(L, idx) > 0 && level % 2 == 0)
            f = (level % 4 == 0) ? hs_l_object : hs_l_array;
    }
    if (f != NULL) {
        lua_pushcfunction(L, f);
        lua_pushvalue(L, idx);
        lua_call(L, 1, 0);
    }
}

static void decode_again(int keep, const char *what)
{
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    char msg[256];
    if (hs_json_decode(L, s, n, keep, NULL, msg, sizeof(msg)) != 0)
        hs_fuzz_fail("round trip (%s): our own encoding does not decode: %s: %.*s", what, msg,
                     (int)(n > 300 ? 300 : n), s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int keep, v1;
    const char *ct;
    char msg[256];

    if (size == 0)
        return 0;
    check_utf8(data, size);
    check_utf8(data + 1, size - 1);

    keep = data[0] & 1;
    ct = (data[0] & 2) ? "application/json; charset=iso-8859-1" : NULL;
    lua_settop(L, 0);
    memset(msg, 'x', sizeof(msg));
    if (hs_json_decode(L, (const char *)data + 1, size - 1, keep, ct, msg, sizeof(msg)) != 0) {
        if (lua_gettop(L) != 0)
            hs_fuzz_fail("hs_json_decode failed but left %d values", lua_gettop(L));
        if (strnlen(msg, sizeof(msg)) == sizeof(msg) || msg[0] == '\0')
            hs_fuzz_fail("hs_json_decode failed without a message");
    } else {
        if (lua_gettop(L) != 1)
            hs_fuzz_fail("hs_json_decode pushed %d values", lua_gettop(L));
        if (!keep && lua_type(L, 1) == LUA_TLIGHTUSERDATA)
            hs_fuzz_fail("hs_json_decode kept a null without keep_nulls");
        v1 = 1;
        /* v1 -> text1 -> v2 -> text2 -> v3: v2 == v3, and v1 == v2 when nulls are
         * kept (dropping nulls can turn an array with holes into an object) */
        if (encode(v1, "first")) {
            decode_again(keep, "first"); /* v2 at 3 */
            if (keep && !same(1, 3, 0))
                hs_fuzz_fail("round trip changed the value (keep_nulls)");
            if (encode(3, "second")) {
                decode_again(keep, "second"); /* v3 at 5 */
                if (!same(3, 5, 0))
                    hs_fuzz_fail("round trip of a decoded value changed it");
                if (lua_rawlen(L, 2) != lua_rawlen(L, 4) && keep)
                    hs_fuzz_fail("re-encoding changed the text length");
            }
            if (data[0] & 4)
                check_lua_entries(1, 2, keep);
            if (data[0] & 8) {
                mark_tables(1, 0);
                if (encode(1, "marked"))
                    decode_again(keep, "marked");
            }
        }
    }
    lua_settop(L, 0);
    if (++runs % 128 == 0)
        lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
