/* s3_auth_unit.c - credential_process command lines split as the AWS CLI splits them
 * (botocore: shlex.split; the expected words below are what Python's shlex.split gives). */
#include "s3_process.h"
#include "td_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_split(const char *cmd, const char *const *want) {
    char **got = s3_proc_split(cmd);
    td_test_context = cmd;
    if (!want) {
        CHECK(got == NULL, "split, want a refusal");
        s3_proc_argv_free(got);
        return;
    }
    REQUIRE(got != NULL);
    size_t i = 0;
    for (; want[i] && got[i]; i++)
        CHECK_STR(got[i], want[i]);
    CHECK(want[i] == NULL && got[i] == NULL, "word count differs at %zu", i);
    s3_proc_argv_free(got);
}

#define W(...) ((const char *const[]){__VA_ARGS__, NULL})

int main(void) {
    check_split("a b  c", W("a", "b", "c"));
    check_split("/usr/bin/x --role \"read only\" --json",
                W("/usr/bin/x", "--role", "read only", "--json"));
    check_split("x 'it''s' \"\\\"q\\\\\" a\\ b", W("x", "its", "\"q\\", "a b"));
    check_split("x \"\" '' y", W("x", "", "", "y"));
    check_split("x \"a\\nb\" c\\\\d", W("x", "a\\nb", "c\\d"));
    check_split("  lead\ttab  ", W("lead", "tab"));
    check_split("x 'a $HOME `b`' \"\\$HOME\"", W("x", "a $HOME `b`", "\\$HOME"));
    check_split("x 'unclosed", NULL);
    check_split("x \"unclosed", NULL);
    check_split("", NULL);
    check_split("   ", NULL);
    td_test_context = "";
    return td_test_report("s3_auth_unit");
}
