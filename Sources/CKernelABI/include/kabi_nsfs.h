/* nsfs ioctl numbers (fs/nsfs.c ns_ioctl(); include/uapi/linux/nsfs.h), defined here. */
#ifndef CKERNELABI_KABI_NSFS_H
#define CKERNELABI_KABI_NSFS_H

enum {
	KABI_NS_GET_USERNS = 0xb701,	/* _IO(NSIO, 0x1), 4.9 */
	KABI_NS_GET_PARENT = 0xb702,	/* _IO(NSIO, 0x2), 4.9 */
	KABI_NS_GET_NSTYPE = 0xb703,	/* _IO(NSIO, 0x3), 4.11 */
	KABI_NS_GET_OWNER_UID = 0xb704,	/* _IO(NSIO, 0x4), 4.11: writes a uid_t */
};
/*
 * Apart: a value above INT_MAX would give the enum above another type. The PID translation
 * ioctls (6.11, ca567df74a28) take the PID itself as their argument, not a pointer, and return
 * the translated PID; the uapi header numbers them 6 to 9 (the merge into 6.11 renumbered them
 * after NS_GET_MNTNS_ID, 5).
 */
enum {
	KABI_NS_GET_PID_FROM_PIDNS = 0x8004b706,	/* _IOR(NSIO, 0x6, int) */
	KABI_NS_GET_TGID_FROM_PIDNS = 0x8004b707,	/* _IOR(NSIO, 0x7, int) */
	KABI_NS_GET_PID_IN_PIDNS = 0x8004b708,		/* _IOR(NSIO, 0x8, int) */
	KABI_NS_GET_TGID_IN_PIDNS = 0x8004b709,		/* _IOR(NSIO, 0x9, int) */
};

#endif
