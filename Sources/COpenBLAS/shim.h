#ifndef VIDFORMER_COPENBLAS_SHIM_H
#define VIDFORMER_COPENBLAS_SHIM_H
#include <cblas.h>
/* Declared by OpenBLAS's cblas.h; repeated so the module does not depend on the header's ifdefs. */
void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
/* Flush denormal floats to zero and treat denormal inputs as zero on the calling thread
   (MXCSR bits FTZ 0x8000 and DAZ 0x0040). Returns the previous MXCSR. */
static inline unsigned int vidformer_flush_denormals(void) {
    unsigned int old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u);
    return old;
}
#else
static inline unsigned int vidformer_flush_denormals(void) { return 0; }
#endif
#endif
