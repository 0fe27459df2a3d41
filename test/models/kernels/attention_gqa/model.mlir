// Causal grouped-query attention over 150 positions with a boolean padding
// mask, written in tsr (the exporters' 16-token models do not reach several
// query blocks and key tiles): 4 query heads share 2 key/value heads.
func.func @main(%q: tensor<2x4x150x64xf32>, %k: tensor<2x2x150x64xf32>,
                %v: tensor<2x2x150x64xf32>, %m: tensor<2x1x1x150xi1>) -> tensor<2x4x150x64xf32> {
  %y = tsr.attention %q, %k, %v mask(%m) causal scale = 1.250000e-01 : (tensor<2x4x150x64xf32>, tensor<2x2x150x64xf32>, tensor<2x2x150x64xf32>, tensor<2x1x1x150xi1>) -> tensor<2x4x150x64xf32>
  return %y : tensor<2x4x150x64xf32>
}
