/*
 * The "read floor" of issue 4: what it costs the kernel (and a minimal C loop) to open and read
 * the files an exporter needs, with no parsing, no state, no exposition. Per walk it reads
 * <proc>/<pid>/stat, status and io of every process and, with threads on, <proc>/<pid>/task/<tid>/stat
 * of every thread, each with open/read/close into one reused buffer.
 *
 * It walks once per line read from stdin and answers "<tasks> <wall ns>\n", so the benchmark can
 * drive it like an exporter and measure its CPU from /proc/<pid>/stat the same way.
 *
 *   usage: floor [-threads=0|1] [-procfs DIR]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char buf[64 * 1024];

static void read_file(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return; /* exited meanwhile, or not permitted: still a syscall paid */
  while (read(fd, buf, sizeof buf) > 0) {
  }
  close(fd);
}

static int numeric(const char *s) { return s[0] >= '0' && s[0] <= '9'; }

static long walk(const char *root, int threads) {
  char path[1024];
  long tasks = 0;
  DIR *d = opendir(root);
  if (!d) return -1;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!numeric(e->d_name)) continue;
    snprintf(path, sizeof path, "%s/%s/stat", root, e->d_name);
    read_file(path);
    snprintf(path, sizeof path, "%s/%s/status", root, e->d_name);
    read_file(path);
    snprintf(path, sizeof path, "%s/%s/io", root, e->d_name);
    read_file(path);
    if (!threads) {
      tasks++;
      continue;
    }
    snprintf(path, sizeof path, "%s/%s/task", root, e->d_name);
    DIR *t = opendir(path);
    if (!t) continue;
    struct dirent *te;
    while ((te = readdir(t)) != NULL) {
      if (!numeric(te->d_name)) continue;
      snprintf(path, sizeof path, "%s/%s/task/%s/stat", root, e->d_name, te->d_name);
      read_file(path);
      tasks++;
    }
    closedir(t);
  }
  closedir(d);
  return tasks;
}

int main(int argc, char **argv) {
  int threads = 1;
  const char *root = "/proc";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-threads=0") == 0 || strcmp(argv[i], "-threads=false") == 0) threads = 0;
    else if (strcmp(argv[i], "-threads=1") == 0 || strcmp(argv[i], "-threads=true") == 0) threads = 1;
    else if (strcmp(argv[i], "-procfs") == 0 && i + 1 < argc) root = argv[++i];
    else {
      fprintf(stderr, "usage: floor [-threads=0|1] [-procfs DIR]\n");
      return 2;
    }
  }
  char line[64];
  while (fgets(line, sizeof line, stdin) != NULL) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    long tasks = walk(root, threads);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long ns = (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    printf("%ld %lld\n", tasks, ns);
    fflush(stdout);
  }
  return 0;
}
