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

/*
 * <kunit/visibility.h> came with 6.2 (and 6.1.y); 5.10 lacks it. The
 * fallback is its own definition, so the core's symbols are static and
 * unexported unless KUnit is on. Include this header instead of it.
 */
#if __has_include("kunit/visibility.h")
#include <kunit/visibility.h>
#elif IS_ENABLED(CONFIG_KUNIT)
#define VISIBLE_IF_KUNIT
#define EXPORT_SYMBOL_IF_KUNIT(symbol) \
	EXPORT_SYMBOL_NS(symbol, EXPORTED_FOR_KUNIT_TESTING)
#else
#define VISIBLE_IF_KUNIT static
#define EXPORT_SYMBOL_IF_KUNIT(symbol)
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

/*
 * 6.2 made class.dev_uevent() take a const struct device (commit
 * "driver core: make struct class.dev_uevent() take a const *").
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define MFLOW_UEVENT_DEV	const struct device
#else
#define MFLOW_UEVENT_DEV	struct device
#endif

#endif /* _MFLOW_COMPAT_H */
