/* What mgpr's portable build needs from glibc 2.29 and later, on glibc 2.28.
 *
 * scripts/wheel.sh links against Debian bullseye's glibc 2.31, so each symbol binds to
 * the oldest version 2.31 offers: stat and the others added as symbols in 2.33 come
 * from its libc_nonshared.a, pthread and dl functions from libpthread and libdl. What
 * is left above 2.28 is below, all GLIBC_2.29:
 *  - exp, exp2, log, log2, pow: 2.29 added versions without the SVID error handling;
 *    the GLIBC_2.2.5 ones compute the same values (and may also set errno, which C
 *    allows: math_errhandling). Each wrapper calls the old version by name.
 *  - posix_spawn_file_actions_addchdir_np: new in 2.29. Where the running glibc has it,
 *    it is used; elsewhere ENOSYS, on which Foundation's Process changes directory
 *    itself around posix_spawn.
 * Every definition is hidden: the executable is linked with -export-dynamic, and an
 * exported `exp` would satisfy its own reference to exp@GLIBC_2.2.5 (a call to itself).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <spawn.h>

#define HIDDEN __attribute__((visibility("hidden")))

__asm__(".symver glibc225_exp, exp@GLIBC_2.2.5");
__asm__(".symver glibc225_exp2, exp2@GLIBC_2.2.5");
__asm__(".symver glibc225_log, log@GLIBC_2.2.5");
__asm__(".symver glibc225_log2, log2@GLIBC_2.2.5");
__asm__(".symver glibc225_pow, pow@GLIBC_2.2.5");
double glibc225_exp(double), glibc225_exp2(double), glibc225_log(double), glibc225_log2(double);
double glibc225_pow(double, double);

HIDDEN double exp(double x) { return glibc225_exp(x); }
HIDDEN double exp2(double x) { return glibc225_exp2(x); }
HIDDEN double log(double x) { return glibc225_log(x); }
HIDDEN double log2(double x) { return glibc225_log2(x); }
HIDDEN double pow(double x, double y) { return glibc225_pow(x, y); }

typedef int (*addchdir_t)(posix_spawn_file_actions_t *, const char *);

/* MGPR_COMPAT_ADDCHDIR_VERSION names another version only to test the fallback. */
#ifndef MGPR_COMPAT_ADDCHDIR_VERSION
#define MGPR_COMPAT_ADDCHDIR_VERSION "GLIBC_2.29"
#endif

HIDDEN int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path) {
    static addchdir_t real;
    static int looked;
    if (!__atomic_load_n(&looked, __ATOMIC_ACQUIRE)) {
        addchdir_t found = (addchdir_t)dlvsym(RTLD_NEXT, "posix_spawn_file_actions_addchdir_np",
                                              MGPR_COMPAT_ADDCHDIR_VERSION);
        __atomic_store_n(&real, found, __ATOMIC_RELAXED);
        __atomic_store_n(&looked, 1, __ATOMIC_RELEASE);
    }
    addchdir_t function = __atomic_load_n(&real, __ATOMIC_RELAXED);
    return function ? function(actions, path) : ENOSYS; /* posix_spawn's calls return the error */
}
