#include "dp/preflight.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "judge/banlist.h"
#include "judge/suffix.h"
#include "smtp/scan.h"

int preflight_output(const char *path, char *err, size_t err_size)
{
	struct stat st;
	char dir[PATH_MAX];

	if (path[0] == '\0' || strcmp(path, "-") == 0)
		return 0;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, err_size, "%s: is a directory", path);
			return -1;
		}
		if (access(path, W_OK) != 0) {
			snprintf(err, err_size, "%s: %s", path, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	const char *parent = dirname(dir);
	if (access(parent, W_OK | X_OK) != 0) {
		snprintf(err, err_size, "%s: cannot be created in %s: %s", path, parent,
		         strerror(errno));
		return -1;
	}
	return 0;
}

static void say(FILE *report, const char *what, const char *path, const char *detail)
{
	if (report != NULL)
		fprintf(report, "helogate: %-16s %s%s%s\n", what, path, detail[0] ? ": " : "",
		        detail);
}

int preflight_check(const struct config *cfg, FILE *report, char *err, size_t err_size)
{
	char detail[128];
	const char *psl = cfg->psl_path[0] ? cfg->psl_path : HG_DEFAULT_PSL_FILE;

	struct suffix_list *suffixes = suffix_list_load(psl, err, err_size);
	if (suffixes == NULL)
		return -1;
	suffix_list_free(suffixes);
	say(report, "suffix list", psl, "loaded");

	if (cfg->banlist_path[0]) {
		struct banlist *list = banlist_load_file(cfg->banlist_path, err, err_size);
		if (list == NULL)
			return -1;
		snprintf(detail, sizeof(detail), "%zu name(s)", banlist_size(list));
		banlist_free(list);
		say(report, "banned list", cfg->banlist_path, detail);
	}
	if (cfg->patterns_path[0]) {
		struct scan_patterns *p =
		    scan_patterns_load_file(cfg->patterns_path, err, err_size);
		if (p == NULL)
			return -1;
		snprintf(detail, sizeof(detail), "%u pattern(s) compiled", scan_patterns_count(p));
		scan_patterns_free(p);
		say(report, "banned patterns", cfg->patterns_path, detail);
	}
	struct scan_commands *commands = scan_commands_compile(err, err_size);
	if (commands == NULL)
		return -1;
	scan_commands_free(commands);
	say(report, "command database", "(built in)", "compiled");

	if (preflight_output(cfg->events_path, err, err_size) != 0 ||
	    preflight_output(cfg->stats_path, err, err_size) != 0)
		return -1;
	if (cfg->events_path[0])
		say(report, "events", cfg->events_path, "appendable");
	if (cfg->stats_path[0])
		say(report, "stats", cfg->stats_path, "writable");
	return 0;
}
