/* cmd_finish.h - `tiff-dumper finish OUT_DIR`: the dataset's _SUCCESS once every shard is done. */
#ifndef TD_CMD_FINISH_H
#define TD_CMD_FINISH_H

#include <stdio.h>

void td_cmd_finish_usage(FILE *out);
/* argv[0] is "finish". Returns the exit status. */
int td_cmd_finish(int argc, char **argv);

#endif
