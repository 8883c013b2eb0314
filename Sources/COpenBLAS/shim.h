#ifndef VIDFORMER_COPENBLAS_SHIM_H
#define VIDFORMER_COPENBLAS_SHIM_H
#include <cblas.h>
/* Declared by OpenBLAS's cblas.h; repeated so the module does not depend on the header's ifdefs. */
void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);
#endif
