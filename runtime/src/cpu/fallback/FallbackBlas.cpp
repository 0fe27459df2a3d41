//===- FallbackBlas.cpp - plain-loop GEMM for builds without OpenBLAS -----===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "cblas.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace {
template <typename T>
void gemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
          T alpha, const T *a, int lda, const T *b, int ldb, T beta, T *c, int ldc) {
  if (order == CblasColMajor) { // C^T = B^T A^T in row-major terms
    gemm(CblasRowMajor, tb, ta, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc);
    return;
  }
  bool tA = ta == CblasTrans, tB = tb == CblasTrans;
#pragma omp parallel for schedule(static) if (int64_t(m) * n * k > 65536)
  for (int i = 0; i < m; ++i) {
    std::vector<T> row(size_t(n), T(0));
    for (int p = 0; p < k; ++p) {
      T av = tA ? a[size_t(p) * lda + i] : a[size_t(i) * lda + p];
      if (tB)
        for (int j = 0; j < n; ++j)
          row[size_t(j)] += av * b[size_t(j) * ldb + p];
      else
        for (int j = 0; j < n; ++j)
          row[size_t(j)] += av * b[size_t(p) * ldb + j];
    }
    for (int j = 0; j < n; ++j) {
      T &out = c[size_t(i) * ldc + j];
      out = alpha * row[size_t(j)] + (beta == T(0) ? T(0) : beta * out);
    }
  }
}
} // namespace

extern "C" void cblas_sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m,
                            int n, int k, float alpha, const float *a, int lda, const float *b,
                            int ldb, float beta, float *c, int ldc) {
  gemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

extern "C" void cblas_dgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m,
                            int n, int k, double alpha, const double *a, int lda,
                            const double *b, int ldb, double beta, double *c, int ldc) {
  gemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
