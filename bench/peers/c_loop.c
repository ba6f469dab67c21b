/* The transport floor: plain libcurl, one easy handle reused for every
 * request (so one keep-alive connection), the body written into a growing
 * buffer, no JSON decode.
 *
 *   c_loop bulk    BASE_URL             every page of .../atendimento/todos, one after another
 *   c_loop latency BASE_URL CALLS       GET .../configuracao/status_atendimento
 *   c_loop create  BASE_URL CALLS TOKEN POST .../atendimento (JSON body)
 *
 * The page count comes from "ultima_pagina" in page 0 (a string search, not a
 * decode). Offers gzip like the client does (libcurl decodes it). Prints
 * "RESULT work=<seconds> count=<n>" where n is pages or calls. Built by
 * bench/run.sh with gcc -O2. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *data;
    size_t len, cap;
} buf;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    buf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        char *q;
        while (cap < b->len + n + 1)
            cap *= 2;
        q = realloc(b->data, cap);
        if (q == NULL)
            return 0;
        b->data = q;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    char line[256];
    long kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    fclose(f);
    return kb;
}

static void get(CURL *h, buf *b, const char *url)
{
    long status = 0;
    CURLcode rc;
    b->len = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200 || b->len == 0) {
        fprintf(stderr, "c_loop: %s: %s (HTTP %ld)\n", url, curl_easy_strerror(rc), status);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    const char *what, *base;
    char url[1024], auth[512];
    struct curl_slist *hdr = NULL;
    buf b = {NULL, 0, 0};
    CURL *h;
    double t0;
    long count = 0, n, base_kb;

    if (argc < 3) {
        fprintf(stderr, "usage: c_loop bulk|latency|create BASE_URL [CALLS [TOKEN]]\n");
        return 2;
    }
    what = argv[1];
    base = argv[2];
    n = argc > 3 ? atol(argv[3]) : 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    base_kb = rss_kb();
    t0 = now();
    h = curl_easy_init();
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
             argc > 4 ? argv[4] : "bench-access-token-0123456789abcdef");
    hdr = curl_slist_append(hdr, auth);
    hdr = curl_slist_append(hdr, "Accept: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);

    if (strcmp(what, "bulk") == 0) {
        long k, last = 0;
        for (k = 0; k <= last; k++) {
            snprintf(url, sizeof(url), "%s/api/v1/integracao/atendimento/todos?itens_por_pagina=500&pagina=%ld",
                     base, k);
            get(h, &b, url);
            if (k == 0) {
                const char *p = strstr(b.data, "\"ultima_pagina\":");
                if (p == NULL) {
                    fprintf(stderr, "c_loop: no ultima_pagina in page 0\n");
                    return 1;
                }
                last = atol(p + 16);
            }
            count++;
        }
    } else if (strcmp(what, "latency") == 0) {
        snprintf(url, sizeof(url), "%s/api/v1/integracao/configuracao/status_atendimento", base);
        for (count = 0; count < n; count++)
            get(h, &b, url);
    } else if (strcmp(what, "create") == 0) {
        static const char body[] =
            "{\"id_cliente_servico\":17812,\"descricao\":\"Cliente sem conex\xc3\xa3o desde ontem "
            "\xc3\xa0 noite; j\xc3\xa1 reiniciou a ONU.\",\"nome\":\"Jo\xc3\xa3o da Silva\","
            "\"telefone\":\"11987654321\"}";
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        snprintf(url, sizeof(url), "%s/api/v1/integracao/atendimento", base);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(sizeof(body) - 1));
        for (count = 0; count < n; count++) {
            get(h, &b, url);
            if (strstr(b.data, "\"protocolo\"") == NULL) {
                fprintf(stderr, "c_loop: unexpected create answer: %.200s\n", b.data);
                return 1;
            }
        }
    } else {
        fprintf(stderr, "c_loop: unknown workload %s\n", what);
        return 2;
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(hdr);
    printf("RESULT work=%.6f count=%ld base_kb=%ld\n", now() - t0, count, base_kb);
    free(b.data);
    curl_global_cleanup();
    return 0;
}
