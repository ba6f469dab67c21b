/* Seeing an interrupt (Ctrl-C in lua, luajit) while C code waits: see
 * hs_intr in client.h. */
#include <lauxlib.h>
#include <string.h>

#include "client.h"

/* What the standalone interpreters' SIGINT hook does (lstop in lua.c). */
static void raise_interrupt(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

int hs_intr_keep(lua_State *L)
{
    static const char word[] = "interrupted!";
    size_t n, w = sizeof(word) - 1;
    const char *m;
    if (lua_type(L, -1) != LUA_TSTRING)
        return 0;
    m = lua_tolstring(L, -1, &n);
    if (n < w || memcmp(m + n - w, word, w) != 0)
        return 0;
    lua_sethook(L, raise_interrupt, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
    return 1;
}

void hs_intr_arm(hs_intr *in, lua_State *L)
{
    int i;
    in->n = 0;
    in->L[in->n++] = L;
#if LUA_VERSION_NUM >= 502
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    if (lua_tothread(L, -1) != L && lua_tothread(L, -1) != NULL)
        in->L[in->n++] = lua_tothread(L, -1);
    lua_pop(L, 1);
#endif
    for (i = 0; i < in->n; i++) {
        /* an interrupt kept by hs_intr_keep is already one: never a baseline */
        lua_Hook h = lua_gethook(in->L[i]);
        in->hook[i] = h == raise_interrupt ? NULL : h;
        in->mask[i] = h == raise_interrupt ? 0 : lua_gethookmask(in->L[i]);
    }
}

int hs_intr_check(void *ud)
{
    hs_intr *in = ud;
    int i;
    for (i = 0; i < in->n; i++)
        if (lua_gethook(in->L[i]) != in->hook[i] || lua_gethookmask(in->L[i]) != in->mask[i])
            return 1;
    return 0;
}
