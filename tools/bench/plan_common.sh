# Shared by the plan benches (sourced).
#
# Megatron-LM's tensor-parallel layout for the graphs of
# tools/models/make_graph_only.py, as tessera-compile --shard hints: QKV and
# MLP-up by columns, the projections by rows, a vocabulary-parallel
# embedding and a column-parallel LM head.
megatron=(--shard '*.attn.qkv.weight=S1' --shard '*.attn.qkv.bias=S0'
          --shard '*.attn.proj.weight=S0' --shard '*.mlp.fc.weight=S1'
          --shard '*.mlp.fc.bias=S0' --shard '*.mlp.proj.weight=S0'
          --shard 'embed.weight=S0' --shard 'lm_head.weight=S1')

# "dp=8 x tp=8 x pp=8, 2 micro-batches ...: predicted 12.3 ms per batch" -> "8x8x8/2 12.3"
predicted() {
  sed -n 's/.*mesh dp=\([0-9]*\) x tp=\([0-9]*\)\( x pp=\([0-9]*\), \([0-9]*\) micro-batches\)\{0,1\} on .*: predicted \([0-9.]*\) ms per batch.*/\1 \2 \4 \5 \6/p' |
    awk '{ if (NF == 3) print $1 "x" $2 "x1/1", $3; else print $1 "x" $2 "x" $3 "/" $4, $5 }'
}
