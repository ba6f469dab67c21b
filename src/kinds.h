/* The one table of error kinds (middle layer, no Lua header): their names,
 * how a transport outcome or an HTTP status is classified, and the secret
 * scrubber every string passes through before it reaches an error or a hook. */
#ifndef HUBSOFT_KINDS_H
#define HUBSOFT_KINDS_H

#include <stddef.h>

#include "buf.h"
#include "transport.h"

typedef enum hs_kind {
    HS_K_VALIDATION = 0, /* a parameter broke a rule; nothing was sent */
    HS_K_AUTH,           /* login refused, token rejected, no way to log in */
    HS_K_API,            /* the server answered {"status": "error"} */
    HS_K_HTTP,           /* an HTTP error status */
    HS_K_TIMEOUT,        /* no complete answer in time */
    HS_K_NETWORK,        /* DNS, refused, reset, truncated; also an interrupt */
    HS_K_TLS,            /* certificate or handshake */
    HS_K_DECODE,         /* the answer is not the JSON expected, or too large */
    HS_K_CLOSED,         /* the client (or the pages in flight) was closed */
    HS_K_COUNT
} hs_kind;

/* "validation", "auth", ... as err.kind spells it. */
const char *hs_kind_name(hs_kind k);

/* err.retryable for an HTTP answer: the same request may succeed later. */
int hs_status_retryable(long status);

/* A transfer that did not end in a complete HTTP answer, as an error:
 * returns 1 and fills kind, retryable and msg; 0 when r holds an answer.
 * reread: the request may be sent again (a read, or it never left). */
int hs_classify_failure(const hs_resp *r, int reread, size_t max_body, hs_kind *kind,
                        int *retryable, char *msg, size_t msglen);

/* Secrets: the strings that never leave in an error, a hook record or a
 * log line (password, client_secret, tokens), each also in its URL-encoded
 * form. Owned copies, wiped when freed. */
typedef struct hs_secrets {
    char *s[16];
    size_t len[16];
    size_t *fail[16]; /* each one's failure function, for a linear search */
    size_t n;
} hs_secrets;

void hs_secrets_init(hs_secrets *sec);
/* Add a secret (any non-empty length) and its URL-encoded form. 0 or -1 (OOM). */
int hs_secrets_add(hs_secrets *sec, const char *s, size_t len);
void hs_secrets_clear(hs_secrets *sec); /* wipes and frees */

/* Append s to out with every byte that belongs to an occurrence of a secret
 * hidden: each run of hidden bytes becomes ***, so secrets that overlap or
 * touch leave no fragment. Linear in len (Knuth-Morris-Pratt search, one
 * pass a secret), whatever the text. 0 or -1 (OOM). */
int hs_scrub(const hs_secrets *sec, const char *s, size_t len, hs_buf *out);

#endif
