/* The on_request hook, and running an exchange (call.h) with the hook
 * called between its steps. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "compat.h"

void hs_call_hook(lua_State *L, hs_client *c, const hs_resp *r, const char *url_redacted,
                  const char *method, int attempt)
{
    int top = lua_gettop(L);
    hs_push_state(L, c);
    lua_getfield(L, -1, "on_request");
    if (!lua_isfunction(L, -1)) {
        lua_settop(L, top);
        return;
    }
    lua_createtable(L, 0, 6);
    lua_pushstring(L, method);
    lua_setfield(L, -2, "method");
    hs_push_scrubbed(L, c, url_redacted, strlen(url_redacted));
    lua_setfield(L, -2, "url");
    if (r->status > 0) {
        hs_pushint(L, r->status);
        lua_setfield(L, -2, "status");
    }
    lua_pushnumber(L, r->elapsed);
    lua_setfield(L, -2, "elapsed");
    hs_pushint(L, (long long)r->body.len);
    lua_setfield(L, -2, "bytes");
    hs_pushint(L, attempt);
    lua_setfield(L, -2, "attempt");
    if (lua_pcall(L, 1, 0, 0) != 0 && !hs_intr_keep(L)) {
        size_t n;
        const char *m = lua_tolstring(L, -1, &n);
        hs_push_scrubbed(L, c, m ? m : "(non-string error)", m ? n : 18);
        fprintf(stderr, "lua-hubsoft: on_request hook failed: %s\n", lua_tostring(L, -1));
    }
    lua_settop(L, top);
}

int hs_run_exchange(lua_State *L, hs_client *c, hs_exchange *x, const char *method,
                    const char *url_redacted, const int *gone, int *attempts)
{
    hs_xstep st;
    hs_intr_arm(&c->intr, L);
    while ((st = hs_exchange_next(x)) == HS_X_REPORT) {
        *attempts = x->attempt;
        hs_call_hook(L, c, x->report, url_redacted, method, x->attempt);
        if (c->closed || (gone != NULL && *gone))
            return -1;            /* x points into freed memory now: never touched again */
        hs_intr_arm(&c->intr, L); /* a hook may set its own debug hook */
    }
    *attempts = x->attempt;
    return st == HS_X_INTERRUPTED ? HS_INTERRUPTED : 0;
}
