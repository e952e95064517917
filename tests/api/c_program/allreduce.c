/*
 * A small NCCL program in plain C99, built and linked the way NCCL users do
 * (cc ... -lnccl) by nccl_c_program_test.
 *
 *   usage: allreduce [nranks]      (2..8, default 3)
 *
 * Forks nranks processes. Rank 0 makes the unique id and writes it down one
 * pipe per other rank; every rank joins with ncclCommInitRank, all-reduces
 * floats from host buffers with a NULL stream and checks every element.
 * Rank 0 prints which shared library ncclAllReduce was loaded from:
 *   library: <path>
 * Exit status 0 when every rank succeeded.
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nccl.h"

#define MAX_RANKS 8
#define COUNT 4099

#define CHECK(call)                                                                      \
  do {                                                                                   \
    ncclResult_t r_ = (call);                                                            \
    if (r_ != ncclSuccess) {                                                             \
      fprintf(stderr, "rank %d: %s failed: %s (%s)\n", rank, #call, ncclGetErrorString(r_), \
              ncclGetLastError(NULL));                                                   \
      return 1;                                                                          \
    }                                                                                    \
  } while (0)

static int writeAll(int fd, const void* data, size_t size) {
  const char* p = (const char*)data;
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n <= 0) return -1;
    p += n;
    size -= (size_t)n;
  }
  return 0;
}

static int readAll(int fd, void* data, size_t size) {
  char* p = (char*)data;
  while (size > 0) {
    ssize_t n = read(fd, p, size);
    if (n <= 0) return -1;
    p += n;
    size -= (size_t)n;
  }
  return 0;
}

static int runRank(int rank, int nranks, int pipes[][2]) {
  ncclUniqueId id;
  ncclComm_t comm;
  float* send;
  float* recv;
  int i, r, errors = 0;

  if (rank == 0) {
    CHECK(ncclGetUniqueId(&id));
    for (r = 1; r < nranks; ++r) {
      if (writeAll(pipes[r][1], &id, sizeof(id)) != 0) {
        fprintf(stderr, "rank 0: cannot send the id to rank %d\n", r);
        return 1;
      }
    }
  } else if (readAll(pipes[rank][0], &id, sizeof(id)) != 0) {
    fprintf(stderr, "rank %d: cannot read the id\n", rank);
    return 1;
  }

  CHECK(ncclCommInitRank(&comm, nranks, id, rank));
  send = (float*)malloc(COUNT * sizeof(float));
  recv = (float*)malloc(COUNT * sizeof(float));
  if (send == NULL || recv == NULL) return 1;
  for (i = 0; i < COUNT; ++i) {
    send[i] = (float)((rank + 1) * (i % 17));
    recv[i] = -1.0f;
  }
  CHECK(ncclAllReduce(send, recv, COUNT, ncclFloat, ncclSum, comm, NULL));
  for (i = 0; i < COUNT; ++i) {
    float expected = (float)(nranks * (nranks + 1) / 2 * (i % 17));
    if (recv[i] != expected && errors++ < 5) {
      fprintf(stderr, "rank %d: element %d is %g, expected %g\n", rank, i, recv[i], expected);
    }
  }
  CHECK(ncclCommDestroy(comm));
  free(send);
  free(recv);

  if (rank == 0) {
    Dl_info info;
    int version = 0;
    void* symbol = (void*)ncclAllReduce; /* POSIX allows this conversion for dladdr */
    CHECK(ncclGetVersion(&version));
    if (dladdr(symbol, &info) == 0 || info.dli_fname == NULL) {
      fprintf(stderr, "rank 0: dladdr found no library for ncclAllReduce\n");
      return 1;
    }
    printf("version: %d\n", version);
    printf("library: %s\n", info.dli_fname);
    fflush(stdout);
  }
  return errors == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  int nranks = argc > 1 ? atoi(argv[1]) : 3;
  int pipes[MAX_RANKS][2];
  pid_t pids[MAX_RANKS];
  int r, failed = 0;

  if (nranks < 2 || nranks > MAX_RANKS) {
    fprintf(stderr, "usage: %s [nranks 2..%d]\n", argv[0], MAX_RANKS);
    return 2;
  }
  for (r = 1; r < nranks; ++r) {
    if (pipe(pipes[r]) != 0) {
      perror("pipe");
      return 1;
    }
  }
  fflush(stdout);
  for (r = 0; r < nranks; ++r) {
    pids[r] = fork();
    if (pids[r] < 0) {
      perror("fork");
      return 1;
    }
    if (pids[r] == 0) {
      int code, p;
      /* Keep only this rank's end of the pipes, so a reader sees end-of-file
       * (not a hang) if rank 0 dies before sending the id. */
      for (p = 1; p < nranks; ++p) {
        close(pipes[p][1 - (r == 0)]);
        if (r != 0 && p != r) close(pipes[p][0]);
      }
      code = runRank(r, nranks, pipes);
      fflush(stdout);
      fflush(stderr);
      _exit(code);
    }
  }
  for (r = 1; r < nranks; ++r) {
    close(pipes[r][0]);
    close(pipes[r][1]);
  }
  for (r = 0; r < nranks; ++r) {
    int status = 0;
    if (waitpid(pids[r], &status, 0) != pids[r] || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "rank %d failed (wait status 0x%x)\n", r, status);
      failed = 1;
    }
  }
  if (!failed) printf("all %d ranks passed\n", nranks);
  return failed;
}
