# Megatron-LM's tensor-parallel layout for the graphs of
# tools/models/make_graph_only.py, as tessera-compile --shard hints: QKV and
# MLP-up by columns, the projections by rows, a vocabulary-parallel
# embedding and a column-parallel LM head. Sourced by the plan benches.
megatron=(--shard '*.attn.qkv.weight=S1' --shard '*.attn.qkv.bias=S0'
          --shard '*.attn.proj.weight=S0' --shard '*.mlp.fc.weight=S1'
          --shard '*.mlp.fc.bias=S0' --shard '*.mlp.proj.weight=S0'
          --shard 'embed.weight=S0' --shard 'lm_head.weight=S1')
