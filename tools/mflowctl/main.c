// SPDX-License-Identifier: GPL-2.0
/*
 * mflowctl: list, create, remove, watch and drive mflow consoles.
 *
 * Thin over libmflow (<mflow/mflow.h>), sysfs (/sys/class/mflow/mflowN/)
 * and tracefs; see mflowctl(1), `mflowctl --help` and
 * `mflowctl COMMAND --help`.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mflowctl.h"

#define DEV_HELP \
"DEV is an index (3), a kernel name (mflow3), a console name (NAME or\n" \
"name:NAME), a node path (/dev/mflow3, /dev/mflow/by-name/NAME) or fd:N,\n" \
"an endpoint this process inherited open on descriptor N. An empty DEV\n" \
"is an error.\n"

#define T_HELP \
"T is seconds (1.5) or a number with ms, s or m; at most 1000000000 s.\n"

static const struct cmd cmds[] = {
	{ "list", "ls", cmd_list, "list [--json]",
"Every console: index, name, state, endpoints attached, connection, fifo\n"
"size and the bytes sent each way (readable by root only; '-' otherwise).\n"
"Reads sysfs only.\n"
"\n"
"  --json    one JSON object (docs/mflowctl-json.md)\n" },
	{ "info", NULL, cmd_info, "info [--json] DEV",
"One console as sysfs shows it, without opening it; with fd:N, that\n"
"endpoint's own view (flags, queues, MFLOW_IOC_STATS counters).\n"
"\n"
"  --json    one JSON object (docs/mflowctl-json.md)\n\n" DEV_HELP },
	{ "wait", NULL, cmd_wait,
	  "wait [--peer|--connected|--idle] [--timeout T] DEV",
"Sleep until both endpoints are attached (--peer, the default), until any\n"
"is (--connected), or until the connection is over (--idle). Polls sysfs\n"
"and never opens the console.\n"
"\n"
"  --timeout T   give up after T (exit 8)\n\n" DEV_HELP T_HELP },
	{ "connect", NULL, cmd_connect, "connect DEV",
"Bridge stdin and stdout to a new endpoint of DEV. At the end of stdin the\n"
"write side is shut; exits once DEV reached EOF and nothing more can be\n"
"sent.\n\n" DEV_HELP },
	{ "shutdown", NULL, cmd_shutdown, "shutdown [--attach] DEV read|write|both",
"MFLOW_IOC_SHUTDOWN (SPEC R8) on an endpoint you hold, given as fd:N.\n"
"\n"
"  --attach  accept a path, index or name: attach a new endpoint (making\n"
"            mflowctl the peer of whoever waits there) and shut that one\n\n"
DEV_HELP },
	{ "close", NULL, cmd_close, "close [--attach] [--timeout T] DEV",
"MFLOW_IOC_CLOSE, the close handshake (SPEC R9): shut the write side, then\n"
"wait for the peer's close, on an endpoint you hold, given as fd:N.\n"
"\n"
"  --timeout T   give up after T (exit 8); without it, wait as long as it\n"
"                takes\n"
"  --attach      accept a path, index or name (see shutdown --help)\n\n"
DEV_HELP T_HELP },
	{ "trace", NULL, cmd_trace,
	  "trace [--json] [--hex N] [--count N] [--timeout T] [DEV]",
"Follow the mflow tracepoints (all consoles, or DEV's), one line per\n"
"event: time, console, endpoint, operation, bytes, task. Needs root.\n"
"\n"
"  --hex N       show up to N (0..16) first bytes of data\n"
"  --count N     stop after N events (1..4294967295)\n"
"  --timeout T   stop after T (exit 8 if --count was not reached)\n"
"  --json        one JSON object a line (docs/mflowctl-json.md)\n\n"
DEV_HELP T_HELP },
	{ "add", NULL, cmd_add,
	  "add [--name NAME] [--fifo-size SIZE] [--index N] [--wait [--timeout T]] [--json]",
"Create a console through /dev/mflow-control; prints its node.\n"
"\n"
"  --name NAME       SPEC R17: 1..31 of [A-Za-z0-9._-], the first a\n"
"                    letter, digit or _, not all digits, not mflowN\n"
"  --fifo-size SIZE  bytes per direction, 4096..64M (K, M, G suffixes);\n"
"                    rounded up to a power of two\n"
"  --index N         this index (0 .. max_consoles - 1)\n"
"  --wait            return once /dev/mflowN exists and, for a named\n"
"                    console with udev's 60-mflow.rules, its\n"
"                    /dev/mflow/by-name/NAME link too (default --timeout 30)\n"
"  --json            one JSON object (docs/mflowctl-json.md)\n\n" T_HELP },
	{ "del", "delete", cmd_del, "del DEV",
"Remove an idle console through /dev/mflow-control. A name goes to the\n"
"kernel as a name, in one call.\n\n" DEV_HELP },
	{ "query", NULL, cmd_query, "query [--json] DEV",
"MFLOW_CTL_QUERY: name, state, endpoints attached and used, connection,\n"
"fifo size. A name goes to the kernel as a name.\n"
"\n"
"  --json    one JSON object (docs/mflowctl-json.md)\n\n" DEV_HELP },
	{ "free", NULL, cmd_free, "free [--json]",
"An idle console (MFLOW_CTL_GET_FREE: created if none is); prints its node.\n"
"\n"
"  --json    one JSON object (docs/mflowctl-json.md)\n" },
};

#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
"Usage: %s [--help | --version [--json]]\n"
"       %s COMMAND [OPTIONS] [ARGS]\n"
"\n"
"List, create, remove, watch and drive mflow consoles (/dev/mflowN).\n"
"\n"
"Commands (each takes -h, --help):\n", prog, prog);
	for (i = 0; i < NCMDS; i++) {
		fprintf(f, "  %s\n", cmds[i].synopsis);
		if (cmds[i].alias)
			fprintf(f, "      (also '%s')\n", cmds[i].alias);
	}
	fprintf(f,
"\n"
"list, info and wait read sysfs (any user); add, del, query and free use\n"
"/dev/mflow-control (root, or group mflow with the shipped udev rule).\n"
"\n" DEV_HELP "\n" T_HELP
"\n"
"Options:\n"
"  -h, --help               this text\n"
"  -V, --version            mflowctl's version and the loaded module's\n"
"\n"
"Exit status:\n"
"  0  success\n"
"  1  any other failure\n"
"  2  bad command line, or a value the module refused (EINVAL)\n"
"  3  the mflow module is not loaded\n"
"  4  the module is older than mflowctl (no control device) or speaks\n"
"     another ABI\n"
"  5  no such console\n"
"  6  busy: the console's connection is live, both endpoints are taken, the\n"
"     index or name is taken, or the console limit is reached\n"
"  7  permission denied\n"
"  8  timed out (wait, close, add --wait, trace --count with --timeout)\n"
"  9  not supported here: no tracefs, or no mflow trace events\n"
"\n"
"See mflowctl(1).\n");
}

/*
 * --version: the tool's version always; the module's from sysfs, which
 * any user may read; its control ABI when the control node answers.
 */
static int print_version(bool json)
{
	struct mflow_ctl_version v = { 0 };
	char mod[64] = "";
	int err, rc = EX_OK;
	bool loaded = module_loaded(), ctl = false;
	const char *why = NULL;

	if (loaded && mflow_module_version(mod, sizeof(mod)))
		snprintf(mod, sizeof(mod), "unknown");
	if (loaded && access(CTL_SYSFS, F_OK)) {
		why = "without a control device (older than mflowctl)";
		rc = EX_MISMATCH;
	} else if (loaded) {
		err = mflow_ctl_version(&v);
		if (!err) {
			ctl = true;
			if (v.abi != MFLOW_CTL_ABI)
				rc = EX_MISMATCH;
		} else {
			why = strerror(-err);
		}
	}
	if (json) {
		json_begin();
		printf(",\"mflowctl\":\"%s\",\"abi\":%u,\"module\":", MFLOW_VERSION,
		       MFLOW_CTL_ABI);
		json_name(loaded ? mod : NULL);
		if (ctl)
			printf(",\"module_abi\":%u,\"consoles\":%u,\"max_consoles\":%u}\n",
			       v.abi, v.consoles, v.max_consoles);
		else
			printf(",\"module_abi\":null,\"consoles\":null,\"max_consoles\":null}\n");
	} else {
		printf("mflowctl %s (ABI %u)\n", MFLOW_VERSION, MFLOW_CTL_ABI);
		if (!loaded)
			printf("module: not loaded\n");
		else if (ctl)
			printf("module: %s (ABI %u), %u of at most %u consoles\n",
			       mod, v.abi, v.consoles, v.max_consoles);
		else
			printf("module: %s (%s: %s)\n", mod, CTL_NODE, why);
	}
	if (ctl && v.abi != MFLOW_CTL_ABI)
		msg("the module's ABI %u is %s than mflowctl's %u; install matching versions",
		    v.abi, v.abi < MFLOW_CTL_ABI ? "older" : "newer",
		    MFLOW_CTL_ABI);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	bool version = false, json = false;
	const char *name;
	size_t i;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hVj", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			finish(EX_OK);
		case 'V':
			version = true;
			break;
		case 'j':
			json = true;
			break;
		default:
			if (optopt)
				usage_error("unknown option '-%c'", optopt);
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (version)
		finish(print_version(json));
	if (json)
		usage_error("--json goes after the command (or with --version)");
	if (optind >= argc)
		usage_error("no command given");
	name = argv[optind];
	if (!strcmp(name, "help")) {
		usage(stdout);
		finish(EX_OK);
	}
	for (i = 0; i < NCMDS; i++) {
		if (strcmp(name, cmds[i].name) &&
		    (!cmds[i].alias || strcmp(name, cmds[i].alias)))
			continue;
		cur_cmd = &cmds[i];
		argc -= optind;
		argv += optind;
		optind = 0;	/* a fresh getopt for the command's options */
		finish(cmds[i].run(argc, argv));
	}
	usage_error("unknown command '%s'", name);
}
