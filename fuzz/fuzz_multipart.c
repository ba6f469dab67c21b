/* hs_mime_build with fuzzed attachments on a real libcurl easy handle, and
 * hs_mime_type_for on fuzzed file names.
 *
 * Input layout (reads past the end give zeros):
 *   byte   field: 0 NULL (default "files"), 1 "files", 2 "anexos", 3 fuzzed
 *   [byte len, bytes]  the fuzzed field when field == 3
 *   byte   number of parts (mod 6)
 *   per part:
 *     byte flags: 1 filename, 2 content_type, 4 data NULL, 8 path (a real file,
 *                 or a missing one when 16 is set too)
 *     [byte len, bytes]  filename (NULs end the C string early)
 *     [byte len, bytes]  content_type
 *     u16 len, bytes     data (binary, NULs kept)
 *   the rest           a file name for hs_mime_type_for */
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "transport_curl.h"

#define MAX_PARTS 6

static char g_file[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int fd;
    (void)argc;
    (void)argv;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        abort();
    /* a small real file for the streamed-from-disk case */
    snprintf(g_file, sizeof(g_file), "/tmp/hs-fuzz-mp-XXXXXX");
    fd = mkstemp(g_file);
    if (fd < 0 || write(fd, "%PDF-1.4\n", 9) != 9 || close(fd) != 0)
        abort();
    return 0;
}

__attribute__((destructor)) static void cleanup_file(void)
{
    if (g_file[0])
        unlink(g_file);
}

static char *take_str(hs_reader *r)
{
    size_t got;
    const uint8_t *p = hs_rd_bytes(r, hs_rd_u8(r), &got);
    return hs_fuzz_dup(p, got);
}

static void check_type(const char *filename)
{
    const char *t = hs_mime_type_for(filename);
    if (t == NULL || t[0] == '\0' || strchr(t, '/') == NULL)
        hs_fuzz_fail("hs_mime_type_for: bad type for '%s'", filename ? filename : "(null)");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hs_reader r = {data, size};
    hs_part parts[MAX_PARTS];
    char *owned[MAX_PARTS * 3 + 2];
    size_t nowned = 0, nparts, i;
    int has_path = 0;
    hs_req req;
    CURL *easy;
    curl_mime *mime;
    char err[HS_ERROR_SIZE];

    memset(&req, 0, sizeof(req));
    memset(parts, 0, sizeof(parts));
    switch (hs_rd_u8(&r) & 3) {
    case 0: req.field = NULL; break;
    case 1: req.field = "files"; break;
    case 2: req.field = "anexos"; break;
    default: req.field = owned[nowned++] = take_str(&r);
    }
    nparts = hs_rd_u8(&r) % MAX_PARTS;
    for (i = 0; i < nparts; i++) {
        hs_part *p = &parts[i];
        uint8_t flags = hs_rd_u8(&r);
        size_t got;
        const uint8_t *d;
        if (flags & 1)
            p->filename = owned[nowned++] = take_str(&r);
        if (flags & 2)
            p->content_type = owned[nowned++] = take_str(&r);
        d = hs_rd_bytes(&r, hs_rd_u16(&r), &got);
        if (flags & 8) {
            p->path = (flags & 16) ? "/nonexistent/hs-fuzz/missing.pdf" : g_file;
            has_path = 1;
        } else if (!(flags & 4)) {
            p->data = owned[nowned++] = hs_fuzz_dup(d, got); /* exact bounds for ASan */
            p->len = got;
        }
        if (p->filename != NULL)
            check_type(p->filename);
    }
    req.parts = parts;
    req.nparts = nparts;
    req.method = "POST";
    req.url = "http://127.0.0.1:9/upload";

    easy = curl_easy_init();
    if (easy == NULL)
        abort();
    memset(err, 0x5a, sizeof(err));
    err[sizeof(err) - 1] = '\0';
    mime = hs_mime_build(easy, &req, err, sizeof(err));
    if (mime != NULL) {
        if (curl_easy_setopt(easy, CURLOPT_MIMEPOST, mime) != CURLE_OK)
            hs_fuzz_fail("CURLOPT_MIMEPOST refused the built mime");
        curl_mime_free(mime); /* as hs_resp_reset does, the handle still alive */
        curl_easy_cleanup(easy);
    } else {
        /* only a missing file or out of memory may fail */
        if (!has_path)
            hs_fuzz_fail("hs_mime_build failed with in-memory parts only: %s", err);
        if (strnlen(err, sizeof(err)) == 0 || strnlen(err, sizeof(err)) == sizeof(err))
            hs_fuzz_fail("hs_mime_build failed without a message");
        curl_easy_cleanup(easy);
    }

    /* the rest of the input as a file name */
    {
        char *fn = hs_fuzz_dup(r.p, r.n);
        check_type(fn);
        check_type(NULL);
        free(fn);
    }
    for (i = 0; i < nowned; i++)
        free(owned[i]);
    return 0;
}
