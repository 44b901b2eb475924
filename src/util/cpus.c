/* cpus.c - how many CPUs this process may use (see util.h): the online CPUs, narrowed by the
 * affinity mask (taskset, a container's cpuset) and by a cgroup CPU quota (docker --cpus,
 * a Kubernetes limit). The count of online CPUs alone made `taskset -c 1` start two fetch
 * threads on one CPU, which then took turns at it: 12-24% more CPU per header over loopback
 * http at 64 and 1,000 in flight (issue 12). tokio, which the Python tool runs on, sizes its
 * workers the same way (Rust's available_parallelism: affinity, then the cgroup quota). */
#define _GNU_SOURCE
#include "util.h"

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* CPUs a quota of quota microseconds per period allows, rounded up (a quota of 1.5 CPUs
 * keeps 2 busy part of the time); 0 = no quota. */
static unsigned quota_cpus(long long quota, long long period) {
    if (quota <= 0 || period <= 0)
        return 0;
    long long n = (quota + period - 1) / period;
    return n > 65536 ? 65536u : (unsigned)n;
}

/* The quota of one cgroup v2 directory (its cpu.max: "max 100000" or "200000 100000"). */
static unsigned v2_dir_quota(const char *dir) {
    char path[4200];
    if (snprintf(path, sizeof path, "%s/cpu.max", dir) >= (int)sizeof path)
        return 0; /* no such path can be read anyway */
    char *t = ut_read_file(path, 256, NULL, NULL, 0);
    if (!t)
        return 0;
    long long q = 0, p = 0;
    unsigned n = 0;
    if (strncmp(t, "max", 3) != 0 && sscanf(t, "%lld %lld", &q, &p) == 2)
        n = quota_cpus(q, p);
    free(t);
    return n;
}

unsigned ut__cgroup_cpu_quota(const char *root, const char *proc_cgroup) {
    unsigned best = 0;
    char *pc = ut_read_file(proc_cgroup, 64 * 1024, NULL, NULL, 0);
    if (!pc)
        return 0;
    /* cgroup v2: the line "0::/PATH"; its cpu.max and every parent's up to the root bound
     * the process (a limit can be set on any ancestor) */
    for (char *line = pc, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, "0::", 3) != 0)
            continue;
        char dir[4200];
        const char *rel = line + 3;
        if (strstr(rel, "..") || snprintf(dir, sizeof dir, "%s%s", root, rel) >= (int)sizeof dir)
            break;
        size_t rootlen = strlen(root);
        for (;;) {
            size_t l = strlen(dir);
            while (l > rootlen && dir[l - 1] == '/')
                dir[--l] = '\0';
            unsigned n = v2_dir_quota(dir);
            if (n && (!best || n < best))
                best = n;
            char *slash = strrchr(dir, '/');
            if (l <= rootlen || !slash || (size_t)(slash - dir) < rootlen)
                break;
            *slash = '\0';
        }
        break;
    }
    free(pc);
    if (best)
        return best;
    /* cgroup v1: the cpu controller's quota at the mount (what a container sees) */
    char path[4200];
    char *q = snprintf(path, sizeof path, "%s/cpu/cpu.cfs_quota_us", root) < (int)sizeof path
                  ? ut_read_file(path, 64, NULL, NULL, 0)
                  : NULL;
    char *p = snprintf(path, sizeof path, "%s/cpu/cpu.cfs_period_us", root) < (int)sizeof path
                  ? ut_read_file(path, 64, NULL, NULL, 0)
                  : NULL;
    if (q && p)
        best = quota_cpus(atoll(q), atoll(p));
    free(q);
    free(p);
    return best;
}

unsigned ut_cpus_available(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = online < 1 ? 1u : online > 65536 ? 65536u : (unsigned)online;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int a = CPU_COUNT(&set);
        if (a >= 1 && (unsigned)a < n)
            n = (unsigned)a;
    }
    unsigned q = ut__cgroup_cpu_quota("/sys/fs/cgroup", "/proc/self/cgroup");
    if (q && q < n)
        n = q;
    return n;
}
