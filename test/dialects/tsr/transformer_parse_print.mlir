// RUN: tessera-opt %s | tessera-opt | FileCheck %s
// RUN: tessera-opt %s --mlir-print-op-generic | tessera-opt | FileCheck %s

// Tests that attention round-trips: multi-head causal, masked, grouped-query.
// CHECK-LABEL: func.func @attention
func.func @attention(%q: tensor<4x12x128x64xf32>, %mask: tensor<4x1x1x128xf32>,
                     %bmask: tensor<128x128xi1>, %gq: tensor<1x8x16x32xf32>,
                     %gk: tensor<1x2x20x32xf32>, %gv: tensor<1x2x20x48xf32>) {
  // CHECK: tsr.attention %{{.*}}, %{{.*}}, %{{.*}} causal scale = 1.250000e-01 : (tensor<4x12x128x64xf32>, tensor<4x12x128x64xf32>, tensor<4x12x128x64xf32>) -> tensor<4x12x128x64xf32>
  %0 = tsr.attention %q, %q, %q causal scale = 0.125 : (tensor<4x12x128x64xf32>, tensor<4x12x128x64xf32>, tensor<4x12x128x64xf32>) -> tensor<4x12x128x64xf32>
  // CHECK: tsr.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}}) scale = 1.250000e-01 : (tensor<4x12x128x64xf32>, tensor<4x12x128x64xf32>, tensor<4x12x128x64xf32>, tensor<4x1x1x128xf32>) -> tensor<4x12x128x64xf32>
  %1 = tsr.attention %q, %q, %q mask(%mask) scale = 0.125 : (tensor<4x12x128x64xf32>, tensor<4x12x128x64xf32>, tensor<4x12x128x64xf32>, tensor<4x1x1x128xf32>) -> tensor<4x12x128x64xf32>
  // CHECK: tsr.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}}) causal scale
  %2 = tsr.attention %q, %q, %q mask(%bmask) causal scale = 0.125 : (tensor<4x12x128x64xf32>, tensor<4x12x128x64xf32>, tensor<4x12x128x64xf32>, tensor<128x128xi1>) -> tensor<4x12x128x64xf32>
  // CHECK: tsr.attention %{{.*}}, %{{.*}}, %{{.*}} causal scale = 2.500000e-01 : (tensor<1x8x16x32xf32>, tensor<1x2x20x32xf32>, tensor<1x2x20x48xf32>) -> tensor<1x8x16x48xf32>
  %3 = tsr.attention %gq, %gk, %gv causal scale = 0.25 : (tensor<1x8x16x32xf32>, tensor<1x2x20x32xf32>, tensor<1x2x20x48xf32>) -> tensor<1x8x16x48xf32>
  return
}

// Tests that rotary round-trips, rotate-half and interleaved, full and partial width.
// CHECK-LABEL: func.func @rotary
func.func @rotary(%x: tensor<1x8x16x64xf32>, %cos: tensor<1x1x16x64xf32>,
                  %sin: tensor<1x1x16x64xf32>, %c32: tensor<16x32xf32>, %s32: tensor<16x32xf32>) {
  // CHECK: tsr.rotary %{{.*}}, %{{.*}}, %{{.*}} : (tensor<1x8x16x64xf32>, tensor<1x1x16x64xf32>, tensor<1x1x16x64xf32>) -> tensor<1x8x16x64xf32>
  %0 = tsr.rotary %x, %cos, %sin : (tensor<1x8x16x64xf32>, tensor<1x1x16x64xf32>, tensor<1x1x16x64xf32>) -> tensor<1x8x16x64xf32>
  // CHECK: tsr.rotary %{{.*}}, %{{.*}}, %{{.*}} interleaved : (tensor<1x8x16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) -> tensor<1x8x16x64xf32>
  %1 = tsr.rotary %x, %c32, %s32 interleaved : (tensor<1x8x16x64xf32>, tensor<16x32xf32>, tensor<16x32xf32>) -> tensor<1x8x16x64xf32>
  return
}

// Tests that tsr values carry upstream shard annotations.
// CHECK: shard.grid @grid(shape = 2)
// CHECK-LABEL: func.func @with_shard
shard.grid @grid(shape = 2)
func.func @with_shard(%x: tensor<4x768xf32>) -> tensor<4x768xf32> {
  // CHECK: shard.sharding @grid split_axes = {{\[\[}}0]]
  %s = shard.sharding @grid split_axes = [[0]] : !shard.sharding
  %0 = shard.shard %x to %s : tensor<4x768xf32>
  %1 = tsr.gelu %0 : tensor<4x768xf32>
  return %1 : tensor<4x768xf32>
}

// -----

// Tests that the generation ops round-trip: rows at each sequence's position
// (batch broadcast from 1, a merged [batch x seq] axis) and a cache write.
// CHECK-LABEL: func.func @generation
// CHECK: tsr.take_rows %{{.*}}[%{{.*}}] axis = 2 inner = 1 : (tensor<1x1x32x16xf32>, tensor<2xi64>) -> tensor<2x1x1x16xf32>
// CHECK: tsr.take_rows %{{.*}}[%{{.*}}] axis = 0 inner = 1 : (tensor<64x8xf32>, tensor<2xi64>) -> tensor<2x8xf32>
// CHECK: tsr.cache_write %{{.*}}[%{{.*}}], %{{.*}} axis = 2 : (tensor<2x4x32x16xf32>, tensor<2xi64>, tensor<2x4x1x16xf32>) -> tensor<2x4x32x16xf32>
func.func @generation(%cos: tensor<1x1x32x16xf32>, %flat: tensor<64x8xf32>,
                      %cache: tensor<2x4x32x16xf32>, %row: tensor<2x4x1x16xf32>,
                      %pos: tensor<2xi64>) {
  %0 = tsr.take_rows %cos[%pos] axis = 2 inner = 1 : (tensor<1x1x32x16xf32>, tensor<2xi64>) -> tensor<2x1x1x16xf32>
  %1 = tsr.take_rows %flat[%pos] axis = 0 inner = 1 : (tensor<64x8xf32>, tensor<2xi64>) -> tensor<2x8xf32>
  %2 = tsr.cache_write %cache[%pos], %row axis = 2 : (tensor<2x4x32x16xf32>, tensor<2xi64>, tensor<2x4x1x16xf32>) -> tensor<2x4x32x16xf32>
  return
}
