/* libcurl behind the transport seam: shared by transport.c and multipart.c
 * (and the multipart fuzz target), never included above the bottom layer. */
#ifndef HUBSOFT_TRANSPORT_CURL_H
#define HUBSOFT_TRANSPORT_CURL_H

#include <curl/curl.h>

#include "transport.h"

struct hs_conn {
    CURL *easy;
    hs_resp *resp; /* the transfer in a multi, while it runs */
    int running;
};

struct hs_headers {
    struct curl_slist *list;
};

/* The multipart body of req's attachments on `easy`, or NULL with err set. */
curl_mime *hs_mime_build(CURL *easy, const hs_req *req, char *err, size_t errlen);

#endif
