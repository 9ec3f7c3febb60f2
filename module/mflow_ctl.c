// SPDX-License-Identifier: GPL-2.0
/*
 * mflow: the console registry and the control device /dev/mflow-control,
 * which adds, removes and describes consoles at run time, in the way of
 * drivers/block/loop.c's /dev/loop-control. It sits between the module's
 * entry (mflow_main.c, which hands it the device class and the limits at
 * load) and the flow core, and calls into nothing else.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compat.h>
#include <linux/device.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "mflow_compat.h"
#include "mflow_core.h"
#include "mflow.h"

/*
 * The registry: index -> console. Lookups for open() take the xarray's own
 * lock and a reference on the console; everything that adds or removes a
 * console, or needs the set to stay still (names are unique, GET_FREE picks
 * an idle one), holds mflow_ctl_mutex. A console leaves the xarray before
 * its registry reference is dropped, so a console found under the xarray's
 * lock is alive.
 *
 * A console is published (MFLOW_LIVE) once it is complete: until then it
 * holds its index and its name, but open(), QUERY, REMOVE and GET_FREE do
 * not see it. ADD publishes only after its result reached the caller, so
 * that a result that cannot be written back undoes a console nobody could
 * have opened, and that copy runs without mflow_ctl_mutex.
 */
#define MFLOW_LIVE	XA_MARK_1	/* XA_MARK_0 tracks free slots */

static DEFINE_XARRAY_ALLOC(mflow_cons);
static DEFINE_MUTEX(mflow_ctl_mutex);	/* adding, removing, names, count */
static unsigned int mflow_count;	/* consoles in mflow_cons */
static struct mflow_ctl_config mflow_cfg;	/* set once, at load */

/* The characters of a name; the first one may not be '.' or '-'. */
static bool mflow_name_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_')
		return true;
	return !first && (c == '.' || c == '-');
}

/* Whether @s, @len bytes long, is all decimal digits. */
static bool mflow_all_digits(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/**
 * mflow_name_valid() - whether @name may name a console
 * @name: the bytes, NUL-terminated within @size.
 * @size: the size of the buffer holding @name.
 *
 * A name is 1 to %MFLOW_NAME_MAX - 1 bytes of ASCII letters, digits, '_',
 * '.' and '-', the first a letter, a digit or '_'. It is neither all
 * digits nor "mflow" followed by digits, so it can be told from an index
 * and from a node name, and it becomes /dev/mflow/by-name/<name> as it is.
 * The kernel's isalnum() is not used: it takes Latin-1 letters too.
 *
 * Return: true if @name is one.
 */
VISIBLE_IF_KUNIT bool mflow_name_valid(const char *name, size_t size)
{
	size_t len = strnlen(name, size);
	size_t i;

	if (!len || len >= size || len >= MFLOW_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!mflow_name_char(name[i], !i))
			return false;
	if (mflow_all_digits(name, len))
		return false;
	if (len > 5 && !strncmp(name, "mflow", 5) &&
	    mflow_all_digits(name + 5, len - 5))
		return false;
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(mflow_name_valid);

/* Under mflow_ctl_mutex: the console called @name, or NULL. */
static struct mflow_console *mflow_find_name(const char *name)
{
	struct mflow_console *con;
	unsigned long i;

	lockdep_assert_held(&mflow_ctl_mutex);
	xa_for_each(&mflow_cons, i, con)
		if (!strcmp(con->name, name))
			return con;
	return NULL;
}

/**
 * mflow_console_lookup() - the console behind /dev/mflow@index
 * @index: the console's index (its minor number).
 *
 * Return: the console with a reference the caller drops with
 * mflow_console_put(), or NULL if there is none or it is still being
 * added.
 */
struct mflow_console *mflow_console_lookup(unsigned int index)
{
	struct mflow_console *con;

	xa_lock(&mflow_cons);
	con = xa_load(&mflow_cons, index);
	if (con && xa_get_mark(&mflow_cons, index, MFLOW_LIVE))
		mflow_console_get(con);
	else
		con = NULL;
	xa_unlock(&mflow_cons);
	return con;
}

/* Make @con visible to open() and to the control calls. */
static void mflow_console_publish(struct mflow_console *con)
{
	xa_set_mark(&mflow_cons, con->index, MFLOW_LIVE);
}

/* A fifo size asked for: 0 is the module's default, others are rounded. */
static int mflow_fifo_size(u32 size, u32 *out)
{
	if (!size) {
		*out = mflow_cfg.fifo_size;
		return 0;
	}
	if (size < MFLOW_FIFO_MIN || size > MFLOW_FIFO_MAX)
		return -EINVAL;
	*out = roundup_pow_of_two(size);
	return 0;
}

/* Under mflow_ctl_mutex: take @con out of the registry and free it. */
static void mflow_console_unlink(struct mflow_console *con,
				 struct device *dev)
{
	lockdep_assert_held(&mflow_ctl_mutex);
	xa_erase(&mflow_cons, con->index);
	mflow_count--;
	if (dev)
		device_unregister(dev);
	mflow_console_put(con);
}

/* The sysfs node and /dev/mflowN of @con, in the class mflow_main.c made. */
static struct device *mflow_device_create(struct mflow_console *con)
{
	dev_t devt = MKDEV(MAJOR(mflow_cfg.devt),
			   MINOR(mflow_cfg.devt) + con->index);

	return device_create(mflow_cfg.class, NULL, devt, con, "mflow%u",
			     con->index);
}

/*
 * Under mflow_ctl_mutex: mflow_console_add() without the lock, leaving the
 * console unpublished. Return: the new console or an ERR_PTR().
 */
static struct mflow_console *__mflow_console_add(u32 index, const char *name,
						 u32 fifo_size)
{
	struct mflow_console *con;
	struct device *dev;
	u32 size;
	int err;

	lockdep_assert_held(&mflow_ctl_mutex);
	if (index != MFLOW_CTL_ANY && index >= mflow_cfg.max_consoles)
		return ERR_PTR(-EINVAL);
	if (name && !mflow_name_valid(name, MFLOW_NAME_MAX))
		return ERR_PTR(-EINVAL);
	err = mflow_fifo_size(fifo_size, &size);
	if (err)
		return ERR_PTR(err);
	if (name && mflow_find_name(name))
		return ERR_PTR(-EEXIST);
	if (mflow_count >= mflow_cfg.max_consoles)
		return ERR_PTR(-ENOSPC);

	/* Reserve the index; nothing finds a console there until the store. */
	if (index == MFLOW_CTL_ANY) {
		err = xa_alloc(&mflow_cons, &index, NULL,
			       XA_LIMIT(0, mflow_cfg.max_consoles - 1),
			       GFP_KERNEL);
		if (err == -EBUSY)
			err = -ENOSPC;
	} else {
		err = xa_insert(&mflow_cons, index, NULL, GFP_KERNEL);
		if (err == -EBUSY)
			err = -EEXIST;
	}
	if (err)
		return ERR_PTR(err);
	con = mflow_console_create(index, size);
	if (IS_ERR(con)) {
		xa_release(&mflow_cons, index);
		return con;
	}
	if (name)
		strscpy(con->name, name, sizeof(con->name));
	/* The reserved slot needs no memory: this store cannot fail. */
	xa_store(&mflow_cons, index, con, GFP_KERNEL);
	mflow_count++;

	dev = mflow_device_create(con);
	if (IS_ERR(dev)) {
		mflow_console_unlink(con, NULL);
		return ERR_CAST(dev);
	}
	mflow_console_set_dev(con, dev);
	return con;
}

/**
 * mflow_console_add() - create a console and its node /dev/mflowN
 * @index: N, or %MFLOW_CTL_ANY for the lowest free index.
 * @name: its name (see mflow_name_valid()), or NULL for none.
 * @fifo_size: bytes per direction, 0 for the module's default.
 *
 * All or nothing: a refused call leaves no trace.
 *
 * Return: the index, or -EINVAL (bad index, name or size), -EEXIST (index
 * or name taken), -ENOSPC (the max_consoles limit), -ENOMEM.
 */
int mflow_console_add(u32 index, const char *name, u32 fifo_size)
{
	struct mflow_console *con;

	mutex_lock(&mflow_ctl_mutex);
	con = __mflow_console_add(index, name, fifo_size);
	if (!IS_ERR(con))
		mflow_console_publish(con);
	mutex_unlock(&mflow_ctl_mutex);
	return IS_ERR(con) ? PTR_ERR(con) : con->index;
}

/* Under mflow_ctl_mutex: the console an mflow_ctl_id or query names. */
static struct mflow_console *mflow_select(u32 index, char *name)
{
	struct mflow_console *con;

	lockdep_assert_held(&mflow_ctl_mutex);
	if (index == MFLOW_CTL_ANY) {
		/* Nor does an empty name select anything. */
		if (!mflow_name_valid(name, MFLOW_NAME_MAX))
			return ERR_PTR(-EINVAL);
		con = mflow_find_name(name);
	} else {
		if (name[0])
			return ERR_PTR(-EINVAL);
		con = xa_load(&mflow_cons, index);
	}
	if (!con || !xa_get_mark(&mflow_cons, con->index, MFLOW_LIVE))
		return ERR_PTR(-ENODEV);
	return con;
}

static int mflow_ctl_remove(struct mflow_ctl_id __user *uarg)
{
	struct mflow_console *con;
	struct mflow_ctl_id id;
	struct device *dev;
	int err = 0;

	if (copy_from_user(&id, uarg, sizeof(id)))
		return -EFAULT;
	if (id.reserved)
		return -EINVAL;
	mutex_lock(&mflow_ctl_mutex);
	con = mflow_select(id.index, id.name);
	if (IS_ERR(con)) {
		err = PTR_ERR(con);
		goto out_unlock;
	}
	dev = mflow_console_retire(con);
	if (IS_ERR(dev)) {
		err = PTR_ERR(dev);
		goto out_unlock;
	}
	mflow_console_unlink(con, dev);
out_unlock:
	mutex_unlock(&mflow_ctl_mutex);
	return err;
}

/*
 * Undo an ADD whose result could not be written back. The console was
 * never published, so no file can have attached it and it cannot be busy.
 */
static void mflow_console_discard(struct mflow_console *con)
{
	struct device *dev;

	mutex_lock(&mflow_ctl_mutex);
	dev = mflow_console_retire(con);
	if (IS_ERR(dev))
		mflow_console_publish(con);	/* cannot happen; keep it */
	else
		mflow_console_unlink(con, dev);
	mutex_unlock(&mflow_ctl_mutex);
}

static int mflow_ctl_add(struct mflow_ctl_add __user *uarg)
{
	struct mflow_console *con;
	struct mflow_ctl_add add;

	if (copy_from_user(&add, uarg, sizeof(add)))
		return -EFAULT;
	if (add.flags || add.reserved)
		return -EINVAL;
	if (strnlen(add.name, sizeof(add.name)) == sizeof(add.name))
		return -EINVAL;
	mutex_lock(&mflow_ctl_mutex);
	con = __mflow_console_add(add.index, add.name[0] ? add.name : NULL,
				  add.fifo_size);
	mutex_unlock(&mflow_ctl_mutex);
	if (IS_ERR(con))
		return PTR_ERR(con);

	/*
	 * Unpublished, the console is ours alone: neither open() nor
	 * REMOVE can reach it while the result goes out without the mutex.
	 */
	add.index = con->index;
	add.fifo_size = con->fifo_size;
	if (copy_to_user(uarg, &add, sizeof(add))) {
		mflow_console_discard(con);
		return -EFAULT;
	}
	mflow_console_publish(con);
	return add.index;
}

static int mflow_ctl_query(struct mflow_ctl_query __user *uarg)
{
	struct mflow_console *con;
	struct mflow_ctl_query q;

	if (copy_from_user(&q, uarg, sizeof(q)))
		return -EFAULT;
	if (q.reserved)
		return -EINVAL;
	mutex_lock(&mflow_ctl_mutex);
	con = mflow_select(q.index, q.name);
	if (!IS_ERR(con))
		mflow_console_query(con, &q);
	mutex_unlock(&mflow_ctl_mutex);
	if (IS_ERR(con))
		return PTR_ERR(con);
	return copy_to_user(uarg, &q, sizeof(q)) ? -EFAULT : 0;
}

/* An idle console without a name; a new one when there is none. */
static int mflow_ctl_get_free(void)
{
	struct mflow_console *con;
	unsigned long i;
	int ret;

	mutex_lock(&mflow_ctl_mutex);
	xa_for_each_marked(&mflow_cons, i, con, MFLOW_LIVE) {
		if (!con->name[0] && !mflow_console_busy(con)) {
			ret = i;
			goto out_unlock;
		}
	}
	con = __mflow_console_add(MFLOW_CTL_ANY, NULL, 0);
	if (IS_ERR(con)) {
		ret = PTR_ERR(con);
		goto out_unlock;
	}
	mflow_console_publish(con);
	ret = con->index;
out_unlock:
	mutex_unlock(&mflow_ctl_mutex);
	return ret;
}

static int mflow_ctl_version(struct mflow_ctl_version __user *uarg)
{
	struct mflow_ctl_version v = {
		.version = MFLOW_VERSION_CODE,
		.abi = MFLOW_CTL_ABI,
		.max_consoles = mflow_cfg.max_consoles,
	};

	mutex_lock(&mflow_ctl_mutex);
	v.consoles = mflow_count;
	mutex_unlock(&mflow_ctl_mutex);
	return copy_to_user(uarg, &v, sizeof(v)) ? -EFAULT : 0;
}

static long mflow_ctl_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case MFLOW_CTL_VERSION:
		return mflow_ctl_version(argp);
	case MFLOW_CTL_ADD:
		return mflow_ctl_add(argp);
	case MFLOW_CTL_REMOVE:
		return mflow_ctl_remove(argp);
	case MFLOW_CTL_QUERY:
		return mflow_ctl_query(argp);
	case MFLOW_CTL_GET_FREE:
		return mflow_ctl_get_free();
	default:
		return -ENOTTY;
	}
}

static const struct file_operations mflow_ctl_fops = {
	.owner		= THIS_MODULE,
	.open		= nonseekable_open,
	.unlocked_ioctl	= mflow_ctl_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct miscdevice mflow_ctl_dev = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "mflow-control",
	.fops		= &mflow_ctl_fops,
};

/**
 * mflow_ctl_exit() - remove every console
 *
 * The module is going (or failed to load), so no console is open. Bytes a
 * console held for a peer that never came are dropped.
 */
void mflow_ctl_exit(void)
{
	struct mflow_console *con;
	struct device *dev;
	unsigned long i;

	mutex_lock(&mflow_ctl_mutex);
	xa_for_each(&mflow_cons, i, con) {
		mutex_lock(&con->lock);
		con->removed = true;
		dev = con->dev;
		mutex_unlock(&con->lock);
		mflow_console_set_dev(con, NULL);
		mflow_console_unlink(con, dev);
	}
	mutex_unlock(&mflow_ctl_mutex);
}

/**
 * mflow_ctl_init() - set the registry's class and limits
 * @cfg: the device class and character device region consoles' nodes go
 *	in, the number of indices and the default fifo size. Copied; called
 *	once at load, before any console exists.
 */
void mflow_ctl_init(const struct mflow_ctl_config *cfg)
{
	mflow_cfg = *cfg;
}

/**
 * mflow_ctl_register() - make /dev/mflow-control appear
 *
 * Called last at load, once the consoles given by parameter exist.
 *
 * Return: 0 or a negative errno.
 */
int mflow_ctl_register(void)
{
	return misc_register(&mflow_ctl_dev);
}

/**
 * mflow_ctl_unregister() - make /dev/mflow-control go
 */
void mflow_ctl_unregister(void)
{
	misc_deregister(&mflow_ctl_dev);
}
