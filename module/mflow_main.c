// SPDX-License-Identifier: GPL-2.0
/*
 * mflow: console flow devices /dev/mflowN - module parameters, the
 * character device, its file operations and sysfs attributes. The flow
 * itself lives in mflow_core.c, the set of consoles and the control device
 * in mflow_ctl.c, which this file hands the device class and the limits at
 * load; mflow_ctl.c calls nothing here.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cdev.h>
#include <linux/compat.h>
#include <linux/device.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <asm/ioctls.h>

#include "mflow_compat.h"
#include "mflow_core.h"
#include "mflow.h"

#define MFLOW_CONSOLES_MAX	4096U
#define MFLOW_MAX_CONSOLES_MAX	65536U

static unsigned int consoles = 4;
module_param(consoles, uint, 0444);
MODULE_PARM_DESC(consoles,
		 "Consoles /dev/mflow0.. made at load, without names (1..4096, default 4)");

static unsigned int max_consoles = MFLOW_CONSOLES_MAX;
module_param(max_consoles, uint, 0444);
MODULE_PARM_DESC(max_consoles,
		 "Most consoles at once, counting those /dev/mflow-control adds; indices are below it (consoles..65536, default 4096)");

static unsigned int fifo_size = MFLOW_FIFO_DEFAULT;
module_param(fifo_size, uint, 0444);
MODULE_PARM_DESC(fifo_size,
		 "Bytes buffered per direction, rounded up to a power of two (4096..67108864, default 262144)");

static dev_t mflow_devt;
static struct cdev mflow_cdev;

/* O_NONBLOCK fails instead of sleeping; IOCB_NOWAIT waits for no lock. */
static unsigned int mflow_io_flags(struct kiocb *iocb)
{
	unsigned int flags = 0;

	if (iocb->ki_filp->f_flags & O_NONBLOCK)
		flags |= MFLOW_IO_NONBLOCK;
	if (iocb->ki_flags & IOCB_NOWAIT)
		flags |= MFLOW_IO_NOWAIT;
	return flags;
}

static int mflow_open(struct inode *inode, struct file *file)
{
	unsigned int minor = iminor(inode) - MINOR(mflow_devt);
	struct mflow_console *con;
	struct mflow_endpoint *ep;
	unsigned int flags = 0;

	/*
	 * Refuse here what would fail later: the VFS fails O_DIRECT after
	 * ->open (a stream has no direct I/O), and access mode 3 would make
	 * an endpoint that can neither read nor write. Once attached, the
	 * release of a failed open would detach, which an idle console or
	 * a waiting peer must never see.
	 */
	if ((file->f_flags & O_DIRECT) ||
	    (file->f_flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	switch (file->f_flags & O_ACCMODE) {
	case O_RDONLY:
		flags = MFLOW_ATTACH_NO_WRITE;
		break;
	case O_WRONLY:
		flags = MFLOW_ATTACH_NO_READ;
		break;
	}
	/* The file keeps this reference until release. */
	con = mflow_console_lookup(minor);
	if (!con)
		return -ENXIO;
	ep = mflow_attach(con, flags);
	if (IS_ERR(ep)) {
		mflow_console_put(con);
		return PTR_ERR(ep);
	}
	file->private_data = ep;
	/*
	 * Reads and writes honour IOCB_NOWAIT (RWF_NOWAIT): io_uring tries
	 * them inline and waits in poll, not in a worker thread.
	 */
	file->f_mode |= FMODE_NOWAIT;
	return stream_open(inode, file);
}

static int mflow_release(struct inode *inode, struct file *file)
{
	struct mflow_endpoint *ep = file->private_data;
	struct mflow_console *con = ep->con;

	mflow_detach(ep);
	mflow_console_put(con);
	return 0;
}

static ssize_t mflow_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	return mflow_read(iocb->ki_filp->private_data, to,
			  mflow_io_flags(iocb));
}

static ssize_t mflow_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct mflow_endpoint *ep = iocb->ki_filp->private_data;
	ssize_t ret;

	ret = mflow_write(ep, from, mflow_io_flags(iocb));
	if (ret == -EPIPE && !READ_ONCE(ep->nosigpipe))
		send_sig(SIGPIPE, current, 0);
	return ret;
}

static __poll_t mflow_fop_poll(struct file *file, poll_table *wait)
{
	return mflow_poll(file->private_data, file, wait);
}

static long mflow_ioctl_close(struct file *file, void __user *argp)
{
	struct mflow_close_args args = { };
	s64 timeout = MFLOW_CLOSE_FOREVER;

	if (argp && copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags & ~MFLOW_CLOSE_TIMEOUT || args.reserved)
		return -EINVAL;
	/* A timeout without its flag is a mistake, not "no limit". */
	if (args.flags & MFLOW_CLOSE_TIMEOUT)
		timeout = min_t(u64, args.timeout_ns, KTIME_MAX);
	else if (args.timeout_ns)
		return -EINVAL;
	return mflow_close(file->private_data, timeout,
			   file->f_flags & O_NONBLOCK);
}

static long mflow_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mflow_endpoint *ep = file->private_data;
	void __user *argp = (void __user *)arg;
	struct mflow_stats stats;
	struct mflow_info info;
	u32 val;

	switch (cmd) {
	case FIONREAD:
		return put_user((int)mflow_readable(ep), (int __user *)argp);
	case MFLOW_IOC_OUTQ:
		return put_user(mflow_outq(ep), (u32 __user *)argp);
	case MFLOW_IOC_SHUTDOWN:
		if (get_user(val, (u32 __user *)argp))
			return -EFAULT;
		return mflow_shutdown(ep, val);
	case MFLOW_IOC_CLOSE:
		return mflow_ioctl_close(file, argp);
	case MFLOW_IOC_INFO:
		mflow_get_info(ep, &info);
		return copy_to_user(argp, &info, sizeof(info)) ? -EFAULT : 0;
	case MFLOW_IOC_STATS:
		mflow_get_stats(ep, &stats);
		return copy_to_user(argp, &stats, sizeof(stats)) ? -EFAULT : 0;
	case MFLOW_IOC_GET_OPTS:
		val = (READ_ONCE(ep->nosigpipe) ? MFLOW_OPT_NOSIGPIPE : 0) |
		      (READ_ONCE(ep->no_reply_spin) ? MFLOW_OPT_NO_REPLY_SPIN : 0);
		return put_user(val, (u32 __user *)argp);
	case MFLOW_IOC_SET_OPTS:
		if (get_user(val, (u32 __user *)argp))
			return -EFAULT;
		if (val & ~MFLOW_OPT_ALL)
			return -EINVAL;
		WRITE_ONCE(ep->nosigpipe, !!(val & MFLOW_OPT_NOSIGPIPE));
		WRITE_ONCE(ep->no_reply_spin,
			   !!(val & MFLOW_OPT_NO_REPLY_SPIN));
		return 0;
	case MFLOW_IOC_GET_BUSY_POLL:
		return put_user(READ_ONCE(ep->busy_poll_us),
				(u32 __user *)argp);
	case MFLOW_IOC_SET_BUSY_POLL:
		if (get_user(val, (u32 __user *)argp))
			return -EFAULT;
		if (val > MFLOW_BUSY_POLL_MAX)
			return -EINVAL;
		WRITE_ONCE(ep->busy_poll_us, val);
		return 0;
	default:
		return -ENOTTY;
	}
}

/* /proc/<pid>/fdinfo/<fd>: which console and endpoint, and its state. */
static void mflow_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct mflow_endpoint *ep = file->private_data;
	struct mflow_info info;

	mflow_get_info(ep, &info);
	seq_printf(m, "mflow-console:\t%u\n", info.console);
	seq_printf(m, "mflow-endpoint:\t%u\n", info.endpoint);
	seq_printf(m, "mflow-connection:\t%llu\n", info.connection);
	seq_printf(m, "mflow-flags:\t%#x\n", info.flags);
	seq_printf(m, "mflow-inq:\t%u\n", mflow_readable(ep));
	seq_printf(m, "mflow-outq:\t%u\n", mflow_outq(ep));
	seq_printf(m, "mflow-busy-poll-us:\t%u\n", READ_ONCE(ep->busy_poll_us));
	seq_printf(m, "mflow-reply-spins:\t%llu %llu %llu\n",
		   READ_ONCE(ep->reply_hits), READ_ONCE(ep->reply_misses),
		   READ_ONCE(ep->reply_yields));
	seq_printf(m, "mflow-again:\t%llu\n", READ_ONCE(ep->nowait_again));
	seq_printf(m, "mflow-direct-bytes:\t%llu\n",
		   READ_ONCE(ep->direct_bytes));
}

static const struct file_operations mflow_fops = {
	.owner		= THIS_MODULE,
	.open		= mflow_open,
	.release	= mflow_release,
	.read_iter	= mflow_read_iter,
	.write_iter	= mflow_write_iter,
	.splice_read	= mflow_splice_read,
	.splice_write	= iter_file_splice_write,
	.poll		= mflow_fop_poll,
	.unlocked_ioctl	= mflow_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.show_fdinfo	= mflow_show_fdinfo,
};

/* sysfs: /sys/class/mflow/mflowN/, one value a file; counters root-only. */

static struct mflow_console *mflow_dev_console(struct device *dev)
{
	return dev_get_drvdata(dev);
}

static ssize_t state_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct mflow_console *con = mflow_dev_console(dev);

	return sysfs_emit(buf, "%s\n",
			  mflow_console_busy(con) ? "connected" : "idle");
}
static DEVICE_ATTR_RO(state);

static ssize_t attached_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct mflow_console *con = mflow_dev_console(dev);
	unsigned int n;

	mutex_lock(&con->lock);
	n = con->ep[0].attached + con->ep[1].attached;
	mutex_unlock(&con->lock);
	return sysfs_emit(buf, "%u\n", n);
}
static DEVICE_ATTR_RO(attached);

static ssize_t connection_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct mflow_console *con = mflow_dev_console(dev);

	return sysfs_emit(buf, "%llu\n", READ_ONCE(con->connection));
}
static DEVICE_ATTR_RO(connection);

static ssize_t fifo_size_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", mflow_dev_console(dev)->fifo_size);
}
static DEVICE_ATTR_RO(fifo_size);

static ssize_t name_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%s\n", mflow_dev_console(dev)->name);
}
static DEVICE_ATTR_RO(name);

#define MFLOW_EP_ATTR(_ep, _field)					\
static ssize_t ep##_ep##_##_field##_show(struct device *dev,		\
					 struct device_attribute *attr,	\
					 char *buf)			\
{									\
	struct mflow_console *con = mflow_dev_console(dev);		\
									\
	return sysfs_emit(buf, "%llu\n",				\
			  READ_ONCE(con->ep[_ep]._field));		\
}									\
static DEVICE_ATTR_ADMIN_RO(ep##_ep##_##_field)

MFLOW_EP_ATTR(0, read_bytes);
MFLOW_EP_ATTR(0, read_ops);
MFLOW_EP_ATTR(0, write_bytes);
MFLOW_EP_ATTR(0, write_ops);
MFLOW_EP_ATTR(1, read_bytes);
MFLOW_EP_ATTR(1, read_ops);
MFLOW_EP_ATTR(1, write_bytes);
MFLOW_EP_ATTR(1, write_ops);

static struct attribute *mflow_attrs[] = {
	&dev_attr_state.attr,
	&dev_attr_attached.attr,
	&dev_attr_connection.attr,
	&dev_attr_fifo_size.attr,
	&dev_attr_name.attr,
	&dev_attr_ep0_read_bytes.attr,
	&dev_attr_ep0_read_ops.attr,
	&dev_attr_ep0_write_bytes.attr,
	&dev_attr_ep0_write_ops.attr,
	&dev_attr_ep1_read_bytes.attr,
	&dev_attr_ep1_read_ops.attr,
	&dev_attr_ep1_write_bytes.attr,
	&dev_attr_ep1_write_ops.attr,
	NULL,
};
ATTRIBUTE_GROUPS(mflow);

/* MFLOW_NAME=<name> in the uevent, for the udev rule's by-name links. */
static int mflow_uevent(MFLOW_UEVENT_DEV *dev, struct kobj_uevent_env *env)
{
	const struct mflow_console *con = dev_get_drvdata(dev);

	if (con && con->name[0])
		return add_uevent_var(env, "MFLOW_NAME=%s", con->name);
	return 0;
}

static struct class mflow_class = {
	.name		= "mflow",
	.dev_groups	= mflow_groups,
	.dev_uevent	= mflow_uevent,
};

static int mflow_check_params(void)
{
	if (consoles < 1 || consoles > MFLOW_CONSOLES_MAX) {
		pr_err("consoles=%u is out of range: allowed 1..%u\n",
		       consoles, MFLOW_CONSOLES_MAX);
		return -EINVAL;
	}
	if (max_consoles < consoles || max_consoles > MFLOW_MAX_CONSOLES_MAX) {
		pr_err("max_consoles=%u is out of range: allowed %u..%u (no fewer than consoles)\n",
		       max_consoles, consoles, MFLOW_MAX_CONSOLES_MAX);
		return -EINVAL;
	}
	if (fifo_size < MFLOW_FIFO_MIN || fifo_size > MFLOW_FIFO_MAX) {
		pr_err("fifo_size=%u is out of range: allowed %u..%u bytes\n",
		       fifo_size, MFLOW_FIFO_MIN, MFLOW_FIFO_MAX);
		return -EINVAL;
	}
	fifo_size = roundup_pow_of_two(fifo_size);
	return 0;
}

static int mflow_add_consoles(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < consoles; i++) {
		ret = mflow_console_add(i, NULL, 0);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int __init mflow_init(void)
{
	int err;

	err = mflow_check_params();
	if (err)
		return err;

	err = alloc_chrdev_region(&mflow_devt, 0, max_consoles, "mflow");
	if (err)
		return err;

	err = class_register(&mflow_class);
	if (err)
		goto out_unregister_region;

	cdev_init(&mflow_cdev, &mflow_fops);
	mflow_cdev.owner = THIS_MODULE;
	err = cdev_add(&mflow_cdev, mflow_devt, max_consoles);
	if (err)
		goto out_unregister_class;

	mflow_ctl_init(&(struct mflow_ctl_config){
		.class = &mflow_class,
		.devt = mflow_devt,
		.max_consoles = max_consoles,
		.fifo_size = fifo_size,
	});
	err = mflow_add_consoles();
	if (err)
		goto out_remove_consoles;

	err = mflow_ctl_register();
	if (err)
		goto out_remove_consoles;

	pr_info("%u consoles, %u bytes per direction\n", consoles, fifo_size);
	return 0;

out_remove_consoles:
	mflow_ctl_exit();
	cdev_del(&mflow_cdev);
out_unregister_class:
	class_unregister(&mflow_class);
out_unregister_region:
	unregister_chrdev_region(mflow_devt, max_consoles);
	return err;
}
module_init(mflow_init);

static void __exit mflow_exit(void)
{
	mflow_ctl_unregister();
	mflow_ctl_exit();
	cdev_del(&mflow_cdev);
	class_unregister(&mflow_class);
	unregister_chrdev_region(mflow_devt, max_consoles);
}
module_exit(mflow_exit);

MODULE_DESCRIPTION("Console flow devices with MirageOS console/flow semantics");
MODULE_AUTHOR("The mflow authors");
MODULE_LICENSE("GPL");
MODULE_VERSION(MFLOW_VERSION);
