/*
 * shm.node: maps a file (a frame ring in /dev/shm or a tmpfs volume) into memory and hands it to
 * JS as an external ArrayBuffer, so a reader takes frames with memory loads and one memcpy instead
 * of a pread per field. Unmapped when the ArrayBuffer is garbage-collected.
 *
 *   map(path: string, length: number, writable: boolean): ArrayBuffer
 *
 * Built by scripts/build-native.mjs at `npm ci` (postinstall); optional: without it the ring is
 * read with pread (apps/camera/src/frame-ring.ts). N-API only, no node-gyp.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void unmap(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

static napi_value fail(napi_env env, const char *what, const char *path) {
  char msg[4096 + 128];
  snprintf(msg, sizeof msg, "%s %s: %s", what, path, strerror(errno));
  napi_throw_error(env, "ERR_SHM_MAP", msg);
  return NULL;
}

static napi_value map_file(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) {
    napi_throw_type_error(env, NULL, "map(path, length, writable)");
    return NULL;
  }
  char path[4096];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 || len >= sizeof path - 1) {
    napi_throw_type_error(env, NULL, "path must be a non-empty string");
    return NULL;
  }
  int64_t length = 0;
  bool writable = false;
  if (napi_get_value_int64(env, argv[1], &length) != napi_ok || length <= 0 || napi_get_value_bool(env, argv[2], &writable) != napi_ok) {
    napi_throw_type_error(env, NULL, "length must be a positive number and writable a boolean");
    return NULL;
  }
  int fd = open(path, writable ? O_RDWR : O_RDONLY);
  if (fd < 0) return fail(env, "open", path);
  struct stat st;
  if (fstat(fd, &st) != 0) { int e = errno; close(fd); errno = e; return fail(env, "fstat", path); }
  /* Touching a mapped page past the end of the file kills the process (SIGBUS): refuse. */
  if (st.st_size < length) { close(fd); errno = EINVAL; return fail(env, "file shorter than the requested length:", path); }
  void *p = mmap(NULL, (size_t)length, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
  int e = errno;
  close(fd);
  if (p == MAP_FAILED) { errno = e; return fail(env, "mmap", path); }
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, (size_t)length, unmap, (void *)(uintptr_t)length, &ab) != napi_ok) {
    munmap(p, (size_t)length);
    napi_throw_error(env, NULL, "napi_create_external_arraybuffer failed");
    return NULL;
  }
  return ab;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "map", NAPI_AUTO_LENGTH, map_file, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "map", fn) != napi_ok) return NULL;
  return exports;
}
