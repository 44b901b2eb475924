/* version.c - `tiff-dumper --version`: the tool's version, then each library it was built
 * against and the one it runs with. A packager's or user's first question about a bug is
 * "which libcurl / OpenSSL was that?", and the two can differ after a library upgrade, so
 * both are shown (like `curl --version`). Libraries without a run-time version call show
 * the build-time one only. */
#include "version.h"

#include <curl/curl.h>
#include <expat.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <proj.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>
#include <yaml.h>
#include <zlib.h>
#include <zstd.h>

#ifndef TD_VERSION
#define TD_VERSION "0.0.0"
#endif
/* Set by CMake from pkg-config where the headers carry no version macro. */
#ifndef TD_BUILT_YAML
#define TD_BUILT_YAML "?"
#endif
#ifndef TD_BUILT_SNAPPY
#define TD_BUILT_SNAPPY "?"
#endif

#define TD_STR_(x) #x
#define TD_STR(x) TD_STR_(x)

static void row(FILE *out, const char *name, const char *running, const char *built) {
    fprintf(out, "  %-8s %-10s (built with %s)\n", name, running ? running : "-", built);
}

void td_cli_print_version(FILE *out) {
    fprintf(out, "tiff-dumper %s\n", TD_VERSION);
    fputs("libraries:\n", out);
    const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    row(out, "libcurl", cv->version, LIBCURL_VERSION);
    row(out, "libuv", uv_version_string(),
        TD_STR(UV_VERSION_MAJOR) "." TD_STR(UV_VERSION_MINOR) "." TD_STR(UV_VERSION_PATCH));
    row(out, "OpenSSL", OpenSSL_version(OPENSSL_VERSION_STRING), OPENSSL_VERSION_STR);
    row(out, "libyaml", yaml_get_version_string(), TD_BUILT_YAML);
    /* XML_ExpatVersion() says "expat_2.5.0": keep the number only. */
    const char *ev = XML_ExpatVersion();
    if (ev && strncmp(ev, "expat_", 6) == 0)
        ev += 6;
    row(out, "expat", ev,
        TD_STR(XML_MAJOR_VERSION) "." TD_STR(XML_MINOR_VERSION) "." TD_STR(XML_MICRO_VERSION));
    row(out, "zstd", ZSTD_versionString(), ZSTD_VERSION_STRING);
    row(out, "zlib", zlibVersion(), ZLIB_VERSION);
    row(out, "snappy", NULL, TD_BUILT_SNAPPY);
    /* proj_info().release is "Rel. 9.1.1, December 1st, 2022": the number is in .version */
    row(out, "PROJ", proj_info().version,
        TD_STR(PROJ_VERSION_MAJOR) "." TD_STR(PROJ_VERSION_MINOR) "." TD_STR(PROJ_VERSION_PATCH));
    /* What libcurl itself was built with decides TLS back-end, HTTP/2 and proxies. */
    fprintf(out, "libcurl features: %s%s%s%s\n", cv->ssl_version ? cv->ssl_version : "no TLS",
            (cv->features & CURL_VERSION_HTTP2) ? ", HTTP/2" : "",
            (cv->features & CURL_VERSION_IPV6) ? ", IPv6" : "",
            (cv->features & CURL_VERSION_HTTPS_PROXY) ? ", HTTPS proxy" : "");
}
