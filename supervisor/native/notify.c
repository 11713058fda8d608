/*
 * notify.node: the AF_UNIX datagram sockets of systemd's sd_notify protocol (NOTIFY_SOCKET), which
 * Node cannot open: node:dgram has only UDP, node:net only stream sockets. The npm packages that
 * do it (unix-dgram, sd-notify) are node-gyp addons built against downloaded headers, which an
 * offline install cannot fetch; this is ~200 lines of N-API built like apps/camera/native/shm.c.
 *
 *   bind(path, onMessage(buf: Buffer, pid: number)): handle   a receiving socket (path or "@abstract"),
 *                                                              SO_PASSCRED on: pid is the sender's
 *   close(handle): void                                        stops, closes, unlinks the path
 *   send(path, message: string): void                          one datagram (what sd_notify(3) does)
 *
 * Received datagrams are read on the event loop (uv_poll, unref'd: an open socket does not keep
 * the process alive). File descriptors passed along (sd_notify_barrier's BARRIER=1 fd) are closed
 * at once, which is what a barrier waits for. Built by scripts/build-native.mjs at `npm ci`.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_DATAGRAM 4096 /* systemd's NOTIFY_BUFFER_MAX (PIPE_BUF) */
#define MAX_FDS 16

typedef struct {
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  uv_poll_t poll;
  int fd;
  int closed;
  /* Freed when both the poll handle is closed and the JS handle is finalized. */
  int refs;
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
} channel_t;

static napi_value throw_errno(napi_env env, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  napi_throw_error(env, "ERR_NOTIFY_SOCKET", msg);
  return NULL;
}

/* Fills `addr` from "path" or "@abstract"; returns the address length or -1. */
static socklen_t make_addr(const char *name, size_t len, struct sockaddr_un *addr) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (len == 0 || len >= sizeof addr->sun_path) return (socklen_t)-1;
  memcpy(addr->sun_path, name, len);
  if (name[0] == '@') addr->sun_path[0] = '\0'; /* abstract namespace, as systemd writes it */
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '@' ? 0 : 1));
}

static void release(channel_t *ch) {
  if (--ch->refs == 0) free(ch);
}

static void on_poll_closed(uv_handle_t *h) {
  channel_t *ch = (channel_t *)h->data;
  release(ch);
}

static void shut(channel_t *ch) {
  if (ch->closed) return;
  ch->closed = 1;
  uv_poll_stop(&ch->poll);
  uv_close((uv_handle_t *)&ch->poll, on_poll_closed);
  close(ch->fd);
  if (ch->path[0] != '@') unlink(ch->path);
  if (ch->callback) napi_delete_reference(ch->env, ch->callback);
  ch->callback = NULL;
  if (ch->async) napi_async_destroy(ch->env, ch->async);
  ch->async = NULL;
}

static void deliver(channel_t *ch, const char *data, size_t len, int pid) {
  napi_env env = ch->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[2];
  void *copy;
  if (ch->callback && napi_get_reference_value(env, ch->callback, &cb) == napi_ok && cb != NULL &&
      napi_create_buffer_copy(env, len, data, &copy, &argv[0]) == napi_ok &&
      napi_create_int32(env, pid, &argv[1]) == napi_ok && napi_get_global(env, &recv) == napi_ok) {
    napi_value result;
    /* make_callback: runs microtasks after, and an exception goes to 'uncaughtException'. */
    napi_status st = napi_make_callback(env, ch->async, recv, cb, 2, argv, &result);
    if (st == napi_pending_exception) {
      napi_value ex;
      napi_get_and_clear_last_exception(env, &ex);
      napi_fatal_exception(env, ex);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  channel_t *ch = (channel_t *)h->data;
  (void)events;
  if (status < 0 || ch->closed) return;
  for (int n = 0; n < 64 && !ch->closed; n++) { /* bounded: a flood cannot starve the loop */
    char buf[MAX_DATAGRAM + 1];
    union {
      struct cmsghdr align;
      char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * MAX_FDS)];
    } control;
    struct iovec iov = {buf, MAX_DATAGRAM};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof control.space;
    ssize_t got = recvmsg(ch->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
    if (got < 0) return; /* EAGAIN: drained */
    int pid = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET) continue;
      if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
        struct ucred cred;
        memcpy(&cred, CMSG_DATA(c), sizeof cred);
        pid = (int)cred.pid;
      } else if (c->cmsg_type == SCM_RIGHTS) {
        /* sd_notify_barrier(3): closing the fd tells the sender everything before it was read. */
        size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd; i++) {
          int fd;
          memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
          close(fd);
        }
      }
    }
    if ((size_t)got > MAX_DATAGRAM || (msg.msg_flags & MSG_TRUNC)) continue; /* oversized: dropped, as systemd does */
    deliver(ch, buf, (size_t)got, pid);
  }
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  channel_t *ch = (channel_t *)data;
  shut(ch);
  release(ch);
}

static int get_string(napi_env env, napi_value v, char *out, size_t cap, size_t *len) {
  return napi_get_value_string_utf8(env, v, out, cap, len) == napi_ok && *len > 0 && *len < cap - 1;
}

static napi_value bind_socket(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "bind(path, onMessage)");
    return NULL;
  }
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  size_t len = 0;
  if (!get_string(env, argv[0], path, sizeof path, &len)) {
    napi_throw_type_error(env, NULL, "path must be a string of 1 to 106 bytes");
    return NULL;
  }
  struct sockaddr_un addr;
  socklen_t alen = make_addr(path, len, &addr);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket");
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) { int e = errno; close(fd); errno = e; return throw_errno(env, "SO_PASSCRED"); }
  if (bind(fd, (struct sockaddr *)&addr, alen) != 0) { int e = errno; close(fd); errno = e; return throw_errno(env, "bind"); }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) { close(fd); napi_throw_error(env, NULL, "no event loop"); return NULL; }
  channel_t *ch = calloc(1, sizeof *ch);
  if (!ch) { close(fd); errno = ENOMEM; return throw_errno(env, "calloc"); }
  ch->env = env;
  ch->fd = fd;
  ch->refs = 2;
  memcpy(ch->path, path, len + 1);
  napi_value name, handle;
  if (napi_create_reference(env, argv[1], 1, &ch->callback) != napi_ok ||
      napi_create_string_utf8(env, "edgevisor:notify", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &ch->async) != napi_ok ||
      uv_poll_init(loop, &ch->poll, fd) != 0) {
    if (ch->callback) napi_delete_reference(env, ch->callback);
    close(fd);
    if (path[0] != '@') unlink(path);
    free(ch);
    napi_throw_error(env, NULL, "cannot set up the notify socket");
    return NULL;
  }
  ch->poll.data = ch;
  uv_poll_start(&ch->poll, UV_READABLE, on_readable);
  uv_unref((uv_handle_t *)&ch->poll);
  if (napi_create_external(env, ch, finalize, NULL, &handle) != napi_ok) {
    shut(ch);
    release(ch);
    return NULL;
  }
  return handle;
}

static napi_value close_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok) {
    napi_throw_type_error(env, NULL, "close(handle)");
    return NULL;
  }
  shut((channel_t *)data);
  return NULL;
}

static napi_value send_datagram(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, NULL, "send(path, message)");
    return NULL;
  }
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  size_t len = 0;
  if (!get_string(env, argv[0], path, sizeof path, &len)) {
    napi_throw_type_error(env, NULL, "path must be a string of 1 to 106 bytes");
    return NULL;
  }
  char msg[MAX_DATAGRAM + 1];
  size_t mlen = 0;
  if (napi_get_value_string_utf8(env, argv[1], msg, sizeof msg, &mlen) != napi_ok || mlen >= MAX_DATAGRAM) {
    napi_throw_type_error(env, NULL, "message must be a string under 4096 bytes");
    return NULL;
  }
  struct sockaddr_un addr;
  socklen_t alen = make_addr(path, len, &addr);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket");
  ssize_t sent = sendto(fd, msg, mlen, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&addr, alen);
  int e = errno;
  close(fd);
  if (sent < 0) { errno = e; return throw_errno(env, "sendto"); }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"bind", NULL, bind_socket, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, close_socket, NULL, NULL, NULL, napi_default, NULL},
    {"send", NULL, send_datagram, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
