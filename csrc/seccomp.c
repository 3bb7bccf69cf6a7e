/* libseccomp (linked: libraries=["seccomp"]) and a raw seccomp(2) loader. */
#include <seccomp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

unsigned int pyrunc_seccomp_api_level(void)
{
    return (unsigned int)seccomp_api_get();
}

int pyrunc_seccomp_load(unsigned int flags, const void *insns, unsigned int len)
{
    struct sock_fprog prog = { .len = (unsigned short)len,
                               .filter = (struct sock_filter *)insns };
    /* A NULL program probes the flags: EFAULT when they are known, EINVAL if not. */
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, insns ? &prog : NULL);
}

int pyrunc_seccomp_action_avail(uint32_t action)
{
    return (int)syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
}
