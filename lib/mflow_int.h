/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmflow internals, shared by its .c files; nothing here is exported. */
#ifndef MFLOW_INT_H
#define MFLOW_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "mflow/mflow.h"

#define MFLOW_EXPORT	__attribute__((visibility("default")))

#define MFLOW_CLASS_DIR	"/sys/class/mflow"
#define MFLOW_MODULE_DIR "/sys/module/mflow"
#define MFLOW_CTL_NODE	"/dev/mflow-control"
#define MFLOW_BY_NAME	"/dev/mflow/by-name"

/* How a console argument reads, before any lookup. */
enum mflow_spec_kind {
	MFLOW_SPEC_PATH,	/* contains '/' */
	MFLOW_SPEC_INDEX,	/* "3" or "mflow3" */
	MFLOW_SPEC_NAME,	/* a valid R17 name */
};

int mflow__classify(const char *console, uint32_t *index);
int mflow__path_index(const char *path, uint32_t *index);
int mflow__ctl_open(void);
bool mflow__parse_u32(const char *s, uint32_t *out);

#endif /* MFLOW_INT_H */
