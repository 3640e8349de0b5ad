{
  "targets": [
    {
      "target_name": "dml_native",
      "sources": [
        "src/native/addon.cc",
        "src/native/common.cc",
        "src/native/core.cc",
        "src/native/math.cc",
        "src/native/shape.cc",
        "src/native/nn.cc",
        "src/native/autograd.cc",
        "src/native/image.cc",
        "src/native/resample.cc",
        "src/native/color.cc",
        "src/native/layout.cc",
        "src/native/simd.cc",
        "src/native/distributed.cc",
        "src/native/profiler.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/libtorch.cjs include)"
      ],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=8", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "<!@(node scripts/libtorch.cjs defines)"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "libraries": ["<!@(node scripts/libtorch.cjs ldflags)", "<!@(node scripts/libtorch.cjs libs)", "-ljpeg"]
    }
  ]
}
