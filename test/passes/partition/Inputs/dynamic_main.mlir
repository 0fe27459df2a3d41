// A @main whose batch is not bound (tsr-partition-plan-mesh refuses it).
func.func @main(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  return %x : tensor<?x64xf32>
}
