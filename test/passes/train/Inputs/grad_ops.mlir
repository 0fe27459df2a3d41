// Gradient-rule cases for finite_differences.py: each `main` takes float
// inputs and a weighting `r` and returns sum(op(inputs) * r).

// case add_broadcast
func.func @main(%a: tensor<2x3xf32> {tsr.name = "a"}, %b: tensor<3xf32> {tsr.name = "b"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case sub_broadcast
func.func @main(%a: tensor<2x3xf32> {tsr.name = "a"}, %b: tensor<3xf32> {tsr.name = "b"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.sub %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case mul_broadcast
func.func @main(%a: tensor<2x3xf32> {tsr.name = "a"}, %b: tensor<3xf32> {tsr.name = "b"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.mul %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case max_broadcast
func.func @main(%a: tensor<2x3xf32> {tsr.name = "a"}, %b: tensor<3xf32> {tsr.name = "b"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.max %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case min_broadcast
func.func @main(%a: tensor<2x3xf32> {tsr.name = "a"}, %b: tensor<3xf32> {tsr.name = "b"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.min %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case div
func.func @main(%a: tensor<2x3xf32> {tsr.name = "a"}, %b: tensor<2x1xf32> {tsr.name = "b"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %b2 = tsr.mul %b, %b : (tensor<2x1xf32>, tensor<2x1xf32>) -> tensor<2x1xf32>
  %one = tsr.constant dense<1.0> : tensor<f32>
  %d = tsr.add %b2, %one : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %y = tsr.div %a, %d : (tensor<2x3xf32>, tensor<2x1xf32>) -> tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case pow
func.func @main(%a: tensor<2x3xf32> {tsr.name = "a"}, %b: tensor<2x3xf32> {tsr.name = "b"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %e = tsr.exp %a : tensor<2x3xf32>
  %y = tsr.pow %e, %b : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case neg
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.neg %x : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case exp
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.exp %x : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case tanh
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.tanh %x : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case erf
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.erf %x : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case sigmoid
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.sigmoid %x : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case sin
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.sin %x : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case cos
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.cos %x : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case abs
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.abs %x : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case relu
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.relu %x : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case silu
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.silu %x : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case log
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %x2 = tsr.mul %x, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %one = tsr.constant dense<0.5> : tensor<f32>
  %p = tsr.add %x2, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %y = tsr.log %p : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case sqrt
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %x2 = tsr.mul %x, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %one = tsr.constant dense<0.5> : tensor<f32>
  %p = tsr.add %x2, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %y = tsr.sqrt %p : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case rsqrt
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %x2 = tsr.mul %x, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %one = tsr.constant dense<0.5> : tensor<f32>
  %p = tsr.add %x2, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %y = tsr.rsqrt %p : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case reciprocal
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %x2 = tsr.mul %x, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %one = tsr.constant dense<0.5> : tensor<f32>
  %p = tsr.add %x2, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %y = tsr.reciprocal %p : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case gelu_erf
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.gelu %x : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case gelu_tanh
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.gelu %x approximate = tanh : tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case select
func.func @main(%a: tensor<2x3xf32> {tsr.name = "a"}, %b: tensor<3xf32> {tsr.name = "b"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %c = tsr.constant dense<[[true, false, true], [false, false, true]]> : tensor<2x3xi1>
  %y = tsr.select %c, %a, %b : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case matmul
func.func @main(%a: tensor<3x4xf32> {tsr.name = "a"}, %b: tensor<4x5xf32> {tsr.name = "b"}, %r: tensor<3x5xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.matmul %a, %b : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  %ly = tsr.mul %y, %r : (tensor<3x5xf32>, tensor<3x5xf32>) -> tensor<3x5xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<3x5xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case matmul_batched_broadcast
func.func @main(%a: tensor<2x3x4xf32> {tsr.name = "a"}, %b: tensor<4x5xf32> {tsr.name = "b"}, %r: tensor<2x3x5xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.matmul %a, %b : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> tensor<2x3x5xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3x5xf32>, tensor<2x3x5xf32>) -> tensor<2x3x5xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1, 2] : tensor<2x3x5xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case matmul_transposed
func.func @main(%a: tensor<2x4x3xf32> {tsr.name = "a"}, %b: tensor<2x5x4xf32> {tsr.name = "b"}, %r: tensor<2x3x5xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.matmul %a, %b {transpose_lhs, transpose_rhs} : (tensor<2x4x3xf32>, tensor<2x5x4xf32>) -> tensor<2x3x5xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3x5xf32>, tensor<2x3x5xf32>) -> tensor<2x3x5xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1, 2] : tensor<2x3x5xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case reduce_sum
func.func @main(%x: tensor<2x3x4xf32> {tsr.name = "x"}, %r: tensor<3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.reduce_sum %x axes = [0, 2] : tensor<2x3x4xf32> -> tensor<3xf32>
  %ly = tsr.mul %y, %r : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %l = tsr.reduce_sum %ly axes = [0] : tensor<3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case reduce_mean_keep
func.func @main(%x: tensor<2x3x4xf32> {tsr.name = "x"}, %r: tensor<2x1x4xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.reduce_mean %x axes = [1] keep_dims : tensor<2x3x4xf32> -> tensor<2x1x4xf32>
  %ly = tsr.mul %y, %r : (tensor<2x1x4xf32>, tensor<2x1x4xf32>) -> tensor<2x1x4xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1, 2] : tensor<2x1x4xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case reduce_max
func.func @main(%x: tensor<2x3x4xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.reduce_max %x axes = [2] : tensor<2x3x4xf32> -> tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case softmax
func.func @main(%x: tensor<2x5xf32> {tsr.name = "x"}, %r: tensor<2x5xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.softmax %x axis = 1 : tensor<2x5xf32>
  %ly = tsr.mul %y, %r : (tensor<2x5xf32>, tensor<2x5xf32>) -> tensor<2x5xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x5xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case layer_norm
func.func @main(%x: tensor<2x3x8xf32> {tsr.name = "x"}, %g: tensor<8xf32> {tsr.name = "g"}, %b: tensor<8xf32> {tsr.name = "b"}, %r: tensor<2x3x8xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.layer_norm %x, %g, %b axis = 2 epsilon = 1.0e-05 : (tensor<2x3x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x3x8xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1, 2] : tensor<2x3x8xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case rms_norm
func.func @main(%x: tensor<2x3x8xf32> {tsr.name = "x"}, %g: tensor<8xf32> {tsr.name = "g"}, %r: tensor<2x3x8xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.rms_norm %x, %g axis = 2 epsilon = 1.0e-06 : (tensor<2x3x8xf32>, tensor<8xf32>) -> tensor<2x3x8xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1, 2] : tensor<2x3x8xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case reshape_transpose
func.func @main(%x: tensor<2x3x4xf32> {tsr.name = "x"}, %r: tensor<4x6xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %a = tsr.reshape %x : tensor<2x3x4xf32> -> tensor<6x4xf32>
  %y = tsr.transpose %a perm = [1, 0] : tensor<6x4xf32> -> tensor<4x6xf32>
  %ly = tsr.mul %y, %r : (tensor<4x6xf32>, tensor<4x6xf32>) -> tensor<4x6xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<4x6xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case concat
func.func @main(%a: tensor<2x3xf32> {tsr.name = "a"}, %b: tensor<2x2xf32> {tsr.name = "b"}, %r: tensor<2x5xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.concat %a, %b axis = 1 : (tensor<2x3xf32>, tensor<2x2xf32>) -> tensor<2x5xf32>
  %ly = tsr.mul %y, %r : (tensor<2x5xf32>, tensor<2x5xf32>) -> tensor<2x5xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x5xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case slice
func.func @main(%x: tensor<4x6xf32> {tsr.name = "x"}, %r: tensor<2x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.slice %x start = [1, 2] limit = [3, 5] : tensor<4x6xf32> -> tensor<2x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case split
func.func @main(%x: tensor<2x6xf32> {tsr.name = "x"}, %r: tensor<2x2xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %p:2 = tsr.split %x axis = 1 sizes = [2, 4] : tensor<2x6xf32> -> tensor<2x2xf32>, tensor<2x4xf32>
  %y = tsr.mul %p#0, %p#0 : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
  %ly = tsr.mul %y, %r : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x2xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case broadcast
func.func @main(%x: tensor<1x3xf32> {tsr.name = "x"}, %r: tensor<2x4x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.broadcast %x : tensor<1x3xf32> -> tensor<2x4x3xf32>
  %ly = tsr.mul %y, %r : (tensor<2x4x3xf32>, tensor<2x4x3xf32>) -> tensor<2x4x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1, 2] : tensor<2x4x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case gather_embedding
func.func @main(%w: tensor<10x4xf32> {tsr.name = "w"}, %r: tensor<2x3x4xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %i = tsr.constant dense<[[1, 3, 3], [9, 0, 1]]> : tensor<2x3xi64>
  %y = tsr.gather %w[%i] axis = 0 : (tensor<10x4xf32>, tensor<2x3xi64>) -> tensor<2x3x4xf32>
  %ly = tsr.mul %y, %r : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1, 2] : tensor<2x3x4xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case attention
func.func @main(%q: tensor<1x2x3x4xf32> {tsr.name = "q"}, %k: tensor<1x2x5x4xf32> {tsr.name = "k"}, %v: tensor<1x2x5x4xf32> {tsr.name = "v"}, %r: tensor<1x2x3x4xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.attention %q, %k, %v scale = 0.5 : (tensor<1x2x3x4xf32>, tensor<1x2x5x4xf32>, tensor<1x2x5x4xf32>) -> tensor<1x2x3x4xf32>
  %ly = tsr.mul %y, %r : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1, 2, 3] : tensor<1x2x3x4xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case attention_causal_gqa
func.func @main(%q: tensor<1x4x3x4xf32> {tsr.name = "q"}, %k: tensor<1x2x3x4xf32> {tsr.name = "k"}, %v: tensor<1x2x3x4xf32> {tsr.name = "v"}, %r: tensor<1x4x3x4xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.attention %q, %k, %v causal scale = 0.5 : (tensor<1x4x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x4x3x4xf32>
  %ly = tsr.mul %y, %r : (tensor<1x4x3x4xf32>, tensor<1x4x3x4xf32>) -> tensor<1x4x3x4xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1, 2, 3] : tensor<1x4x3x4xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case attention_softcap
func.func @main(%q: tensor<1x4x3x4xf32> {tsr.name = "q"}, %k: tensor<1x2x3x4xf32> {tsr.name = "k"}, %v: tensor<1x2x3x4xf32> {tsr.name = "v"}, %m: tensor<1x1x3x3xf32> {tsr.name = "m"}, %r: tensor<1x4x3x4xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.attention %q, %k, %v mask(%m) causal scale = 0.5 softcap = 0.8 : (tensor<1x4x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x1x3x3xf32>) -> tensor<1x4x3x4xf32>
  %ly = tsr.mul %y, %r : (tensor<1x4x3x4xf32>, tensor<1x4x3x4xf32>) -> tensor<1x4x3x4xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1, 2, 3] : tensor<1x4x3x4xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case attention_bool_mask
func.func @main(%q: tensor<2x2x3x4xf32> {tsr.name = "q"}, %k: tensor<2x2x4x4xf32> {tsr.name = "k"}, %v: tensor<2x2x4x4xf32> {tsr.name = "v"}, %r: tensor<2x2x3x4xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %m = tsr.constant dense<[[[[true, true, false, true]]], [[[true, false, false, true]]]]> : tensor<2x1x1x4xi1>
  %y = tsr.attention %q, %k, %v mask(%m) scale = 0.5 : (tensor<2x2x3x4xf32>, tensor<2x2x4x4xf32>, tensor<2x2x4x4xf32>, tensor<2x1x1x4xi1>) -> tensor<2x2x3x4xf32>
  %ly = tsr.mul %y, %r : (tensor<2x2x3x4xf32>, tensor<2x2x3x4xf32>) -> tensor<2x2x3x4xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1, 2, 3] : tensor<2x2x3x4xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case attention_additive_mask
func.func @main(%q: tensor<1x2x3x4xf32> {tsr.name = "q"}, %k: tensor<1x2x3x4xf32> {tsr.name = "k"}, %v: tensor<1x2x3x4xf32> {tsr.name = "v"}, %m: tensor<1x1x3x3xf32> {tsr.name = "m"}, %r: tensor<1x2x3x4xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.attention %q, %k, %v mask(%m) scale = 0.5 : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x1x3x3xf32>) -> tensor<1x2x3x4xf32>
  %ly = tsr.mul %y, %r : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1, 2, 3] : tensor<1x2x3x4xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case rotary
func.func @main(%x: tensor<1x2x3x8xf32> {tsr.name = "x"}, %c: tensor<1x1x3x8xf32> {tsr.name = "c"}, %s: tensor<1x1x3x8xf32> {tsr.name = "s"}, %r: tensor<1x2x3x8xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.rotary %x, %c, %s : (tensor<1x2x3x8xf32>, tensor<1x1x3x8xf32>, tensor<1x1x3x8xf32>) -> tensor<1x2x3x8xf32>
  %ly = tsr.mul %y, %r : (tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>) -> tensor<1x2x3x8xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1, 2, 3] : tensor<1x2x3x8xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case rotary_partial_interleaved
func.func @main(%x: tensor<1x2x3x8xf32> {tsr.name = "x"}, %c: tensor<1x1x3x4xf32> {tsr.name = "c"}, %s: tensor<1x1x3x4xf32> {tsr.name = "s"}, %r: tensor<1x2x3x8xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.rotary %x, %c, %s interleaved : (tensor<1x2x3x8xf32>, tensor<1x1x3x4xf32>, tensor<1x1x3x4xf32>) -> tensor<1x2x3x8xf32>
  %ly = tsr.mul %y, %r : (tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>) -> tensor<1x2x3x8xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1, 2, 3] : tensor<1x2x3x8xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case cumsum
func.func @main(%a: tensor<2x5xf32> {tsr.name = "a"}, %r: tensor<2x5xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.cumsum %a axis = 1 : tensor<2x5xf32>
  %ly = tsr.mul %y, %r : (tensor<2x5xf32>, tensor<2x5xf32>) -> tensor<2x5xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<2x5xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case cumsum_exclusive_reverse
func.func @main(%a: tensor<4x3xf32> {tsr.name = "a"}, %r: tensor<4x3xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %y = tsr.cumsum %a axis = 0 exclusive reverse : tensor<4x3xf32>
  %ly = tsr.mul %y, %r : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<4x3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// case dropout
func.func @main(%x: tensor<3x8xf32> {tsr.name = "x"}, %w: tensor<3x8xf32> {tsr.name = "w"}, %r: tensor<3x8xf32> {tsr.name = "r"}) -> (tensor<f32> {tsr.name = "loss"}) {
  %s = tsr.weight "train.step" zeros : tensor<f32>
  %xw = tsr.mul %x, %w : (tensor<3x8xf32>, tensor<3x8xf32>) -> tensor<3x8xf32>
  %y = tsr.dropout %xw, %s ratio = 0.5 seed = 7 stream = 2 global_shape = [3, 8] origin = [0, 0] : (tensor<3x8xf32>, tensor<f32>) -> tensor<3x8xf32>
  %ly = tsr.mul %y, %r : (tensor<3x8xf32>, tensor<3x8xf32>) -> tensor<3x8xf32>
  %l = tsr.reduce_sum %ly axes = [0, 1] : tensor<3x8xf32> -> tensor<f32>
  return %l : tensor<f32>
}
