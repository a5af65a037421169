{
  "targets": [
    {
      "target_name": "mcc_kernel",
      "sources": ["workers/native/mcc-kernel.cc", "workers/native/cylinder-kernel.cc", "workers/native/triplet-keys.cc"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-O3", "-g", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno", "-std=c++17"],
      "conditions": [
        ["target_arch=='x64'", { "cflags_cc": ["-mpopcnt"] }]
      ]
    }
  ]
}
