/* cdef surface of pyrunc._seccomp: libseccomp, which compiles a filter in the parent and
 * exports it as raw BPF. Its own module: only a config with linux.seccomp loads the library
 * (a dlopen of ~0.15 ms here). */
typedef void *scmp_filter_ctx;
enum scmp_compare { SCMP_CMP_NE = 1, SCMP_CMP_LT = 2, SCMP_CMP_LE = 3, SCMP_CMP_EQ = 4,
                    SCMP_CMP_GE = 5, SCMP_CMP_GT = 6, SCMP_CMP_MASKED_EQ = 7 };
struct scmp_arg_cmp { unsigned int arg; enum scmp_compare op; uint64_t datum_a;
                      uint64_t datum_b; };
enum scmp_filter_attr { SCMP_FLTATR_ACT_DEFAULT, SCMP_FLTATR_ACT_BADARCH, SCMP_FLTATR_CTL_NNP,
                        SCMP_FLTATR_CTL_TSYNC, SCMP_FLTATR_API_TSKIP, SCMP_FLTATR_CTL_LOG,
                        SCMP_FLTATR_CTL_SSB, SCMP_FLTATR_CTL_OPTIMIZE,
                        SCMP_FLTATR_API_SYSRAWRC, ... };
scmp_filter_ctx seccomp_init(uint32_t def_action);
void seccomp_release(scmp_filter_ctx ctx);
uint32_t seccomp_arch_resolve_name(const char *arch_name);
uint32_t seccomp_arch_native(void);
int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value);
int seccomp_syscall_resolve_name(const char *name);
int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
                           unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);
