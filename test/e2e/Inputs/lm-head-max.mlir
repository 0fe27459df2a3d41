// The row maximum of an LM head's logits (8 x 32768): at tp=2 the search
// splits the head by vocabulary columns and all-reduces the blocks' maxima.
func.func @main(%x: tensor<8x64xf32> {tsr.name = "x"}, %w: tensor<64x32768xf32> {tsr.name = "w"})
    -> (tensor<8x1xf32> {tsr.name = "m"}) {
  %l = tsr.matmul %x, %w : (tensor<8x64xf32>, tensor<64x32768xf32>) -> tensor<8x32768xf32>
  %m = tsr.reduce_max %l axes = [1] keep_dims : tensor<8x32768xf32> -> tensor<8x1xf32>
  return %m : tensor<8x1xf32>
}
