/*
 * Benchmark workloads. One binary, exec'd through symlinks so that each process's comm (the
 * kernel takes it from the executed file name) is the symlink's name and processes form groups.
 *
 *   workload hold N T DIR NAME...    fork N processes, the i-th exec'd as DIR/NAME[i % count] with
 *                                    T threads each (sleeping); print "ready" once all threads exist
 *   workload churn RATE MIN_MS MAX_MS DIR NAME...
 *                                    start RATE short processes per second, each living a random
 *                                    MIN..MAX ms (burning ~1 ms CPU, half of them with a second
 *                                    thread), reaped with waitpid so parents' cutime grows
 *   (internal) NAME sleep T FD       a held process: T-1 extra threads, one byte to FD when ready
 *   (internal) NAME short MS THREADS a churn process
 *
 * On SIGTERM the launcher terminates its process group and reaps every child itself (PID 1 of
 * a container may be slow to reap orphans, and zombies hold pids). Every process also dies with
 * its parent (PR_SET_PDEATHSIG), and the benchmark kills the group as a last resort, so nothing
 * outlives a run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREAD_STACK (64 * 1024)

static volatile sig_atomic_t stopping = 0;

static void on_term(int sig) {
  (void)sig;
  stopping = 1;
}

/* no SA_RESTART: a blocking wait() returns EINTR so the loops see `stopping` */
static void catch_term(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
}

static int stop_children(void) {
  signal(SIGTERM, SIG_IGN);
  kill(0, SIGTERM);
  while (wait(NULL) > 0 || errno == EINTR) {
  }
  return 0;
}

static void die_with_parent(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1); /* parent died before prctl */
}

static void *sleeper_thread(void *arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

static pthread_t start_thread(void *(*fn)(void *), const char *name) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, THREAD_STACK);
  pthread_t t;
  int err = pthread_create(&t, &attr, fn, NULL);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    fprintf(stderr, "workload: pthread_create: %s\n", strerror(err));
    exit(1);
  }
  if (name) pthread_setname_np(t, name);
  return t;
}

static int run_sleep(int threads, int ready_fd) {
  for (int i = 1; i < threads; i++) {
    char name[16];
    snprintf(name, sizeof name, "w%d", i % 4);
    start_thread(sleeper_thread, name);
  }
  char one = 1;
  if (write(ready_fd, &one, 1) != 1) return 1;
  close(ready_fd);
  for (;;) pause();
}

static void burn_cpu_ms(double ms) {
  struct timespec a, b;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
  volatile unsigned long x = 0;
  do {
    for (int i = 0; i < 10000; i++) x += (unsigned long)i;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
  } while ((b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6 < ms);
}

static void *short_thread(void *arg) {
  (void)arg;
  burn_cpu_ms(0.5);
  for (;;) pause();
  return NULL;
}

static int run_short(int ms, int threads) {
  if (threads > 1) start_thread(short_thread, "helper");
  burn_cpu_ms(1.0);
  struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&d, NULL);
  return 0;
}

__attribute__((noreturn)) static void exec_as(const char *dir, const char *name, char *const args[]) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  char *argv[8] = {(char *)name};
  for (int i = 0; args[i] && i < 6; i++) argv[i + 1] = args[i];
  execv(path, argv);
  fprintf(stderr, "workload: exec %s: %s\n", path, strerror(errno));
  _exit(127);
}

static int run_hold(int n, int threads, const char *dir, char **names, int count) {
  int fds[2];
  if (pipe(fds) != 0) return 1;
  pid_t self = getpid();
  char tbuf[16], fdbuf[16];
  snprintf(tbuf, sizeof tbuf, "%d", threads);
  snprintf(fdbuf, sizeof fdbuf, "%d", fds[1]);
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      fprintf(stderr, "workload: fork: %s (after %d processes)\n", strerror(errno), i);
      return 1;
    }
    if (pid == 0) {
      die_with_parent(self);
      close(fds[0]);
      char *args[] = {"sleep", tbuf, fdbuf, NULL};
      exec_as(dir, names[i % count], args);
    }
  }
  close(fds[1]);
  char b[4096];
  long got = 0;
  while (got < n) {
    ssize_t r = read(fds[0], b, sizeof b);
    if (r <= 0) {
      fprintf(stderr, "workload: only %ld of %d processes became ready\n", got, n);
      return 1;
    }
    got += r;
  }
  printf("ready\n");
  fflush(stdout);
  while (!stopping) {
    if (wait(NULL) < 0 && errno == ECHILD) pause();
  }
  return stop_children();
}

static int run_churn(int rate, int min_ms, int max_ms, const char *dir, char **names, int count) {
  pid_t self = getpid();
  long period_ns = 1000000000L / rate;
  struct timespec period = {period_ns / 1000000000L, period_ns % 1000000000L};
  srand((unsigned)self);
  printf("ready\n");
  fflush(stdout);
  for (unsigned long i = 0; !stopping; i++) {
    char ms[16], th[4];
    snprintf(ms, sizeof ms, "%d", min_ms + (max_ms > min_ms ? rand() % (max_ms - min_ms) : 0));
    snprintf(th, sizeof th, "%d", (int)(i % 2) + 1);
    pid_t pid = fork();
    if (pid == 0) {
      die_with_parent(self);
      char *args[] = {"short", ms, th, NULL};
      exec_as(dir, names[i % (unsigned long)count], args);
    }
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    nanosleep(&period, NULL);
  }
  return stop_children();
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "sleep") == 0) return run_sleep(atoi(argv[2]), atoi(argv[3]));
  if (argc >= 4 && strcmp(argv[1], "short") == 0) return run_short(atoi(argv[2]), atoi(argv[3]));
  /* the launcher dies with the benchmark */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  catch_term();
  setpgid(0, 0); /* our own group, whoever started us: stop_children() signals it */
  if (argc >= 6 && strcmp(argv[1], "hold") == 0) return run_hold(atoi(argv[2]), atoi(argv[3]), argv[4], argv + 5, argc - 5);
  if (argc >= 7 && strcmp(argv[1], "churn") == 0) {
    int rate = atoi(argv[2]);
    if (rate <= 0) return 2;
    return run_churn(rate, atoi(argv[3]), atoi(argv[4]), argv[5], argv + 6, argc - 6);
  }
  fprintf(stderr, "usage: workload hold N T DIR NAME... | workload churn RATE MIN_MS MAX_MS DIR NAME...\n");
  return 2;
}
