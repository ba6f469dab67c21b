#include "token.h"

#include <stdlib.h>
#include <string.h>

static void wipe_free(char **p)
{
    if (*p != NULL) {
        volatile char *v = *p;
        size_t i, n = strlen(*p);
        for (i = 0; i < n; i++)
            v[i] = 0;
        free(*p);
        *p = NULL;
    }
}

void hs_token_clear(hs_token *t)
{
    wipe_free(&t->access_token);
    wipe_free(&t->token_type);
    wipe_free(&t->refresh_token);
    memset(t, 0, sizeof(*t));
}

int hs_token_set(char **dst, const char *s, size_t len)
{
    char *copy = NULL;
    if (s != NULL) {
        copy = malloc(len + 1);
        if (copy == NULL)
            return -1;
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    wipe_free(dst);
    *dst = copy;
    return 0;
}

void hs_token_move(hs_token *dst, hs_token *src)
{
    hs_token_clear(dst);
    *dst = *src;
    memset(src, 0, sizeof(*src));
}

int hs_token_usable(const hs_token *t, long long now)
{
    if (t->access_token == NULL ||
        !hs_token_sendable(t->access_token, strlen(t->access_token), t->token_type,
                           t->token_type ? strlen(t->token_type) : 0))
        return 0;
    return !t->has_expires_at || hs_token_fresh(t->expires_at, now);
}

long long hs_token_expires_at(double expires_in, long long now)
{
    if (!(expires_in > 0))
        expires_in = 0;
    else if (expires_in > HS_TOKEN_LIFETIME_MAX)
        expires_in = HS_TOKEN_LIFETIME_MAX;
    return now + (long long)expires_in;
}

int hs_token_fresh(double expires_at, long long now)
{
    return expires_at > (double)now + HS_TOKEN_MARGIN;
}

int hs_token_sendable(const char *access_token, size_t alen, const char *token_type, size_t tlen)
{
    if (!hs_header_value_ok(access_token, alen))
        return 0;
    return token_type == NULL || tlen == 0 || hs_header_value_ok(token_type, tlen);
}

static int add_all(hs_headers **l, const char *const *lines)
{
    for (; *lines != NULL; lines++)
        if (hs_headers_add(l, *lines) != 0)
            return -1;
    return 0;
}

int hs_token_headers(const char *token_type, const char *access_token, hs_headers **plain,
                     hs_headers **json)
{
    hs_buf auth;
    const char *plain_lines[4], *json_lines[5];
    int rc = -1;
    hs_headers_free(*plain);
    hs_headers_free(*json);
    *plain = *json = NULL;
    if (token_type == NULL || token_type[0] == '\0')
        token_type = "Bearer";
    /* the last guard against header injection: callers refuse such tokens
     * with a clear error before this */
    if (access_token == NULL ||
        !hs_token_sendable(access_token, strlen(access_token), token_type, strlen(token_type)))
        return -1;
    hs_buf_init(&auth);
    if (hs_buf_adds(&auth, "Authorization: ") == 0 && hs_buf_adds(&auth, token_type) == 0 &&
        hs_buf_addc(&auth, ' ') == 0 && hs_buf_adds(&auth, access_token) == 0 &&
        hs_buf_cstr(&auth) == 0) {
        plain_lines[0] = json_lines[0] = "Accept: application/json";
        plain_lines[1] = json_lines[1] = auth.data;
        plain_lines[2] = json_lines[2] = "Expect:";
        plain_lines[3] = NULL;
        json_lines[3] = "Content-Type: application/json";
        json_lines[4] = NULL;
        rc = add_all(plain, plain_lines) == 0 && add_all(json, json_lines) == 0 ? 0 : -1;
    }
    hs_buf_wipe(&auth);
    hs_buf_free(&auth);
    if (rc != 0) {
        hs_headers_free(*plain);
        hs_headers_free(*json);
        *plain = *json = NULL;
    }
    return rc;
}

hs_headers *hs_login_headers(void)
{
    static const char *const lines[] = {"Accept: application/json",
                                        "Content-Type: application/json", "Expect:", NULL};
    hs_headers *l = NULL;
    if (add_all(&l, lines) != 0) {
        hs_headers_free(l);
        return NULL;
    }
    return l;
}
