// OpenBLAS's kernel choice, corrected where it is older than the CPU. A DYNAMIC_ARCH OpenBLAS picks
// its kernels once, when it loads, from the CPU model; a model newer than the library (0.3.21 on
// Intel model 207, for example) gets its oldest x86-64 kernels, Prescott's SSE3. Its environment
// variable OPENBLAS_CORETYPE names the kernels to use instead, but is read only while the library
// loads, before any code of ours runs. So this sets it and runs OpenBLAS's own start-up choice
// again (gotoblas_dynamic_quit, gotoblas_dynamic_init), before the first BLAS call. The functions
// are looked up at run time: an OpenBLAS built for one target has none of them and is left alone.
#include "recurrent_gemm.h"
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/// Kernel sets of a DYNAMIC_ARCH OpenBLAS that use AVX-512 (`avx512`) or at least AVX2 (else).
static int rk_core_is_at_least(const char *core, int avx512) {
    static const char *const wide[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    static const char *const avx2[] = {"Haswell", "Zen"};
    for (size_t i = 0; i < sizeof wide / sizeof *wide; i++) if (strcasecmp(core, wide[i]) == 0) return 1;
    if (avx512) return 0;
    for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++) if (strcasecmp(core, avx2[i]) == 0) return 1;
    return 0;
}

const char *rk_openblas_select_core(void) {
    typedef char *(*name_fn)(void);
    typedef void (*init_fn)(void);
    name_fn corename = (name_fn)dlsym(RTLD_DEFAULT, "openblas_get_corename");
    init_fn quit = (init_fn)dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
    init_fn init = (init_fn)dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
    if (!corename) return "unknown";
    const char *have = corename();
    int isa = rk_cpu_isa();
    // The user's own choice stands, and only x86-64 CPUs with AVX2 get another one.
    if (getenv("OPENBLAS_CORETYPE") || !quit || !init || isa < RK_ISA_AVX2 || !have) return have ? have : "unknown";
    int avx512 = isa >= RK_ISA_AVX512;
    if (rk_core_is_at_least(have, avx512)) return have;
    setenv("OPENBLAS_CORETYPE", avx512 ? "SkylakeX" : "Haswell", 1);
    quit();
    init();
    // Child processes see the environment they were started with.
    unsetenv("OPENBLAS_CORETYPE");
    have = corename();
    return have ? have : "unknown";
}
