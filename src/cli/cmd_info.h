/* cmd_info.h - `tiff-dumper info [--json] FILE...`: parse local TIFF headers and print them. */
#ifndef TD_CMD_INFO_H
#define TD_CMD_INFO_H

/* argv[0] is "info". Exit status: 0 all files parsed, 1 some failed, 2 usage error. */
int td_cmd_info(int argc, char **argv);

#endif
