/* The client userdata and what the binding files share. */
#ifndef HUBSOFT_CLIENT_H
#define HUBSOFT_CLIENT_H

#include <lua.h>

#include "buf.h"
#include "transport.h"

#define HS_CLIENT_MT "hubsoft.client"
#define HUBSOFT_VERSION "0.1.0"

/* Interrupts (request.c). The standalone interpreters turn Ctrl-C into a
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

typedef struct hs_client {
    hs_conn *conn; /* NULL once closed */
    int closed;
    int busy;      /* inside a call: a hook may not re-enter the same client */
    int state_ref; /* registry ref: {creds..., token=, store=, on_request=} */

    /* configuration (owned copies) */
    char *base_url; /* without a trailing slash */
    char *user_agent;
    char *ca_file, *ca_path, *proxy;
    long timeout_ms, connect_timeout_ms;
    int retries;
    int verify_tls;
    int keep_nulls;
    int compress;
    size_t max_body;
    double retry_delay, retry_max_delay;
    int has_creds;
    unsigned long logins; /* counts logins: a login reuses the scratch buffers */
    int save_warned;      /* a failing token_store.save was reported (once) */

    /* headers built once per token, not once per call */
    hs_headers *hdr_plain; /* Accept, Authorization, Expect: */
    hs_headers *hdr_json;  /* the same + Content-Type: application/json */
    hs_headers *hdr_login; /* Accept + Content-Type, no Authorization */

    /* per-request scratch, owned here so a Lua error can never leak it */
    hs_buf url;
    hs_buf url_redacted;
    hs_buf body;
    hs_resp resp;
    hs_part *parts;
    size_t nparts;

    unsigned long long rng; /* jitter for backoff; per client, no globals */
    hs_intr intr;           /* armed by each exchange */
} hs_client;

/* client.c */
hs_client *hs_check_client(lua_State *L, int idx);
void hs_client_open(lua_State *L);
void hs_push_state(lua_State *L, hs_client *c);

/* config.c: fills c from the table at idx; raises on a bad config. */
void hs_config_parse(lua_State *L, int idx, hs_client *c);

/* auth.c */
int hs_headers_rebuild(hs_client *c, const char *token_type, const char *access_token);
/* Make sure a token is present; 0 on success, else pushes nil, err and returns 2.
 * for_method: the request this is for, named when no login is possible. */
int hs_auth_ensure(lua_State *L, hs_client *c, int force_login, const char *for_method);
int hs_l_authenticate(lua_State *L);
void hs_auth_forget(lua_State *L, hs_client *c);
/* After a 401: adopt the token_store's token if it differs from the one just
 * rejected (another process logged in meanwhile). 1 when it did. */
int hs_auth_newer_from_store(lua_State *L, hs_client *c);

/* errors.c */
typedef struct hs_errinfo {
    const char *kind;
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
void hs_errors_open(lua_State *L);
int hs_l_error(lua_State *L);
int hs_l_is_error(lua_State *L);
/* Push `s` with every secret of the client replaced by ***. */
void hs_push_scrubbed(lua_State *L, hs_client *c, const char *s, size_t len);

/* request.c */
typedef struct hs_call {
    const char *method;
    int idempotent; /* a read: may be re-sent after it reached the server */
    const hs_headers *headers;
    const char *body;
    size_t body_len;
    const hs_part *parts;
    size_t nparts;
} hs_call;
/* Send c->url with retries per the policy, calling on_request after each
 * exchange. Leaves the last response in c->resp. Returns 0, -1 when the
 * client was closed by a hook meanwhile, or HS_INTERRUPTED. */
#define HS_INTERRUPTED (-2)
int hs_exchange(lua_State *L, hs_client *c, const hs_call *call, int *attempts);
/* Turn c->resp into the method's results: the decoded body, or nil, err. */
int hs_push_result(lua_State *L, hs_client *c, const hs_call *call, int attempts);
int hs_push_result_of(lua_State *L, hs_client *c, const hs_resp *r, const char *url,
                      const hs_call *call, int attempts);
int hs_push_closed(lua_State *L, hs_client *c, const char *method);
void hs_call_hook(lua_State *L, hs_client *c, const hs_resp *r, const hs_buf *url_redacted,
                  const char *method, int attempt);
/* Build base_url + path + ?query into url (and a redacted copy). NULL or a
 * message; *field names the offending query key. */
const char *hs_build_url(lua_State *L, hs_client *c, hs_buf *url, hs_buf *redacted,
                         const char *path, size_t plen, int query_idx, const char **field);
/* Fill the libcurl request description from the client's settings. */
void hs_req_from_client(hs_req *req, hs_client *c, const hs_call *call, const char *url);
/* Whether the policy allows another attempt after `attempt` ended in r;
 * sets the backoff delay. */
int hs_should_retry(hs_client *c, const hs_resp *r, const hs_call *call, int attempt,
                    double *delay);
/* Block the calling thread for s seconds (backoff between attempts); 0, or
 * HS_INTERRUPTED when intr (may be NULL) says an interrupt arrived. */
int hs_sleep_seconds(double s, hs_intr *intr);
/* nil, err for an interrupted call: pushes no Lua call, so the interrupt's
 * hook raises in the caller. */
int hs_push_interrupted(lua_State *L, hs_client *c, const char *method);
/* prefetch.c */
int hs_l_prefetch(lua_State *L);
void hs_prefetch_open(lua_State *L);
int hs_l_request(lua_State *L);

/* fileio.c */
int hs_l_write_file_atomic(lua_State *L);

#endif
