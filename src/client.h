/* The client userdata and what the binding files (top layer) share. Only
 * the binding includes Lua headers; it copies every Lua input into the C
 * structs below before a call changes any state, and runs Lua (hooks, the
 * token_store, cjson) only between steps of the call pipeline (call.h). */
#ifndef HUBSOFT_CLIENT_H
#define HUBSOFT_CLIENT_H

#include <lua.h>

#include "buf.h"
#include "call.h"
#include "kinds.h"
#include "retry.h"
#include "token.h"
#include "transport.h"

#define HS_CLIENT_MT "hubsoft.client"
#define HUBSOFT_VERSION "0.1.0"

/* Interrupts (interrupt.c). The standalone interpreters turn Ctrl-C into a
 * debug hook that raises "interrupted!" at the next Lua instruction. A
 * transfer asks hs_intr_check (from a libcurl callback: it only reads the
 * hook, it calls no Lua) and stops when a hook appeared since it started;
 * the call then returns without running any Lua under pcall, so the hook
 * fires in the caller and the interpreter's own error ends the script. */
typedef struct hs_intr {
    lua_State *L[2]; /* the calling thread and the main one */
    lua_Hook hook[2];
    int mask[2];
    int n;
} hs_intr;
void hs_intr_arm(hs_intr *in, lua_State *L);
int hs_intr_check(void *in);
/* After one of our lua_pcall's caught the error at the top of the stack: when
 * it is the interpreter's "interrupted!" (its hook clears itself before it
 * raises, so the interrupt would be lost), sets an equivalent hook again: the
 * transfer then stops and the script ends at the next Lua step outside our
 * pcalls. Returns 1 when it did. */
int hs_intr_keep(lua_State *L);

typedef struct hs_client {
    hs_conn *conn; /* NULL once closed */
    int closed;    /* what callers see: a closed client answers kind "closed" */
    int depth;     /* C frames of calls using the client (hs_client_pcall) */
    int busy;      /* a call is past reading its inputs: no re-entry (hs_client_busy) */
    int released;  /* its resources are freed (close waits for depth 0) */
    /* {store=, on_request=} (Lua values stay in Lua) is the userdata's user
     * value; this registry slot holds it while a call runs (false between
     * calls), so the code below the method can reach it from c alone */
    int state_ref;

    /* configuration (owned copies) */
    char *base_url; /* without a trailing slash */
    char *user_agent, *ca_file, *ca_path, *proxy;
    hs_settings set; /* points into the strings above */
    hs_retry_policy policy;
    int keep_nulls;
    int has_creds;
    char *client_id, *client_secret, *username, *password; /* wiped when freed */
    int has_store;

    /* the token lifecycle */
    hs_token token;        /* access_token NULL: none yet */
    hs_token old_token;    /* the one a 401 just rejected: still a secret */
    hs_secrets secrets;    /* password, client_secret, both tokens; rebuilt on change */
    hs_buf scrub;          /* scratch of the scrubber */
    int save_warned;       /* a failing token_store.save was reported (once) */
    hs_headers *hdr_plain; /* Accept, Authorization, Expect: */
    hs_headers *hdr_json;  /* the same + Content-Type: application/json */
    hs_headers *hdr_login; /* Accept + Content-Type, no Authorization */

    /* a request's inputs, owned here so a Lua error can never leak them */
    hs_buf url, url_redacted, body;
    hs_part *parts;
    size_t nparts;
    hs_resp resp; /* the last response (a request's or a login's) */
    /* a login's own: it never touches a request's buffers */
    hs_buf login_url, login_body;

    hs_intr intr; /* armed by each call */
} hs_client;

/* client.c (calls no binding file but config.c and errors.c) */
hs_client *hs_check_client(lua_State *L, int idx);
/* The client metatable (close, is_closed, GC) and core.new, core.methods
 * into the module table at the top; hubsoft.c adds the other methods. */
void hs_client_open(lua_State *L);
/* Pushes the state table; only inside a call (between enter and leave). */
void hs_push_state(lua_State *L, hs_client *c);
/* A close requested while a call uses the client (from its hook, its
 * token_store, an __index of an input, or a finalizer the collector ran at
 * any allocation) only marks it closed: the call ends with kind "closed" at
 * its next step boundary (or finishes), and the resources are released when
 * the last call leaves. Every method that uses the client runs its body
 * through hs_client_guard: under lua_pcall, so even an error raised through
 * it (a finalizer's on Lua 5.1, out of memory) leaves the count right.
 * The client userdata is at index 1. Returns body's results; re-raises its
 * error. */
int hs_client_guard(lua_State *L, hs_client *c, lua_CFunction body);
/* The mechanism under it, for objects that call through a client (a page
 * set): runs body on the top nargs values under lua_pcall, with c (NULL: no
 * client) marked in a call; self is the positive stack index of c's userdata
 * (below or among those values). Returns lua_pcall's status, with body's
 * results or the error on the stack. */
int hs_client_pcall(lua_State *L, hs_client *c, int self, int nargs, lua_CFunction body);
/* A call has read its inputs (whose metamethods may still make other calls
 * of the client) and starts changing client state: from here to its end a
 * call of the same client (from its hook, its token_store, a finalizer) is
 * refused with a Lua error. Raises when this call itself is such a call.
 * hs_client_guard restores the mark when the call ends. */
void hs_client_busy(lua_State *L, hs_client *c);

/* config.c: fills c (its userdata at self) from the table at cfg; raises on a
 * bad config. */
void hs_config_parse(lua_State *L, int cfg, int self, hs_client *c);

/* errors.c: Lua error tables from the kinds table (kinds.h). */
typedef struct hs_errinfo {
    hs_kind kind;
    const char *message;
    long status; /* 0: none */
    const char *method;
    const char *url;
    int retryable;
    int attempts;
    const char *field;
    int errors_idx; /* stack index of the server's errors list, 0 when none */
} hs_errinfo;
/* Push nil and the error table (secrets scrubbed); returns 2. */
int hs_push_error(lua_State *L, hs_client *c, const hs_errinfo *e);
/* nil, err of a kind with a message and the request it was about. */
int hs_push_simple_error(lua_State *L, hs_client *c, hs_kind kind, const char *message,
                         const char *method, const char *url);
int hs_push_closed(lua_State *L, hs_client *c, const char *method);
/* nil, err for an interrupted call: runs no Lua function, so the
 * interrupt's hook raises in the caller. */
int hs_push_interrupted(lua_State *L, hs_client *c, const char *method);
void hs_errors_open(lua_State *L);
int hs_l_error(lua_State *L);
int hs_l_is_error(lua_State *L);
int hs_l_scrub(lua_State *L); /* core.scrub(s, secrets) */
/* Push `s` with every secret of the client replaced by ***. */
void hs_push_scrubbed(lua_State *L, hs_client *c, const char *s, size_t len);
/* Rebuild c->secrets after the token changed; raises when out of memory. */
void hs_secrets_refresh(lua_State *L, hs_client *c);

/* hook.c: on_request, called between steps (the client is in a call: a
 * re-entry is refused, a close deferred). */
void hs_call_hook(lua_State *L, hs_client *c, const hs_resp *r, const char *url_redacted,
                  const char *method, int attempt);
/* Run an exchange to its end, calling the hook at each report. 0, -1 when a
 * hook closed the client (or what the exchange belonged to: *gone), or
 * HS_INTERRUPTED. *attempts: the attempts spent. */
#define HS_INTERRUPTED (-2)
int hs_run_exchange(lua_State *L, hs_client *c, hs_exchange *x, const char *method,
                    const char *url_redacted, const int *gone, int *attempts);

/* auth.c: the token lifecycle's Lua side (token_store, login answers). */
/* Make sure a token is held; 0, or pushes nil, err and returns 2.
 * for_method / for_url: the request this is for, named when no login is
 * possible. */
int hs_auth_ensure(lua_State *L, hs_client *c, int force_login, const char *for_method,
                   const char *for_url);
int hs_l_authenticate(lua_State *L);
/* After a 401: the token becomes old_token and is dropped. */
void hs_auth_forget(lua_State *L, hs_client *c);
/* After a 401: adopt the token_store's token if it differs from the one just
 * rejected (another process logged in meanwhile). 1 when it did. */
int hs_auth_newer_from_store(lua_State *L, hs_client *c);

/* result.c: turn a response into the method's results: the decoded body,
 * or nil, err. */
int hs_push_result(lua_State *L, hs_client *c, const hs_resp *r, const hs_call *call, int attempts);

/* request.c */
/* Run a prepared call (its inputs in client memory) through auth, the
 * exchange and the single re-login after a 401, and push the method's
 * results. attempts_done / delay / after_401: what a page in flight already
 * spent (0, 0, 0 for a new call). */
int hs_run_call(lua_State *L, hs_client *c, const hs_call *call, int attempts_done, double delay,
                int after_401);
/* Build base_url + path + ?query into url (and a redacted copy). NULL or a
 * message; *field names the offending query key. Reads only raw fields. */
const char *hs_build_url(lua_State *L, hs_client *c, hs_buf *url, hs_buf *redacted,
                         const char *path, size_t plen, int query_idx, const char **field);
int hs_l_request(lua_State *L);

/* prefetch.c */
int hs_l_prefetch(lua_State *L);
void hs_prefetch_open(lua_State *L);

/* fileio.c */
int hs_l_write_file_atomic(lua_State *L);

#endif
