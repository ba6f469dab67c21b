/* hs_secrets_add and hs_scrub on arbitrary secrets and text, checked against
 * a brute-force oracle: every byte inside an occurrence of a secret (raw or
 * URL-encoded) is hidden, each run of hidden bytes is one "***", the rest is
 * the text unchanged; and no secret free of '*' survives in the output.
 * Input: a byte n (1..4 secrets), per secret a length byte and its bytes,
 * then the text. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "fuzz_common.h"
#include "kinds.h"

static int occurs(const char *hay, size_t n, const char *x, size_t m)
{
    size_t k;
    for (k = 0; k + m <= n; k++)
        if (memcmp(hay + k, x, m) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hs_reader r = {data, size};
    hs_secrets sec;
    hs_buf out, want;
    unsigned char *hide;
    size_t nsec = (size_t)(hs_rd_u8(&r) % 4) + 1, i, k, len, pos;
    const char *text;

    hs_secrets_init(&sec);
    for (i = 0; i < nsec; i++) {
        size_t got;
        const uint8_t *p = hs_rd_bytes(&r, (size_t)(hs_rd_u8(&r) % 24) + 1, &got);
        if (got > 0 && hs_secrets_add(&sec, (const char *)p, got) != 0)
            hs_fuzz_fail("hs_secrets_add: out of memory");
    }
    len = r.n;
    text = hs_fuzz_dup(r.p, len);

    /* the oracle: mark every occurrence by brute force */
    hide = calloc(len + 1, 1);
    if (hide == NULL)
        abort();
    for (i = 0; i < sec.n; i++)
        for (k = 0; k + sec.len[i] <= len; k++)
            if (memcmp(text + k, sec.s[i], sec.len[i]) == 0)
                memset(hide + k, 1, sec.len[i]);
    hs_buf_init(&want);
    for (pos = 0; pos < len;) {
        size_t end = pos;
        while (end < len && hide[end] == hide[pos])
            end++;
        if ((hide[pos] ? hs_buf_add(&want, "***", 3) : hs_buf_add(&want, text + pos, end - pos)) !=
            0)
            abort();
        pos = end;
    }

    hs_buf_init(&out);
    if (hs_scrub(&sec, text, len, &out) != 0)
        hs_fuzz_fail("hs_scrub: out of memory");
    if (out.len != want.len || (out.len > 0 && memcmp(out.data, want.data, out.len) != 0))
        hs_fuzz_fail("hs_scrub gave %zu bytes, the oracle %zu", out.len, want.len);
    for (i = 0; i < sec.n; i++)
        if (memchr(sec.s[i], '*', sec.len[i]) == NULL &&
            occurs(out.data, out.len, sec.s[i], sec.len[i]))
            hs_fuzz_fail("secret %zu survived the scrubber", i);

    hs_buf_free(&out);
    hs_buf_free(&want);
    free(hide);
    free((void *)text);
    hs_secrets_clear(&sec);
    return 0;
}
