/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mflow: what the module's files share beyond the flow core. The calls go
 * one way: the entry and character device (mflow_main.c) use the console
 * registry and control device (mflow_ctl.c), which use the flow core
 * (mflow_core.c); mflow_ctl.c calls nothing in mflow_main.c, which hands it
 * the device class and the limits at load instead.
 */
#ifndef _MFLOW_H
#define _MFLOW_H

#include <linux/device.h>
#include <linux/kdev_t.h>
#include <linux/types.h>

struct mflow_console;

/**
 * struct mflow_ctl_config - what the registry needs from the module's entry
 * @class: the class consoles' devices ("mflowN") belong to; it carries
 *	their sysfs attributes and uevent.
 * @devt: the first of @max_consoles character device numbers; console N
 *	gets @devt + N.
 * @max_consoles: console indices run from 0 to @max_consoles - 1.
 * @fifo_size: bytes per direction of a console added with size 0.
 */
struct mflow_ctl_config {
	struct class *class;
	dev_t devt;
	unsigned int max_consoles;
	unsigned int fifo_size;
};

/* mflow_ctl.c: the consoles that exist, and /dev/mflow-control. */
void mflow_ctl_init(const struct mflow_ctl_config *cfg);
int mflow_ctl_register(void);
void mflow_ctl_unregister(void);
void mflow_ctl_exit(void);
int mflow_console_add(u32 index, const char *name, u32 fifo_size);
struct mflow_console *mflow_console_lookup(unsigned int index);

#if IS_ENABLED(CONFIG_KUNIT)
bool mflow_name_valid(const char *name, size_t size);
#endif

#endif /* _MFLOW_H */
