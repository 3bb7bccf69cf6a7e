/* Thin syscall wrappers for pyrunc (see native.h). One syscall each; -1 + errno on failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <linux/capability.h>

/* Debian 12's glibc 2.36 cannot include <linux/mount.h> beside <sys/mount.h>, and some of
 * these are newer than its headers: the values are the kernel ABI (include/uapi). */
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#define MOUNT_ATTR__ATIME 0x00000070
#define MOUNT_ATTR_RELATIME 0x00000000
#define MOUNT_ATTR_NOATIME 0x00000010
#define MOUNT_ATTR_STRICTATIME 0x00000020
#define MOUNT_ATTR_NODIRATIME 0x00000080
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef MOUNT_ATTR_NOSYMFOLLOW
#define MOUNT_ATTR_NOSYMFOLLOW 0x00200000
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef AT_FDCWD
#define AT_FDCWD -100
#endif
#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
#define RESOLVE_IN_ROOT 0x10
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#define KEYCTL_JOIN_SESSION_KEYRING_ 1

struct pyrunc_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

struct pyrunc_open_how {
    uint64_t flags, mode, resolve;
};

int pyrunc_unshare(int flags) { return unshare(flags); }

int pyrunc_setns(int fd, int nstype) { return setns(fd, nstype); }

int pyrunc_mount(const char *source, const char *target, const char *fstype,
                 unsigned long flags, const char *data)
{
    return mount(source, target, fstype, flags, data);
}

int pyrunc_umount2(const char *target, int flags) { return umount2(target, flags); }

int pyrunc_pivot_root(const char *new_root, const char *put_old)
{
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

int pyrunc_setdomainname(const char *name, size_t len) { return setdomainname(name, len); }

int pyrunc_mount_setattr(int dfd, const char *path, unsigned int flags,
                         uint64_t attr_set, uint64_t attr_clr, uint64_t propagation,
                         uint64_t userns_fd)
{
    struct pyrunc_mount_attr attr = {attr_set, attr_clr, propagation, userns_fd};
    return (int)syscall(SYS_mount_setattr, dfd, path, flags, &attr, sizeof(attr));
}

int pyrunc_open_tree(int dfd, const char *path, unsigned int flags)
{
    return (int)syscall(SYS_open_tree, dfd, path, flags);
}

int pyrunc_move_mount(int from_dfd, const char *from_path, int to_dfd,
                      const char *to_path, unsigned int flags)
{
    return (int)syscall(SYS_move_mount, from_dfd, from_path, to_dfd, to_path, flags);
}

int pyrunc_openat2(int dfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
    struct pyrunc_open_how how = {flags, mode, resolve};
    return (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
}

int pyrunc_capget(uint32_t *out6)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) < 0)
        return -1;
    out6[0] = data[0].effective;  out6[1] = data[1].effective;
    out6[2] = data[0].permitted;  out6[3] = data[1].permitted;
    out6[4] = data[0].inheritable; out6[5] = data[1].inheritable;
    return 0;
}

int pyrunc_capset(uint32_t eff0, uint32_t eff1, uint32_t perm0, uint32_t perm1,
                  uint32_t inh0, uint32_t inh1)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {{eff0, perm0, inh0}, {eff1, perm1, inh1}};
    return (int)syscall(SYS_capset, &hdr, data);
}

int pyrunc_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4,
                 unsigned long a5)
{
    return prctl(option, a2, a3, a4, a5);
}

long pyrunc_join_session_keyring(const char *name)
{
    return syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING_, name);
}

int pyrunc_personality(unsigned long persona) { return personality(persona); }

/* Drop from the bounding set every capability up to last_cap that `keep` lacks and the set
 * still holds. A loop, the one piece of logic here besides clone3_fork: from Python it is two
 * prctl calls per capability through cffi, ~80 calls and ~0.2 ms on every create. */
int pyrunc_capbset_drop(uint64_t keep, int last_cap)
{
    for (int bit = 0; bit <= last_cap && bit < 64; bit++) {
        if (keep & (1ULL << bit))
            continue;
        if (prctl(PR_CAPBSET_READ, bit, 0, 0, 0) == 1 && prctl(PR_CAPBSET_DROP, bit, 0, 0, 0) < 0)
            return -1;
    }
    return 0;
}

/* The `resource` extension module would cost a dlopen (~0.3 ms) on every create and exec.
 * RLIM_INFINITY is all ones in the 64-bit rlim_t, as config.json writes it. */
int pyrunc_setrlimit(int resource, uint64_t soft, uint64_t hard)
{
    struct rlimit rl = { .rlim_cur = soft, .rlim_max = hard };
    return setrlimit(resource, &rl);
}

/* f_type of the filesystem holding fd (a magic number), or -1. */
long pyrunc_fstatfs_type(int fd)
{
    struct statfs st;
    if (fstatfs(fd, &st) < 0)
        return -1;
    return (long)st.f_type;
}

/* fork(2) of the Python process through clone3, with extra clone flags (new namespaces:
 * CLONE_NEWPID makes the child PID 1 of a new PID namespace) and, when cgroup_fd >= 0,
 * straight into a cgroup (CLONE_INTO_CGROUP, Linux 5.7+, cgroup v2 or the unified mount of a
 * hybrid host). The one wrapper with logic in it, for a reason: a write to cgroup.procs after
 * an idle gap waits out an RCU grace period (the global threadgroup rwsem switching to writer
 * mode, ~10-20 ms on this kind of VM, in the middle of every container start); a child born
 * in its cgroup takes no such lock, and one born in its PID namespace needs no intermediate
 * process to fork it (process/spawn.py). It does what os.fork() does around fork(): with the GIL held (cffi releases it for the call),
 * PyOS_BeforeFork / clone3 / PyOS_AfterFork_{Child,Parent}. glibc's fork() also stores the
 * child's tid in its thread descriptor (CLONE_CHILD_SETTID on THREAD_SELF->tid); clone3
 * does the same here at that field's offset, which is checked first against gettid(): on
 * any other libc or layout this returns -1/ENOSYS and the caller uses os.fork(). Call it
 * only while the process has one thread (glibc's internal locks are not reset in the
 * child, as fork() would after taking them). */
#include <pthread.h>
#include <signal.h>

struct pyrunc_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
             set_tid, set_tid_size, cgroup;
};
#define PYRUNC_CLONE_INTO_CGROUP 0x200000000ULL
#define PYRUNC_GLIBC_TID_OFFSET 0x2d0  /* x86_64 glibc 2.2x-2.4x: offsetof(struct pthread, tid) */

long pyrunc_clone3_fork(uint64_t flags, int cgroup_fd)
{
#if defined(__x86_64__) && defined(__GLIBC__) && defined(SYS_clone3)
    pid_t *tidp = (pid_t *)((char *)pthread_self() + PYRUNC_GLIBC_TID_OFFSET);
    if (*tidp != (pid_t)syscall(SYS_gettid)) {
        errno = ENOSYS;
        return -1;
    }
    struct pyrunc_clone_args a;
    memset(&a, 0, sizeof a);
    a.flags = flags | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
    if (cgroup_fd >= 0) {
        a.flags |= PYRUNC_CLONE_INTO_CGROUP;
        a.cgroup = (uint64_t)cgroup_fd;
    }
    a.child_tid = (uint64_t)(uintptr_t)tidp;
    a.exit_signal = SIGCHLD;
    PyGILState_STATE g = PyGILState_Ensure();
    PyOS_BeforeFork();
    long pid = syscall(SYS_clone3, &a, sizeof a);
    int saved = errno;
    if (pid == 0)
        PyOS_AfterFork_Child();
    else
        PyOS_AfterFork_Parent();
    PyGILState_Release(g);
    errno = saved;
    return pid;
#else
    (void)flags;
    (void)cgroup_fd;
    errno = ENOSYS;
    return -1;
#endif
}
