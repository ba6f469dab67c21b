/* multipart/form-data bodies for attachments, through libcurl's mime API:
 * files are streamed from disk, in-memory items are binary-safe. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "transport_curl.h"

static const struct {
    const char *ext;
    const char *type;
} mime_types[] = {
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"bmp", "image/bmp"},
    {"svg", "image/svg+xml"},
    {"pdf", "application/pdf"},
    {"txt", "text/plain"},
    {"log", "text/plain"},
    {"cfg", "text/plain"},
    {"ini", "text/plain"},
    {"csv", "text/csv"},
    {"json", "application/json"},
    {"xml", "application/xml"},
    {"html", "text/html"},
    {"htm", "text/html"},
    {"zip", "application/zip"},
    {"rar", "application/vnd.rar"},
    {"gz", "application/gzip"},
    {"7z", "application/x-7z-compressed"},
    {"doc", "application/msword"},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"xls", "application/vnd.ms-excel"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"odt", "application/vnd.oasis.opendocument.text"},
    {"mp3", "audio/mpeg"},
    {"wav", "audio/wav"},
    {"ogg", "audio/ogg"},
    {"opus", "audio/ogg"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"pcap", "application/vnd.tcpdump.pcap"},
};

const char *hs_mime_type_for(const char *filename)
{
    const char *dot = filename ? strrchr(filename, '.') : NULL;
    size_t i;
    if (dot != NULL && strchr(dot, '/') == NULL) {
        for (i = 0; i < sizeof(mime_types) / sizeof(mime_types[0]); i++)
            if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
                return mime_types[i].type;
    }
    return "application/octet-stream";
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

curl_mime *hs_mime_build(CURL *easy, const hs_req *req, char *err, size_t errlen)
{
    curl_mime *mime = curl_mime_init(easy);
    size_t i;
    if (mime == NULL) {
        snprintf(err, errlen, "out of memory building the multipart body");
        return NULL;
    }
    for (i = 0; i < req->nparts; i++) {
        const hs_part *p = &req->parts[i];
        curl_mimepart *part = curl_mime_addpart(mime);
        char name[64];
        const char *filename;
        CURLcode rc;
        if (part == NULL)
            goto oom;
        snprintf(name, sizeof(name), "%s[%zu]", req->field ? req->field : "files", i);
        if (curl_mime_name(part, name) != CURLE_OK)
            goto oom;
        if (p->path != NULL) {
            rc = curl_mime_filedata(part, p->path); /* streamed at send time */
            if (rc != CURLE_OK) {
                snprintf(err, errlen, "files[%zu]: cannot read the file", i);
                curl_mime_free(mime);
                return NULL;
            }
            filename = p->filename ? p->filename : base_name(p->path);
        } else {
            if (curl_mime_data(part, p->data ? p->data : "", p->len) != CURLE_OK)
                goto oom;
            filename = p->filename ? p->filename : "arquivo";
        }
        if (curl_mime_filename(part, filename) != CURLE_OK)
            goto oom;
        if (curl_mime_type(part, p->content_type ? p->content_type : hs_mime_type_for(filename)) !=
            CURLE_OK)
            goto oom;
    }
    return mime;
oom:
    snprintf(err, errlen, "out of memory building the multipart body");
    curl_mime_free(mime);
    return NULL;
}
