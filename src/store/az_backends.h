/* az_backends.h - entry points of the Azure Blob and Google Cloud Storage backends, for
 * store.c's dispatch table. They need the network engine: AZGCS_HAVE_NET says whether it
 * is part of this build (its header is reachable only when td_store links td_net). */
#ifndef STORE_AZ_BACKENDS_H
#define STORE_AZ_BACKENDS_H

#include "store.h"

#include <stdbool.h>

#if defined(__has_include)
#if __has_include("net.h")
#define AZGCS_HAVE_NET 1
#endif
#endif

#ifdef AZGCS_HAVE_NET
/* az://, azure://, adl://, abfs[s]://container@account.dfs.core.windows.net/, and
 * https://ACCOUNT.blob.core.windows.net/container/ (see store_azure_is_https_url). */
int store_azure_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                     char *err, size_t errlen);
/* gs://bucket/prefix */
int store_gcs_open(store **out, uv_loop_t *loop, const char *url, const store_options *opts,
                   char *err, size_t errlen);
#endif

/* True for https:// URLs that name an Azure storage account host
 * (ACCOUNT.blob.core.windows.net or ACCOUNT.dfs.core.windows.net). */
bool store_azure_is_https_url(const char *url);

#endif
