/* Private, prefixed shims so one source builds against Lua 5.1-5.4 and LuaJIT.
 * Nothing here is exported: LuaJIT 2.1 already defines some 5.2 functions
 * (luaL_setfuncs, ...), so we never define those names ourselves. */
#ifndef HUBSOFT_COMPAT_H
#define HUBSOFT_COMPAT_H

#include <lauxlib.h>
#include <lua.h>

#if LUA_VERSION_NUM >= 502
#define hs_rawlen(L, i) lua_rawlen((L), (i))
#define hs_setfuncs(L, l) luaL_setfuncs((L), (l), 0)
#else
#define hs_rawlen(L, i) lua_objlen((L), (i))
static inline void hs_setfuncs(lua_State *L, const luaL_Reg *l)
{
    for (; l->name != NULL; l++) {
        lua_pushcfunction(L, l->func);
        lua_setfield(L, -2, l->name);
    }
}
#endif

/* The one user value of a userdata (a table on 5.1/LuaJIT, where it is the
 * userdata's environment). */
#if LUA_VERSION_NUM >= 502
#define hs_setuservalue(L, i) ((void)lua_setuservalue((L), (i)))
#define hs_getuservalue(L, i) ((void)lua_getuservalue((L), (i)))
#else
#define hs_setuservalue(L, i) ((void)lua_setfenv((L), (i)))
#define hs_getuservalue(L, i) lua_getfenv((L), (i))
#endif

/* registry[&key], portable (lua_rawgetp is 5.2+) */
static inline void hs_rawgetp(lua_State *L, const void *key)
{
    lua_pushlightuserdata(L, (void *)(size_t)key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

static inline void hs_rawsetp(lua_State *L, const void *key)
{
    lua_pushlightuserdata(L, (void *)(size_t)key);
    lua_insert(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

#if LUA_VERSION_NUM >= 503
#define HS_HAVE_INTEGERS 1
#else
#define HS_HAVE_INTEGERS 0
#endif

/* Push a whole number as an integer where the Lua has them. */
static inline void hs_pushint(lua_State *L, long long v)
{
#if HS_HAVE_INTEGERS
    lua_pushinteger(L, (lua_Integer)v);
#else
    lua_pushnumber(L, (lua_Number)v);
#endif
}

#endif
