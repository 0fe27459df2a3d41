// RUN: tessera-opt %s --split-input-file --verify-diagnostics

// Tests that a mesh plan's ZeRO stage is one of 0-3.
// expected-error @+1 {{mesh plan: zero must be 0, 1, 2 or 3, not 4}}
module attributes {tsr.mesh_plan = #tsr.mesh_plan<dp = 2, tp = 1, pp = 1, microbatches = 1, accumulated = 1, zero = 4, recompute = "none">} {
}

// -----

// Tests that a pipeline of pp stages has pp + 1 stage bounds.
// expected-error @+1 {{mesh plan: 2 stages need 3 stage bounds, not 2}}
module attributes {tsr.mesh_plan = #tsr.mesh_plan<dp = 1, tp = 1, pp = 2, microbatches = 2, accumulated = 1, zero = 0, recompute = "none", stages = [0, 9]>} {
}

// -----

// Tests that stage bounds ascend.
// expected-error @+1 {{mesh plan: stage bounds must ascend from 0}}
module attributes {tsr.mesh_plan = #tsr.mesh_plan<dp = 1, tp = 1, pp = 2, microbatches = 2, accumulated = 1, zero = 0, recompute = "none", stages = [0, 9, 4]>} {
}

// -----

// Tests the recomputation's names.
// expected-error @+1 {{mesh plan: recompute must be none, selective or full, not 'some'}}
module attributes {tsr.mesh_plan = #tsr.mesh_plan<dp = 1, tp = 1, pp = 1, microbatches = 1, accumulated = 1, zero = 0, recompute = "some">} {
}

// -----

// Tests that every degree is positive.
// expected-error @+1 {{mesh plan: dp, tp, pp, microbatches and accumulated must be at least 1}}
module attributes {tsr.mesh_plan = #tsr.mesh_plan<dp = 0, tp = 1, pp = 1, microbatches = 1, accumulated = 1, zero = 0, recompute = "none">} {
}
