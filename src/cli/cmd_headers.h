#ifndef TD_CMD_HEADERS_H
#define TD_CMD_HEADERS_H
#include <stdio.h>
/* `tiff-dumper headers CONFIG OUT_DIR [--quiet | --loud]`; returns the exit status. */
int td_cmd_headers(int argc, char **argv);
void td_cmd_headers_usage(FILE *out);
#endif
