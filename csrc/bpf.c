/* Thin wrapper over bpf(2): glibc has no wrapper for it. */
#include <sys/syscall.h>
#include <unistd.h>

int pyrunc_bpf(int cmd, void *attr, unsigned int size)
{
    return (int)syscall(SYS_bpf, cmd, attr, size);
}
