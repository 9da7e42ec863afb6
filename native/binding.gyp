{
  "targets": [
    {
      "target_name": "conform_native",
      "sources": [
        "src/addon.c",
        "src/util.c",
        "src/object.c",
        "src/map.c",
        "src/attach.c",
        "src/ringbuf.c",
        "src/testrun.c"
      ],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "libraries": ["-lbpf", "-lpthread"]
    }
  ]
}
