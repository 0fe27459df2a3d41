//===- AttentionViews.h - attention reads and writes strided views -*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// For every target: the head transposes around attention (q, k, v from
// [B, S, H, D] to [B, H, S, D], the result back) and the split of a fused QKV
// projection before them are copies the attention kernel can do without. An
// attention whose operand comes from transpose(perm = [0, 2, 1, 3]) - of a
// view of one piece of a split along the last axis, or of anything else -
// reads the transpose's source (or the split's input) through strides, and
// one whose result only feeds such a transpose writes the transpose's
// result. The kernel gets attributes
//   dims  = [B, H, Hkv, S, T, D, Dv]
//   views = [base, batch, head, seq strides] for q, k, v and y (elements;
//           the innermost dimension is contiguous),
// the copies go, and memory is planned again.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_LOWER_ATTENTIONVIEWS_H
#define TESSERA_PASSES_LOWER_ATTENTIONVIEWS_H

#include "passes/lower/ProgramPlan.h"

namespace tessera::lower {

/// Rewrites `plan` in place; returns how many copy kernels went.
int foldAttentionViews(ProgramPlan &plan);

} // namespace tessera::lower

#endif // TESSERA_PASSES_LOWER_ATTENTIONVIEWS_H
