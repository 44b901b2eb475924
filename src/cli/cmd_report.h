/* cmd_report.h - `tiff-dumper report OUT_DIR [-o FILE]`: one HTML page about a dump. */
#ifndef TD_CMD_REPORT_H
#define TD_CMD_REPORT_H

#include <stdio.h>

void td_cmd_report_usage(FILE *out);
/* argv[0] is "report". Returns the exit status. */
int td_cmd_report(int argc, char **argv);

#endif
