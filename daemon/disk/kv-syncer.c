/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kv-syncer.h"

#include <errno.h>
#include <gio/gio.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct _KvSyncer {
  GThread *thread;
  GMutex lock;
  GCond wake;
  int request; /* the fd to sync, -1 when there is none */
  int result;  /* of the last sync */
  gboolean quit;
  int ended; /* eventfd, counts syncs that ended */
};

static gpointer run(gpointer data)
{
  KvSyncer *self = data;

  g_mutex_lock(&self->lock);
  for (;;) {
    while (self->request < 0 && !self->quit)
      g_cond_wait(&self->wake, &self->lock);
    if (self->quit)
      break;
    int fd = self->request;
    g_mutex_unlock(&self->lock);
    int result = fdatasync(fd) < 0 ? errno : 0;
    g_mutex_lock(&self->lock);
    self->request = -1;
    self->result = result;
    (void)eventfd_write(self->ended, 1);
  }
  g_mutex_unlock(&self->lock);
  return NULL;
}

KvSyncer *kv_syncer_new(GError **error)
{
  g_autoptr(KvSyncer) self = g_new0(KvSyncer, 1);

  g_mutex_init(&self->lock);
  g_cond_init(&self->wake);
  self->request = -1;
  self->ended = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (self->ended < 0) {
    int saved = errno;
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved), "eventfd: %s", g_strerror(saved));
    return NULL;
  }
  self->thread = g_thread_try_new("kvstored-sync", run, self, error);
  if (self->thread == NULL)
    return NULL;
  return g_steal_pointer(&self);
}

void kv_syncer_free(KvSyncer *self)
{
  if (self == NULL)
    return;
  if (self->thread != NULL) {
    g_mutex_lock(&self->lock);
    self->quit = TRUE;
    g_cond_signal(&self->wake);
    g_mutex_unlock(&self->lock);
    g_thread_join(self->thread);
  }
  if (self->ended >= 0)
    close(self->ended);
  g_cond_clear(&self->wake);
  g_mutex_clear(&self->lock);
  g_free(self);
}

int kv_syncer_fd(KvSyncer *self)
{
  return self->ended;
}

void kv_syncer_start(KvSyncer *self, int fd)
{
  g_mutex_lock(&self->lock);
  g_warn_if_fail(self->request < 0);
  self->request = fd;
  g_cond_signal(&self->wake);
  g_mutex_unlock(&self->lock);
}

int kv_syncer_finish(KvSyncer *self, gboolean wait)
{
  eventfd_t count;
  struct pollfd pfd = {self->ended, POLLIN, 0};

  while (wait && poll(&pfd, 1, -1) < 0 && errno == EINTR)
    ;
  if (eventfd_read(self->ended, &count) < 0)
    return -EAGAIN;
  g_mutex_lock(&self->lock);
  int result = self->result;
  g_mutex_unlock(&self->lock);
  return result;
}
