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
 * VISIBLE_IF_KUNIT and EXPORT_SYMBOL_IF_KUNIT(): a function the KUnit
 * suites call is static and unexported unless the kernel has KUnit; then
 * it is exported in the EXPORTED_FOR_KUNIT_TESTING namespace. The kernel
 * has had <kunit/visibility.h> since 6.2 (some 6.1 stable releases carry
 * it too); this is the same for those without it.
 */
#if __has_include("kunit/visibility.h")
#include <kunit/visibility.h>
#elif IS_ENABLED(CONFIG_KUNIT)
#define VISIBLE_IF_KUNIT
#define EXPORT_SYMBOL_IF_KUNIT(symbol) \
	EXPORT_SYMBOL_NS(symbol, EXPORTED_FOR_KUNIT_TESTING)
#else
#define VISIBLE_IF_KUNIT		static
#define EXPORT_SYMBOL_IF_KUNIT(symbol)
#endif

/* 6.13 turned symbol namespaces into string literals. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#define MFLOW_KUNIT_NS	"EXPORTED_FOR_KUNIT_TESTING"
#else
#define MFLOW_KUNIT_NS	EXPORTED_FOR_KUNIT_TESTING
#endif

/* One more level, so that older kernels' #ns sees the expansion. */
#define __MFLOW_IMPORT_NS(ns)		MODULE_IMPORT_NS(ns)

/* 6.1 renamed the iov_iter directions; older kernels use READ/WRITE. */
#ifndef ITER_DEST
#define ITER_DEST	READ
#define ITER_SOURCE	WRITE
#endif

/*
 * splice(2) and sendfile(2) from a console: up to 6.4,
 * generic_file_splice_read() fed any ->read_iter an ITER_PIPE iterator;
 * 6.5 reworked splice reading (ITER_PIPE went away soon after) and made
 * copy_splice_read() the helper for files outside the page cache.
 * iter_file_splice_write() serves every version.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define mflow_splice_read	copy_splice_read
#else
#define mflow_splice_read	generic_file_splice_read
#endif

/* The KUnit suites import the namespace the core exports to. */
#define MFLOW_IMPORT_KUNIT_NS()	__MFLOW_IMPORT_NS(MFLOW_KUNIT_NS)

/*
 * 6.2 made class.dev_uevent() take a const struct device (commit
 * "driver core: make struct class.dev_uevent() take a const *").
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define MFLOW_UEVENT_DEV	const struct device
#else
#define MFLOW_UEVENT_DEV	struct device
#endif

/*
 * Whether @p runs on a CPU now (and that CPU's vCPU is not preempted by
 * the host): the test mutex spinning makes of its owner. owner_on_cpu()
 * came to <linux/sched.h> in 5.16.
 */
#include <linux/sched.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 16, 0)
#define mflow_task_on_cpu(p)	owner_on_cpu(p)
#else
static inline bool mflow_task_on_cpu(struct task_struct *p)
{
	return READ_ONCE(p->on_cpu) && !vcpu_is_preempted(task_cpu(p));
}
#endif

/*
 * Single-copy writes pin the writer's pages with iov_iter_extract_pages(),
 * which 6.3 added (with FOLL_PIN, so that a fork while they are pinned
 * leaves them to the writer); before it, writes always copy twice.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define MFLOW_HAVE_DIRECT	1
#else
#define MFLOW_HAVE_DIRECT	0
#endif

#endif /* _MFLOW_COMPAT_H */
