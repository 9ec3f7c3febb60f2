/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mflow_compat.h - every kernel-version difference mflow cares about.
 *
 * No other file in mflow tests LINUX_VERSION_CODE.
 */
#ifndef _MFLOW_COMPAT_H
#define _MFLOW_COMPAT_H

#include <linux/module.h>
#include <linux/uio.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 10, 0)
#error "mflow needs Linux 5.10 or later"
#endif

/* 6.1 renamed the iov_iter directions; older kernels use READ/WRITE. */
#ifndef ITER_DEST
#define ITER_DEST	READ
#define ITER_SOURCE	WRITE
#endif

/* 6.13 turned symbol namespaces into string literals. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#define MFLOW_IMPORT_KUNIT_NS()	MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING")
#else
#define MFLOW_IMPORT_KUNIT_NS()	MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING)
#endif

#endif /* _MFLOW_COMPAT_H */
