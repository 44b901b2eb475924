/* info_driver.c - runs td_cmd_info() as `tiff-dumper info` does, for testing before the CLI
 * executable exists: argv[1..] are the arguments after "info". */
#include "cmd_info.h"

int main(int argc, char **argv) {
    argv[0] = "info";
    return td_cmd_info(argc, argv);
}
