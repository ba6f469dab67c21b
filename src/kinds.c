#include "kinds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[HS_K_COUNT] = {
    "validation", "auth", "api", "http", "timeout", "network", "tls", "decode", "closed",
};

const char *hs_kind_name(hs_kind k)
{
    return (k >= 0 && k < HS_K_COUNT) ? kind_names[k] : "unknown";
}

int hs_status_retryable(long status)
{
    return status == 429 || status >= 500;
}

int hs_classify_failure(const hs_resp *r, int reread, size_t max_body, hs_kind *kind,
                        int *retryable, char *msg, size_t msglen)
{
    static const char maybe[] = "; it may have reached the server, check before sending it again";
    switch (r->result) {
    case HS_T_OK: return 0;
    case HS_T_TIMEOUT:
        *kind = HS_K_TIMEOUT;
        *retryable = reread;
        snprintf(msg, msglen, "request timed out (%s)%s", r->error, reread ? "" : maybe);
        return 1;
    case HS_T_NETWORK:
        *kind = HS_K_NETWORK;
        *retryable = reread;
        snprintf(msg, msglen, "%s%s", r->error, reread ? "" : maybe);
        return 1;
    case HS_T_TLS:
        *kind = HS_K_TLS;
        *retryable = 0;
        snprintf(msg, msglen, "TLS error: %s", r->error);
        return 1;
    case HS_T_TOO_BIG:
        *kind = HS_K_DECODE;
        *retryable = 0;
        snprintf(msg, msglen,
                 "response larger than max_response_size (%zu bytes): refused, not read", max_body);
        return 1;
    case HS_T_LOCAL:
        *kind = HS_K_NETWORK;
        *retryable = 0;
        snprintf(msg, msglen, "could not send the request: %s", r->error);
        return 1;
    case HS_T_CANCELLED:
        *kind = HS_K_NETWORK;
        *retryable = 0;
        snprintf(msg, msglen, "interrupted");
        return 1;
    }
    return 0;
}

void hs_secrets_init(hs_secrets *sec)
{
    memset(sec, 0, sizeof(*sec));
}

/* f[j]: the length of the longest proper prefix of x[0..j] that is also
 * a suffix of it (Knuth-Morris-Pratt). */
static void kmp_table(const char *x, size_t m, size_t *f)
{
    size_t j, q = 0;
    f[0] = 0;
    for (j = 1; j < m; j++) {
        while (q > 0 && x[j] != x[q])
            q = f[q - 1];
        if (x[j] == x[q])
            q++;
        f[j] = q;
    }
}

static int add_one(hs_secrets *sec, const char *s, size_t len)
{
    size_t i;
    char *copy;
    size_t *fail;
    for (i = 0; i < sec->n; i++)
        if (sec->len[i] == len && memcmp(sec->s[i], s, len) == 0)
            return 0;
    if (sec->n == sizeof(sec->s) / sizeof(sec->s[0]))
        return 0; /* 16 is far more than a client holds (12 at most) */
    if (len > ((size_t)-1) / sizeof(size_t))
        return -1;
    copy = malloc(len + 1);
    fail = malloc(len * sizeof(size_t));
    if (copy == NULL || fail == NULL) {
        free(copy);
        free(fail);
        return -1;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    kmp_table(copy, len, fail);
    sec->s[sec->n] = copy;
    sec->fail[sec->n] = fail;
    sec->len[sec->n++] = len;
    return 0;
}

int hs_secrets_add(hs_secrets *sec, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    hs_buf enc;
    size_t i;
    int changed = 0, rc;
    if (s == NULL || len == 0)
        return 0;
    if (add_one(sec, s, len) != 0)
        return -1;
    /* a secret sent as a query value shows up URL-encoded in URLs */
    hs_buf_init(&enc);
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        char e[3];
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            if (hs_buf_addc(&enc, (char)ch) != 0)
                goto oom;
            continue;
        }
        e[0] = '%';
        e[1] = hex[ch >> 4];
        e[2] = hex[ch & 15];
        if (hs_buf_add(&enc, e, 3) != 0)
            goto oom;
        changed = 1;
    }
    rc = changed ? add_one(sec, enc.data, enc.len) : 0;
    hs_buf_wipe(&enc);
    hs_buf_free(&enc);
    return rc;
oom:
    hs_buf_wipe(&enc);
    hs_buf_free(&enc);
    return -1;
}

void hs_secrets_clear(hs_secrets *sec)
{
    size_t i;
    for (i = 0; i < sec->n; i++) {
        volatile char *p = sec->s[i];
        volatile size_t *f = sec->fail[i]; /* it tells how the secret repeats */
        size_t k;
        for (k = 0; k < sec->len[i]; k++) {
            p[k] = 0;
            f[k] = 0;
        }
        free(sec->s[i]);
        free(sec->fail[i]);
    }
    hs_secrets_init(sec);
}

/* Mark in *hide every byte of every occurrence of secret i in s (the mask,
 * len bytes, is made at the first occurrence any secret has). -1: OOM. */
static int find_secret(const hs_secrets *sec, size_t i, const char *s, size_t len,
                       unsigned char **hide)
{
    const char *x = sec->s[i];
    const size_t *f = sec->fail[i];
    size_t m = sec->len[i], q = 0, k, marked = 0; /* (*hide)[0..marked) is done */
    for (k = 0; k < len; k++) {
        if (q == 0) { /* skip to the next byte that can start a match */
            const char *p = memchr(s + k, x[0], len - k);
            if (p == NULL)
                break;
            k = (size_t)(p - s);
        }
        while (q > 0 && s[k] != x[q])
            q = f[q - 1];
        if (s[k] == x[q])
            q++;
        if (q == m) {
            size_t from = k + 1 - m;
            if (*hide == NULL && (*hide = calloc(len, 1)) == NULL)
                return -1;
            if (from < marked)
                from = marked; /* overlapping occurrences: each byte once */
            memset(*hide + from, 1, k + 1 - from);
            marked = k + 1;
            q = f[q - 1];
        }
    }
    return 0;
}

int hs_scrub(const hs_secrets *sec, const char *s, size_t len, hs_buf *out)
{
    unsigned char *hide = NULL;
    size_t i, pos;
    int rc = 0;
    for (i = 0; sec != NULL && i < sec->n; i++)
        if (find_secret(sec, i, s, len, &hide) != 0)
            return -1;
    if (hide == NULL)
        return hs_buf_add(out, s, len);
    for (pos = 0; pos < len && rc == 0;) {
        size_t end = pos;
        int hidden = hide[pos];
        while (end < len && hide[end] == hidden)
            end++;
        rc = hidden ? hs_buf_add(out, "***", 3) : hs_buf_add(out, s + pos, end - pos);
        pos = end;
    }
    free(hide);
    return rc;
}
