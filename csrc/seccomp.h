/* Loading a raw BPF program with seccomp(2) in the container's init (pyrunc._native). */
/* seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) with prog built from `len` 8-byte
 * instructions. Returns -1 + errno; >= 0 (the listener fd with NEW_LISTENER) on success. */
int pyrunc_seccomp_load(unsigned int flags, const void *insns, unsigned int len);
