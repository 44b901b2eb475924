/* az_token.c - Entra ID token providers for the Azure store (see az_token.h). */
#define _GNU_SOURCE /* pipe2 */
#include "az_token.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define AZ_CLI_MAX_OUT (64u << 10)
#define AZ_FEDERATED_MAX (64u << 10)

const char *az_token_source(const az_token_cfg *c) {
    switch (c->kind) {
    case AZ_TOK_CLIENT_SECRET:
        return "the Azure AD token endpoint (client secret)";
    case AZ_TOK_WORKLOAD:
        return "the Azure AD token endpoint (workload identity)";
    case AZ_TOK_IMDS:
        return "the managed identity endpoint (IMDS)";
    case AZ_TOK_CLI:
        return "the Azure CLI";
    }
    return "Azure AD";
}

void az_token_cfg_free(az_token_cfg *c) {
    free(c->url);
    free(c->client_id);
    ut_free_secret(&c->client_secret);
    free(c->federated_file);
    ut_free_secret(&c->identity_header);
    free(c->cli);
    memset(c, 0, sizeof *c);
}

/* What to check after each flow's refusal. */
static const char *hint(const az_token_cfg *c) {
    switch (c->kind) {
    case AZ_TOK_CLIENT_SECRET:
        return "check client_id, client_secret and tenant_id (AZURE_CLIENT_ID, "
               "AZURE_CLIENT_SECRET, AZURE_TENANT_ID)";
    case AZ_TOK_WORKLOAD:
        return "check client_id, tenant_id and the federated credential of the app "
               "registration for this service account";
    case AZ_TOK_IMDS:
        return "check that the VM has a managed identity (and client_id, object_id or "
               "msi_resource_id for a user-assigned one)";
    default:
        return "";
    }
}

int az_run_capture(char *const argv[], unsigned timeout_ms, size_t cap, ut_buf *out, char *errline,
                   size_t errlen) {
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    errline[0] = 0;
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
        snprintf(errline, errlen, "cannot create a pipe: %s", strerror(errno));
        for (int i = 0; i < 2; i++) {
            if (po[i] >= 0)
                close(po[i]);
            if (pe[i] >= 0)
                close(pe[i]);
        }
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    extern char **environ;
    pid_t pid;
    int src = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    if (src != 0) {
        close(po[0]);
        close(pe[0]);
        snprintf(errline, errlen, "cannot run '%s': %s", argv[0], strerror(src));
        return -1;
    }
    /* both pipes until EOF, bounded in time and size; the child is killed on either bound */
    int64_t deadline = store_token_now_ms() + timeout_ms;
    char ebuf[512];
    size_t elen = 0;
    bool open_o = true, open_e = true, too_big = false, timed_out = false;
    while (open_o || open_e) {
        int64_t left = deadline - store_token_now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd p[2] = {{open_o ? po[0] : -1, POLLIN, 0}, {open_e ? pe[0] : -1, POLLIN, 0}};
        int n = poll(p, 2, (int)(left > 1000 ? 1000 : left));
        if (n < 0 && errno != EINTR)
            break;
        char buf[4096];
        if (open_o && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(po[0], buf, sizeof buf);
            if (r <= 0) {
                open_o = false;
            } else if (out->len + (size_t)r > cap) {
                too_big = true;
                break;
            } else {
                ut_buf_put(out, buf, (size_t)r);
            }
        }
        if (open_e && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(pe[0], buf, sizeof buf);
            if (r <= 0) {
                open_e = false;
            } else if (elen < sizeof ebuf - 1) {
                size_t k = (size_t)r < sizeof ebuf - 1 - elen ? (size_t)r : sizeof ebuf - 1 - elen;
                memcpy(ebuf + elen, buf, k);
                elen += k;
            }
        }
    }
    close(po[0]);
    close(pe[0]);
    if (timed_out || too_big)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (timed_out) {
        snprintf(errline, errlen, "'%s' did not finish within %u s", argv[0], timeout_ms / 1000);
        return -1;
    }
    if (too_big) {
        snprintf(errline, errlen, "'%s' wrote more than %zu bytes", argv[0], cap);
        return -1;
    }
    ebuf[elen] = 0;
    /* the first line that says something (az starts some with "WARNING:") */
    char *line = ebuf;
    while (*line) {
        size_t l = strcspn(line, "\r\n");
        if (l && strncmp(line, "WARNING", 7) != 0) {
            line[l] = 0;
            break;
        }
        line += l;
        line += strspn(line, "\r\n");
    }
    ut_msgf(errline, errlen, "%.*s", ut_utf8_prec(line, 200), line);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    snprintf(errline, errlen, "'%s' was killed by signal %d", argv[0],
             WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return -1;
}

static int cli_fetch(store_token *t, const az_token_cfg *c, char *err, size_t errlen) {
    const char *src = az_token_source(c);
    char *argv[] = {c->cli, "account", "get-access-token",       "--output",
                    "json", "--scope", (char *)AZ_STORAGE_SCOPE, NULL};
    ut_buf out = {0};
    char why[256];
    int st = az_run_capture(argv, c->cli_timeout_ms, AZ_CLI_MAX_OUT, &out, why, sizeof why);
    int rc = STORE_E_AUTH;
    if (st < 0) {
        ut_msgf(err, errlen, "%s: %s%s", src, why,
                strstr(why, "cannot run") ? " (install the Azure CLI, or use another "
                                            "credential than use_azure_cli)"
                                          : "");
    } else if (st != 0) {
        ut_msgf(err, errlen, "%s: 'az account get-access-token' failed (exit %d): %s%s", src, st,
                why, strstr(why, "az login") ? "" : " (run 'az login' first?)");
    } else {
        char *tok = NULL;
        int64_t left = 0;
        char perr[160];
        if (store_token_parse(ut_buf_str(&out), out.len, "accessToken", store_token_now_ms() / 1000,
                              &tok, &left, perr, sizeof perr) != 0) {
            ut_msgf(err, errlen, "%s: %s", src, perr);
        } else {
            rc = store_token_set(t, tok, left);
            ut_free_secret(&tok);
        }
    }
    ut_buf_free(&out);
    return rc;
}

/* The form body of the two Azure AD flows. */
static int aad_request(store_token *t, const az_token_cfg *c, char *err, size_t errlen) {
    ut_buf body = {0};
    body.limit = STORE_TOKEN_MAX_BODY;
    store_token_form(&body, "grant_type", "client_credentials");
    store_token_form(&body, "client_id", c->client_id);
    int rc = STORE_OK;
    if (c->kind == AZ_TOK_CLIENT_SECRET) {
        store_token_form(&body, "client_secret", c->client_secret);
    } else {
        char why[160];
        size_t n = 0;
        char *jwt = ut_read_file(c->federated_file, AZ_FEDERATED_MAX, &n, why, sizeof why);
        if (!jwt) {
            ut_buf_free(&body);
            ut_msgf(err, errlen,
                    "%s: cannot read the federated token file '%s' (federated_token_file / "
                    "AZURE_FEDERATED_TOKEN_FILE): %s",
                    az_token_source(c), c->federated_file, why);
            return STORE_E_AUTH;
        }
        while (n && (jwt[n - 1] == '\n' || jwt[n - 1] == '\r' || jwt[n - 1] == ' '))
            jwt[--n] = 0;
        store_token_form(&body, "client_assertion_type",
                         "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        store_token_form(&body, "client_assertion", jwt);
        if (!n)
            rc = STORE_E_AUTH;
        ut_free_secret(&jwt);
        if (rc) {
            ut_buf_free(&body);
            ut_msgf(err, errlen, "%s: the federated token file '%s' is empty", az_token_source(c),
                    c->federated_file);
            return rc;
        }
    }
    store_token_form(&body, "scope", AZ_STORAGE_SCOPE);
    static const char *const hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
                                       "Accept: application/json", NULL};
    rc = body.bad ? STORE_E_NOMEM : store_token_http(t, "POST", c->url, hdrs, body.p, body.len);
    ut_buf_free(&body);
    if (rc)
        ut_msgf(err, errlen, "%s: out of memory", az_token_source(c));
    return rc;
}

int az_token_step(store_token *t, void *ctx, unsigned step, const store_token_resp *prev, char *err,
                  size_t errlen) {
    const az_token_cfg *c = ctx;
    const char *src = az_token_source(c);
    if (step == 0) {
        if (c->kind == AZ_TOK_CLI)
            return cli_fetch(t, c, err, errlen);
        if (c->kind == AZ_TOK_IMDS) {
            const char *hdrs[3] = {"Metadata: true", NULL, NULL};
            ut_buf ih = {0};
            if (c->identity_header) {
                ut_buf_printf(&ih, "X-IDENTITY-HEADER: %s", c->identity_header);
                hdrs[1] = ut_buf_str(&ih);
            }
            int rc = store_token_http(t, "GET", c->url, hdrs, NULL, 0);
            ut_buf_free(&ih);
            return rc;
        }
        return aad_request(t, c, err, errlen);
    }
    /* step 1: the endpoint's answer */
    if (prev->net_status != NET_OK)
        return store_token_failure(prev, src, c->url, hint(c), err, errlen);
    char *tok = NULL;
    int64_t left = 0;
    char perr[160];
    if (store_token_parse(prev->body, prev->len, "access_token", store_token_now_ms() / 1000, &tok,
                          &left, perr, sizeof perr) != 0) {
        ut_msgf(err, errlen, "%s: %s", src, perr);
        return STORE_E_AUTH;
    }
    int rc = store_token_set(t, tok, left);
    ut_free_secret(&tok);
    return rc;
}
