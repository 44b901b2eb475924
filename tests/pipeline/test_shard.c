/* test_shard.c - shard.h: the documented hash (fixed vectors: a change would move keys
 * between shards of a split that is half done), spread, names, what a run replaces, and the
 * job engines' variables through a fake environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard.h"
#include "td_test.h"

static const char *const *fake_env;

static const char *fake_getenv(const char *name) {
    for (size_t i = 0; fake_env && fake_env[i]; i += 2)
        if (strcmp(fake_env[i], name) == 0)
            return fake_env[i + 1];
    return NULL;
}

/* Runs td_shard_from_env over NULL-terminated name/value pairs. */
static int from_env(const char *const *env, uint32_t hint, td_shard_options *s, char *err,
                    size_t errlen) {
    char src[256];
    fake_env = env;
    memset(s, 0, sizeof *s);
    return td_shard_from_env(s, hint, fake_getenv, src, sizeof src, err, errlen);
}

int main(void) {
    /* FNV-1a 64 + fmix64, as shard.h specifies (computed independently in Python) */
    CHECK(td_shard_hash("", 0) == 0xefd01f60ba992926ull);
    CHECK(td_shard_hash("a", 1) == 0x82a2a958a9bece5bull);
    CHECK(td_shard_hash("tiles/tile_001.tif", 18) == 0x59eddbbecfffcdabull);
    CHECK(td_shard_hash("tiles/tile_002.tif", 18) == 0xa50924ed5b1ff60full);
    CHECK(td_shard_hash("\xc3\xa9/\xc3\xbc.tif", 9) == 0xa46e9c6e78953ea4ull);

    /* every key in exactly one shard, and keys that differ in their last digits spread */
    unsigned per[7] = {0};
    for (int i = 0; i < 7000; i++) {
        char k[64];
        int n = snprintf(k, sizeof k, "tiles/2024/tile_%05d.tif", i);
        int owners = 0;
        for (uint32_t s = 0; s < 7; s++) {
            td_shard_options o = {s, 7};
            if (td_shard_owns(&o, k, (size_t)n)) {
                owners++;
                per[s]++;
            }
        }
        CHECK(owners == 1, "%s owned by %d shards", k, owners);
    }
    for (int s = 0; s < 7; s++)
        CHECK(per[s] > 850 && per[s] < 1150, "shard %d has %u of 7000 keys", s, per[s]);
    td_shard_options off = {0, 0};
    CHECK(td_shard_owns(&off, "x", 1) && td_shard_owns(NULL, "x", 1));

    /* parsing --shard */
    td_shard_options s;
    char err[512];
    CHECK(td_shard_parse("3/10", &s, err, sizeof err) == 0 && s.index == 3 && s.count == 10);
    CHECK(td_shard_parse("0/1", &s, err, sizeof err) == 0 && s.count == 1);
    const char *bad[] = {"10/10", "1",    "/3",  "1/",        "a/3",           "-1/3",  "+1/3",
                         "1/3x",  " 1/3", "1/0", "0/1000001", "99999999999/3", "1/3/4", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(td_shard_parse(bad[i], &s, err, sizeof err) == -1 && strstr(err, "--shard"),
              "'%s' accepted", bad[i]);

    /* names */
    char b[64];
    td_shard_options s3 = {3, 10}, big = {12345, 20000};
    td_shard_part_name(b, sizeof b, &s3, 7, false);
    CHECK_STR(b, "part-S0003-00007.parquet");
    td_shard_part_name(b, sizeof b, &s3, 7, true);
    CHECK_STR(b, ".part-S0003-00007.parquet.tmp");
    td_shard_part_name(b, sizeof b, &off, 7, false);
    CHECK_STR(b, "part-00007.parquet");
    td_shard_part_name(b, sizeof b, &big, 0, false);
    CHECK_STR(b, "part-S12345-00000.parquet");
    td_shard_marker_name(b, sizeof b, &s3);
    CHECK_STR(b, "_SUCCESS.shard-0003-of-0010");
    td_shard_marker_name(b, sizeof b, &off);
    CHECK_STR(b, "_SUCCESS");
    uint32_t i, n;
    CHECK(td_shard_part_of("part-S0003-00007.parquet", &i) == 1 && i == 3);
    CHECK(td_shard_part_of("part-00007.parquet", &i) == 0);
    CHECK(td_shard_part_of("part-S3.parquet", &i) == -1);
    CHECK(td_shard_part_of("part-x.parquet", &i) == -1);
    CHECK(td_shard_marker_of("_SUCCESS.shard-0003-of-0010", &i, &n) && i == 3 && n == 10);
    CHECK(!td_shard_marker_of("_SUCCESS.shard-0010-of-0010", &i, &n));
    CHECK(!td_shard_marker_of("_SUCCESS.shard-0003-of-0010.tmp", &i, &n));

    /* what a run replaces */
    CHECK(td_shard_replaces(&s3, "part-S0003-00000.parquet"));
    CHECK(td_shard_replaces(&s3, ".part-S0003-00002.parquet.tmp"));
    CHECK(!td_shard_replaces(&s3, "part-S0004-00000.parquet"));
    CHECK(!td_shard_replaces(&s3, "part-00000.parquet"));
    CHECK(td_shard_replaces(&s3, "_SUCCESS.shard-0003-of-0010"));
    CHECK(td_shard_replaces(&s3, "_SUCCESS.shard-0003-of-0005")); /* an older split's */
    CHECK(td_shard_replaces(&s3, "._SUCCESS.shard-0003-of-0010.tmp"));
    CHECK(!td_shard_replaces(&s3, "_SUCCESS.shard-0002-of-0010"));
    CHECK(td_shard_replaces(&s3, "_SUCCESS"));
    CHECK(td_shard_replaces(&s3, "._SUCCESS.tmp.shard-0003.77"));
    CHECK(!td_shard_replaces(&s3, "._SUCCESS.tmp.shard-0004.77"));
    CHECK(!td_shard_replaces(&s3, "._SUCCESS.tmp.finish.77"));
    CHECK(!td_shard_replaces(&s3, "notes.txt"));
    CHECK(td_shard_replaces(&off, "part-S0004-00000.parquet"));
    CHECK(td_shard_replaces(&off, "_SUCCESS.shard-0002-of-0010"));
    CHECK(td_shard_replaces(&off, "._SUCCESS.tmp"));
    CHECK(td_shard_replaces(&off, "part-00001.parquet"));
    CHECK(!td_shard_replaces(&off, "part-.parquet"));
    CHECK(!td_shard_replaces(&off, "data.parquet"));

    /* engines */
    const char *none[] = {NULL};
    CHECK(from_env(none, 5, &s, err, sizeof err) == 0);
    const char *k8s[] = {"JOB_COMPLETION_INDEX", "4", NULL};
    CHECK(from_env(k8s, 5, &s, err, sizeof err) == 1 && s.index == 4 && s.count == 5);
    CHECK(from_env(k8s, 0, &s, err, sizeof err) == -1 && strstr(err, "--shards N"));
    CHECK(from_env(k8s, 4, &s, err, sizeof err) == -1 && strstr(err, "out of range"));
    const char *empty[] = {"JOB_COMPLETION_INDEX", "", NULL};
    CHECK(from_env(empty, 5, &s, err, sizeof err) == 0); /* set but empty = unset */
    const char *aws[] = {"AWS_BATCH_JOB_ARRAY_INDEX", "9", "AWS_BATCH_JOB_ARRAY_SIZE", "10", NULL};
    CHECK(from_env(aws, 0, &s, err, sizeof err) == 1 && s.index == 9 && s.count == 10);
    CHECK(from_env(aws, 10, &s, err, sizeof err) == 1);
    CHECK(from_env(aws, 11, &s, err, sizeof err) == -1 && strstr(err, "must agree"));
    const char *slurm[] = {"SLURM_ARRAY_TASK_ID",
                           "12",
                           "SLURM_ARRAY_TASK_MIN",
                           "10",
                           "SLURM_ARRAY_TASK_COUNT",
                           "4",
                           NULL};
    CHECK(from_env(slurm, 0, &s, err, sizeof err) == 1 && s.index == 2 && s.count == 4);
    const char *step[] = {"SLURM_ARRAY_TASK_ID",
                          "13",
                          "SLURM_ARRAY_TASK_MIN",
                          "1",
                          "SLURM_ARRAY_TASK_COUNT",
                          "4",
                          "SLURM_ARRAY_TASK_STEP",
                          "4",
                          NULL};
    CHECK(from_env(step, 0, &s, err, sizeof err) == 1 && s.index == 3 && s.count == 4);
    const char *off_grid[] = {"SLURM_ARRAY_TASK_ID",
                              "12",
                              "SLURM_ARRAY_TASK_MIN",
                              "1",
                              "SLURM_ARRAY_TASK_COUNT",
                              "4",
                              "SLURM_ARRAY_TASK_STEP",
                              "4",
                              NULL};
    CHECK(from_env(off_grid, 0, &s, err, sizeof err) == -1 && strstr(err, "not as a list"));
    const char *below[] = {"SLURM_ARRAY_TASK_ID",
                           "0",
                           "SLURM_ARRAY_TASK_MIN",
                           "1",
                           "SLURM_ARRAY_TASK_COUNT",
                           "4",
                           NULL};
    CHECK(from_env(below, 0, &s, err, sizeof err) == -1);
    /* Kubernetes first when several engines' variables are set */
    const char *both[] = {"SLURM_ARRAY_TASK_ID",
                          "1",
                          "JOB_COMPLETION_INDEX",
                          "2",
                          "SLURM_ARRAY_TASK_COUNT",
                          "3",
                          NULL};
    CHECK(from_env(both, 3, &s, err, sizeof err) == 1 && s.index == 2);
    return td_test_report("test_shard");
}
