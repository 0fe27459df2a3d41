func.func @main(%x: tensor<4xf32> {tsr.name = "x"}) -> (tensor<4xf32> {tsr.name = "e"}, tensor<4xf32> {tsr.name = "sum"}) {
  %0 = tsr.exp %x : tensor<4xf32>
  %1 = tsr.add %0, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}
