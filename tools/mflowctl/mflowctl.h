/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mflowctl: what its parts share. The tool is thin over libmflow
 * (<mflow/mflow.h>): every ioctl goes through the library.
 *
 *   main.c      the command table, help, --version
 *   args.c      messages, exit codes, options, numbers, DEV resolution
 *   output.c    checked standard output, JSON
 *   control.c   list, info, wait, add, del, query, free
 *   connect.c   the endpoint commands: connect, shutdown, close
 *   trace.c     trace
 */
#ifndef MFLOWCTL_H
#define MFLOWCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <mflow/mflow.h>

#ifndef MFLOW_VERSION
#error "MFLOW_VERSION (dkms.conf's PACKAGE_VERSION) must be given with -D"
#endif

#define CLASS_DIR	"/sys/class/mflow"
#define MODULE_DIR	"/sys/module/mflow"
#define CTL_NODE	"/dev/mflow-control"
#define CTL_SYSFS	"/sys/class/misc/mflow-control"
#define BY_NAME_DIR	"/dev/mflow/by-name"

/* JSON output's "json_version"; docs/mflowctl-json.md describes it. */
#define JSON_VERSION	1

/* Exit codes; main.c's help and mflowctl.1 say the same. */
enum {
	EX_OK		= 0,
	EX_FAIL		= 1,	/* any other failure */
	EX_USAGE	= 2,	/* bad command line, or a value the module refused */
	EX_NOMODULE	= 3,	/* mflow is not loaded */
	EX_MISMATCH	= 4,	/* module older than mflowctl, or ABI mismatch */
	EX_NOCONSOLE	= 5,	/* no such console */
	EX_BUSY		= 6,	/* in use, index or name taken, limit reached */
	EX_PERM		= 7,	/* permission denied */
	EX_TIMEOUT	= 8,	/* --timeout ran out */
	EX_UNSUPPORTED	= 9,	/* no tracefs, or no mflow trace events */
};

/*
 * struct cmd - one command
 * @name: what the user types; @alias: another name for it, or NULL.
 * @run: the command, with argv[0] its name.
 * @synopsis: its usage line(s), without "mflowctl ".
 * @help: what it does and its options, for "COMMAND --help".
 */
struct cmd {
	const char *name;
	const char *alias;
	int (*run)(int argc, char **argv);
	const char *synopsis;
	const char *help;
};

extern const char *prog;
extern const struct cmd *cur_cmd;

/* args.c */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int errno_exit(int err);
void __attribute__((noreturn, format(printf, 2, 3)))
fail_errno(int err, const char *fmt, ...);
void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...);
void __attribute__((noreturn)) finish(int rc);
bool module_loaded(void);
void __attribute__((noreturn)) no_module(void);
void __attribute__((noreturn)) ctl_fail(int err, const char *what);
void perm_hint(const char *path, int err);

int next_opt(int argc, char **argv, const char *shorts,
	     const struct option *longs);
void want_args(int argc, char **argv, int min, int max);
uint32_t arg_u32(const char *what, const char *s, uint32_t min, uint32_t max);
uint32_t arg_size(const char *what, const char *s, uint32_t min, uint32_t max);
int64_t arg_duration_ns(const char *what, const char *s);
long long now_ms(void);
int poll_left(long long deadline);
long long deadline_after(int64_t ns);

/*
 * struct target - what a DEV argument named
 * @index: the console's index.
 * @fd: with "fd:N", the caller's open endpoint; else -1.
 * @arg: DEV as given.
 */
struct target {
	uint32_t index;
	int fd;
	const char *arg;
};
void resolve(const char *dev, struct target *t);
const char *name_arg(const char *dev);
int open_console(uint32_t index, int flags);

/* output.c */
void json_str(const char *s);
void json_name(const char *s);
void json_begin(void);
void json_flags(uint32_t flags);
const char *const *info_flag_names(void);

/* control.c */
int cmd_list(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_add(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_free(int argc, char **argv);

/* connect.c */
int cmd_connect(int argc, char **argv);
int cmd_shutdown(int argc, char **argv);
int cmd_close(int argc, char **argv);

/* trace.c */
int cmd_trace(int argc, char **argv);

#endif /* MFLOWCTL_H */
