/*
 * Test workload for the perf collector tests: burns CPU on threads and in forked children, on command.
 *
 *   burn THREADS DUTY      start THREADS threads, each busy DUTY percent of the time (5 ms periods)
 *                          until killed; print "ready", then obey stdin lines:
 *   fork N MS              fork N children at once, each burns MS ms of its own CPU time and exits;
 *                          wait for them; print "done"
 *   spawn N                fork N children that burn at DUTY until killed; print "children PID..."
 *   park N                 fork N children that sleep until killed; print "children PID..."
 *   reap                   wait for every child; print "reaped"
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int duty = 100;

static double cpu_seconds(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void spin(double seconds, clockid_t clock) {
  volatile unsigned long x = 0;
  double end = cpu_seconds(clock) + seconds;
  while (cpu_seconds(clock) < end) for (int i = 0; i < 10000; i++) x += i;
}

static void *burn_forever(void *arg) {
  (void)arg;
  for (;;) {
    spin(0.005 * duty / 100.0, CLOCK_THREAD_CPUTIME_ID);
    if (duty < 100) usleep(5000 * (100 - duty) / 100);
  }
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 0;
  duty = argc > 2 ? atoi(argv[2]) : 100;
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (int i = 0; i < threads; i++) {
    pthread_t t;
    pthread_create(&t, NULL, burn_forever, NULL);
  }
  printf("ready\n");
  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    int n = 0, ms = 0;
    if (sscanf(line, "fork %d %d", &n, &ms) == 2) {
      for (int i = 0; i < n; i++) {
        if (fork() == 0) {
          spin(ms / 1000.0, CLOCK_PROCESS_CPUTIME_ID);
          _exit(0);
        }
      }
      while (wait(NULL) > 0) {}
      printf("done\n");
    } else if (sscanf(line, "spawn %d", &n) == 1 || sscanf(line, "park %d", &n) == 1) {
      int park = line[0] == 'p';
      char out[8192] = "children";
      for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
          if (park) for (;;) pause();
          burn_forever(NULL);
        }
        snprintf(out + strlen(out), sizeof out - strlen(out), " %d", pid);
      }
      printf("%s\n", out);
    } else if (strncmp(line, "reap", 4) == 0) {
      while (wait(NULL) > 0) {}
      printf("reaped\n");
    }
  }
  return 0;
}
