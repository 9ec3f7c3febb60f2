/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mflow: what the module's files share beyond the flow core - the console
 * registry and control device (mflow_ctl.c) and the character devices with
 * their sysfs nodes (mflow_main.c).
 */
#ifndef _MFLOW_H
#define _MFLOW_H

#include <linux/device.h>
#include <linux/types.h>

struct mflow_console;

/* mflow_main.c: the sysfs node of a console, "mflowN" in class mflow. */
struct device *mflow_device_create(struct mflow_console *con);
void mflow_device_destroy(struct device *dev);

/* mflow_ctl.c: the consoles that exist, and /dev/mflow-control. */
void mflow_ctl_init(unsigned int max_consoles, unsigned int fifo_size);
int mflow_ctl_register(void);
void mflow_ctl_unregister(void);
void mflow_ctl_exit(void);
int mflow_console_add(u32 index, const char *name, u32 fifo_size);
struct mflow_console *mflow_console_lookup(unsigned int index);
bool mflow_name_valid(const char *name, size_t size);

#endif /* _MFLOW_H */
