/*
 * NAME
 *	cli_common - opening the data directory for a subcommand
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_int.h"

/* Open (creating when asked) the store in data_dir; prints and returns
 * NULL on error. */
struct store *
cli_open_store(const char *data_dir, int create)
{
	struct store *st;
	char err[512], *path;

	if (create && mkdir(data_dir, 0750) < 0 && errno != EEXIST) {
		fprintf(stderr, "posthaste: cannot create data directory %s: %s\n", data_dir,
			strerror(errno));
		return NULL;
	}
	if (!create && access(data_dir, F_OK) < 0) {
		fprintf(stderr, "posthaste: no data directory %s (start posthaste serve first, or "
				"give --data-dir)\n",
			data_dir);
		return NULL;
	}
	if (priv_become_owner(data_dir) < 0) {
		fprintf(stderr, "posthaste: cannot become the owner of %s\n", data_dir);
		return NULL;
	}
	path = xasprintf("%s/%s", data_dir, CLI_STORE_FILE);
	if (store_open(path, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "posthaste: %s\n", err);
		free(path);
		return NULL;
	}
	free(path);
	return st;
}

/* Take "--data-dir DIR" or "--data-dir=DIR" at argv[*i]; 1 when taken. */
int
cli_take_data_dir(int argc, char **argv, int *i, const char **data_dir)
{
	const char *a = argv[*i];

	if (strcmp(a, "--data-dir") == 0) {
		if (*i + 1 >= argc) {
			fprintf(stderr, "posthaste: --data-dir needs a directory\n");
			exit(2);
		}
		*data_dir = argv[++*i];
		return 1;
	}
	if (strncmp(a, "--data-dir=", 11) == 0) {
		*data_dir = a + 11;
		return 1;
	}
	return 0;
}
