/* cli_int.h - shared by the cli module's own files only */
#ifndef PH_CLI_INT_H
#define PH_CLI_INT_H

#include <unistd.h>

#include "cli/cli.h"
#include "lib/lib.h"
#include "store/store.h"

struct store *cli_open_store(const char *data_dir, int create);
int cli_take_data_dir(int argc, char **argv, int *i, const char **data_dir);

#endif
