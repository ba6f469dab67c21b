/* The token's lifecycle rules (middle layer, no Lua header): when a token
 * is still used, how its expiry is computed, whether it can go into the
 * Authorization header, and the header lists built once per token. */
#ifndef HUBSOFT_TOKEN_H
#define HUBSOFT_TOKEN_H

#include <stddef.h>

#include "transport.h"

/* A token is used until this many seconds before it expires (also what
 * file_token_store.load applies: core.TOKEN_MARGIN). */
#define HS_TOKEN_MARGIN 60
/* A longer lifetime than this (ten years) is taken as this. */
#define HS_TOKEN_LIFETIME_MAX 315360000.0

/* A token, in C memory (strings owned, wiped when cleared). access_token
 * NULL: no token. */
typedef struct hs_token {
    char *access_token, *token_type, *refresh_token;
    int has_expires_in, has_expires_at;
    double expires_in, expires_at;
} hs_token;

void hs_token_clear(hs_token *t);
/* Replace *dst with a copy of s (len bytes; s NULL: none). 0 or -1 (OOM). */
int hs_token_set(char **dst, const char *s, size_t len);
/* Move src into dst (dst cleared first; src left empty). */
void hs_token_move(hs_token *dst, hs_token *src);
/* Whether t is a token to use at now: an access_token that can be sent and
 * a token_type that can, not expiring within the margin (no expiry: used
 * until refused). */
int hs_token_usable(const hs_token *t, long long now);

/* expires_at for a lifetime of expires_in seconds from now: clamped before
 * any conversion (1e300 or 2^63 would overflow), negative or NaN = now. */
long long hs_token_expires_at(double expires_in, long long now);

/* Whether a token expiring at expires_at is still used at now. */
int hs_token_fresh(double expires_at, long long now);

/* Whether access_token / token_type can go into a header (no CR, LF, NUL or
 * other control character). token_type may be NULL or empty (Bearer). */
int hs_token_sendable(const char *access_token, size_t alen, const char *token_type, size_t tlen);

/* The header lists for requests with this token: *plain (Accept,
 * Authorization, Expect:) and *json (the same + Content-Type). Replaces
 * (frees) what they held. 0, or -1 (out of memory or not sendable: both
 * lists are then NULL). */
int hs_token_headers(const char *token_type, const char *access_token, hs_headers **plain,
                     hs_headers **json);
/* The login request's list (no Authorization). NULL when out of memory. */
hs_headers *hs_login_headers(void);

#endif
