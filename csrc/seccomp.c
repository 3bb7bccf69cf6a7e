/* A raw seccomp(2) loader; libseccomp itself is in pyrunc._seccomp (build.py). */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

int pyrunc_seccomp_load(unsigned int flags, const void *insns, unsigned int len)
{
    struct sock_fprog prog = { .len = (unsigned short)len,
                               .filter = (struct sock_filter *)insns };
    /* A NULL program probes the flags: EFAULT when they are known, EINVAL if not. */
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, insns ? &prog : NULL);
}
