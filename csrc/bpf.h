/* cdef surface for the bpf(2) syscall (cgroup v2 device programs). Returns -1 + errno. */
int pyrunc_bpf(int cmd, void *attr, unsigned int size);
