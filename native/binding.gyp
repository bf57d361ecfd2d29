{
  "targets": [
    {
      "target_name": "faultlens_native",
      "sources": [
        "addon.c", "util.c", "log.c", "object.c", "attach.c", "tc.c", "map.c", "ringbuf.c",
        "btf_layout.c", "probe.c"
      ],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-Wno-format-truncation",
                 "<!@(pkg-config --cflags libbpf)"],
      "libraries": ["<!@(pkg-config --libs libbpf)", "-lelf", "-lz"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
