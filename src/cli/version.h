/* version.h - `tiff-dumper --version` text: the tool's version and the libraries it was built
 * against and runs with. */
#ifndef CLI_VERSION_H
#define CLI_VERSION_H

#include <stdio.h>

void td_cli_print_version(FILE *out);

#endif
