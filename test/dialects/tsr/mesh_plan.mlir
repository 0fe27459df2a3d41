// RUN: tessera-opt %s | tessera-opt | FileCheck %s

// Tests the mesh plan attribute: printed and parsed back, stage bounds
// optional (no pipeline).
// CHECK: module attributes {tsr.mesh_plan = #tsr.mesh_plan<dp = 2, tp = 2, pp = 2, microbatches = 4, accumulated = 1, zero = 1, recompute = "selective", stages = [0, 5, 9]>}
// CHECK: module @flat attributes {tsr.mesh_plan = #tsr.mesh_plan<dp = 4, tp = 1, pp = 1, microbatches = 1, accumulated = 2, zero = 0, recompute = "none">}
module attributes {tsr.mesh_plan = #tsr.mesh_plan<dp = 2, tp = 2, pp = 2, microbatches = 4,
    accumulated = 1, zero = 1, recompute = "selective", stages = [0, 5, 9]>} {
  module @flat attributes {tsr.mesh_plan = #tsr.mesh_plan<dp = 4, tp = 1, pp = 1,
      microbatches = 1, accumulated = 2, zero = 0, recompute = "none">} {
  }
}
