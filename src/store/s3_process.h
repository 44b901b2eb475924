/* s3_process.h - runs a profile's credential_process (internal to the S3 backend).
 *
 * As the AWS CLI does (botocore: shlex.split, then a process without a shell): the command
 * line is split into words, the program is looked up in PATH and run with stdin from
 * /dev/null. Bounded: at most S3_PROC_MAX_OUT bytes of stdout (the credentials JSON) and
 * S3_PROC_TIMEOUT_MS, then it is killed. Messages name the program, never its arguments
 * (which may hold secrets) nor its stdout; they quote the end of its stderr, as the CLI
 * shows stderr. */
#ifndef STORE_S3_PROCESS_H
#define STORE_S3_PROCESS_H

#include <stddef.h>
#include <uv.h>

#define S3_PROC_MAX_OUT (64u * 1024u)
#define S3_PROC_TIMEOUT_MS (60 * 1000)

/* The words of cmd split as Python's shlex.split does (POSIX mode, no comments): blanks
 * separate, '...' is literal, "..." takes only \" and \\ as escapes (any other backslash
 * stays), a backslash outside quotes escapes the next character; no expansions. A malloc'ed
 * NULL-terminated array (s3_proc_argv_free), or NULL when cmd has no word or an unclosed quote. */
char **s3_proc_split(const char *cmd);
void s3_proc_argv_free(char **argv);

/* Called once when the process has exited and its output is read: ok with its stdout (out,
 * n: valid during the call, wiped after), or !ok with a message. */
typedef void (*s3_proc_cb)(void *arg, int ok, const char *out, size_t n, const char *msg);

typedef struct s3_proc s3_proc;

/* Starts argv (not copied; must outlive the run). NULL when it could not be started, with
 * the reason in err; cb is then not called. */
s3_proc *s3_proc_start(uv_loop_t *loop, char *const *argv, s3_proc_cb cb, void *arg, char *err,
                       size_t errlen);

/* Kills a running process; cb is not called. Its handles are released on a later turn of
 * the loop. */
void s3_proc_cancel(s3_proc *p);

#endif
