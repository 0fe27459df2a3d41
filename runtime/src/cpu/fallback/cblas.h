//===- cblas.h - the CBLAS subset the runtime calls, for builds without BLAS ===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Used only where OpenBLAS is not installed (a GPU host that builds the
// runtime for the CUDA backend): FallbackBlas.cpp implements these two
// calls with plain loops. The CPU backend is then correct but slow.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_FALLBACK_CBLAS_H
#define TESSERA_FALLBACK_CBLAS_H

extern "C" {
enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };
void cblas_sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
                 float alpha, const float *a, int lda, const float *b, int ldb, float beta,
                 float *c, int ldc);
void cblas_dgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
                 double alpha, const double *a, int lda, const double *b, int ldb, double beta,
                 double *c, int ldc);
}

#endif // TESSERA_FALLBACK_CBLAS_H
